//! reduce: deterministic sums. `sum`: out[0] = alpha · Σx. `sum_channels`: x [n, channels,
//! spatial] → out [channels], the bias gradient of linear and of both convolutions.

use super::{expect, f, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSum {
    pub n: usize,
    pub channels: usize,
    pub spatial: usize,
}

pub(crate) fn sum(g: &mut GpuBackend, x: &GpuTensor, out: &GpuTensor, alpha: f32) -> Result<()> {
    expect("sum", "out", out.len, &[1])?;
    g.dispatch("reduce", "sum", &[u(x.len), 0, 0, 0, f(alpha)], &[(1, x), (2, out)], 1)
}

pub(crate) fn sum_channels(
    g: &mut GpuBackend,
    s: &ChannelSum,
    x: &GpuTensor,
    out: &GpuTensor,
    accumulate: bool,
) -> Result<()> {
    expect("sum_channels", "x", x.len, &[s.n, s.channels, s.spatial])?;
    expect("sum_channels", "out", out.len, &[s.channels])?;
    let per_channel = s.n * s.spatial;
    // Long enough runs to keep the second pass short, enough of them to fill a GPU.
    let per_run = per_channel.div_ceil(64).clamp(256, 4096).min(per_channel.max(1));
    let runs = per_channel.div_ceil(per_run).max(1);
    let params = |direct: bool| {
        [u(s.n), u(s.channels), u(s.spatial), accumulate as u32, f(1.0), u(per_run), direct as u32]
    };
    if runs == 1 {
        return g.dispatch_items("reduce", "sum_channels", &params(true), &[(1, x), (2, out)], s.channels);
    }
    let partial = g.scratch("reduce.partial", runs * s.channels)?;
    g.dispatch_items("reduce", "sum_channels", &params(false), &[(1, x), (2, &partial)], runs * s.channels)?;
    let sum_params = [u(runs), u(s.channels), 1, accumulate as u32, f(1.0), 0, 0];
    g.dispatch_items("reduce", "sum_runs", &sum_params, &[(1, &partial), (2, out)], s.channels)
}
