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
    let params = [u(s.n), u(s.channels), u(s.spatial), accumulate as u32, f(1.0)];
    g.dispatch("reduce", "sum_channels", &params, &[(1, x), (2, out)], s.channels)
}
