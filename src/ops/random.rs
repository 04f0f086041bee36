//! random: counter-based normal and uniform samplers on the GPU. Element i of a draw is a
//! function of (seed, offset + i) alone, so a seed and offset reproduce it anywhere.

use super::{f, split, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Normal { mean: f32, std: f32 },
    Uniform { low: f32, high: f32 },
}

pub(crate) fn fill(
    g: &mut GpuBackend,
    d: Distribution,
    seed: u64,
    offset: u64,
    out: &GpuTensor,
) -> Result<()> {
    let [sl, sh] = split(seed);
    let [ol, oh] = split(offset);
    let (entry, a, b) = match d {
        Distribution::Normal { mean, std } => ("fill_normal", mean, std),
        Distribution::Uniform { low, high } => ("fill_uniform", low, high),
    };
    g.dispatch_items("random", entry, &[u(out.len), sl, sh, ol, oh, f(a), f(b)], &[(1, out)], out.len)
}
