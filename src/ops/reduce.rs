//! reduce: deterministic sums. `sum`: out[0] = alpha · Σx; `sum_squares`: alpha · Σx².
//! `sum_channels`: x [n, channels, spatial] → out [channels], the bias gradient of linear and of
//! both convolutions.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::params::params;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSum {
    pub n: usize,
    pub channels: usize,
    pub spatial: usize,
}

params! {
    pub struct ReduceParams {
        n: u32, channels: u32, spatial: u32, accumulate: u32, alpha: f32,
        // sum_channels: elements per invocation, and whether it writes `out` itself.
        per_run: u32, direct: u32,
        // sum: add x² instead of x.
        square: u32,
    }
}

/// out[0] = alpha · Σ x, in a fixed order.
pub fn sum<B: Backend>(b: &mut B, x: &B::T, out: &B::T, alpha: f32) -> Result<()> {
    run(b, &Sum { alpha, square: false }, &[x], &[out])
}

/// out[0] = alpha · Σ x², in a fixed order (a squared norm).
pub fn sum_squares<B: Backend>(b: &mut B, x: &B::T, out: &B::T, alpha: f32) -> Result<()> {
    run(b, &Sum { alpha, square: true }, &[x], &[out])
}

/// out[c] (+)= Σ over batch and spatial of x [n, c, spatial].
pub fn sum_channels<B: Backend>(b: &mut B, s: &ChannelSum, x: &B::T, out: &B::T, accumulate: bool) -> Result<()> {
    run(b, &ChannelSumPass { s: *s, accumulate }, &[x], &[out])
}

/// Reads x; writes out [1].
struct Sum {
    alpha: f32,
    square: bool,
}

impl Pass for Sum {
    fn check(&self, _: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        expect("sum", "out", all::<_, 1>(writes)[0], &[1])
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([x], [out]) = (all(reads), all_mut(writes));
        out[0] = if self.square { reference::sum_squares(x, self.alpha) } else { reference::sum(x, self.alpha) };
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([x], [out]) = (all(reads), all(writes));
        g.dispatch(
            "reduce",
            "sum",
            &ReduceParams { n: u(x.len), alpha: self.alpha, square: self.square as u32, ..ReduceParams::default() },
            &[(1, x), (2, out)],
            1,
        )
    }
}

/// Reads x; writes out [channels].
struct ChannelSumPass {
    s: ChannelSum,
    accumulate: bool,
}

impl Pass for ChannelSumPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([x], [out], s) = (all(reads), all(writes), &self.s);
        expect("sum_channels", "x", x, &[s.n, s.channels, s.spatial])?;
        expect("sum_channels", "out", out, &[s.channels])
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([x], [out], s) = (all(reads), all_mut(writes), &self.s);
        reference::sum_channels(s.n, s.channels, s.spatial, x, out, self.accumulate);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([x], [out]) = (all(reads), all(writes));
        record_sum_channels(g, &self.s, x, out, self.accumulate)
    }
}

pub(crate) fn record_sum_channels(
    g: &mut GpuBackend,
    s: &ChannelSum,
    x: &GpuTensor,
    out: &GpuTensor,
    accumulate: bool,
) -> Result<()> {
    let per_channel = s.n * s.spatial;
    // Long enough runs to keep the second pass short, enough of them to fill a GPU.
    let per_run = per_channel.div_ceil(64).clamp(256, 4096).min(per_channel.max(1));
    let runs = per_channel.div_ceil(per_run).max(1);
    let params = |direct: bool| ReduceParams {
        n: u(s.n),
        channels: u(s.channels),
        spatial: u(s.spatial),
        accumulate: accumulate as u32,
        alpha: 1.0,
        per_run: u(per_run),
        direct: direct as u32,
        square: 0,
    };
    if runs == 1 {
        return g.dispatch_items("reduce", "sum_channels", &params(true), &[(1, x), (2, out)], s.channels);
    }
    let partial = g.scratch("reduce.partial", runs * s.channels)?;
    g.dispatch_items("reduce", "sum_channels", &params(false), &[(1, x), (2, &partial)], runs * s.channels)?;
    let sum_params = ReduceParams {
        n: u(runs),
        channels: u(s.channels),
        spatial: 1,
        accumulate: accumulate as u32,
        alpha: 1.0,
        ..ReduceParams::default()
    };
    g.dispatch_items("reduce", "sum_runs", &sum_params, &[(1, &partial), (2, out)], s.channels)
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::Float;

    /// alpha · Σ x
    pub fn sum<F: Float>(x: &[F], alpha: F) -> F {
        x.iter().fold(F::zero(), |a, &v| a + v) * alpha
    }

    /// alpha · Σ x²
    pub fn sum_squares<F: Float>(x: &[F], alpha: F) -> F {
        x.iter().fold(F::zero(), |a, &v| a + v * v) * alpha
    }

    /// out [channels] (+)= Σ over batch and spatial of x [n, channels, spatial]
    pub fn sum_channels<F: Float>(n: usize, channels: usize, spatial: usize, x: &[F], out: &mut [F], accumulate: bool) {
        for (c, o) in out.iter_mut().enumerate().take(channels) {
            let mut acc = F::zero();
            for b in 0..n {
                let base = (b * channels + c) * spatial;
                acc = x[base..base + spatial].iter().fold(acc, |a, &v| a + v);
            }
            *o = if accumulate { *o + acc } else { acc };
        }
    }
}
