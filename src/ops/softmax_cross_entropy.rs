//! softmax_cross_entropy: a k-class classifier's per-sample loss on logits, its gradient, and
//! the class probabilities (see `shaders/softmax_cross_entropy.wgsl`).

use super::{expect, f, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

/// n samples of k classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxCrossEntropy {
    pub n: usize,
    pub k: usize,
}

impl SoftmaxCrossEntropy {
    /// Checks logits [n, k], labels [n] and an output of `out_dims`.
    pub fn check(&self, z: usize, label: usize, out: usize, out_dims: &[usize]) -> Result<()> {
        if self.k == 0 {
            return Err(Error::shape("softmax_cross_entropy", "needs at least one class"));
        }
        expect("softmax_cross_entropy", "z", z, &[self.n, self.k])?;
        expect("softmax_cross_entropy", "label", label, &[self.n])?;
        expect("softmax_cross_entropy", "output", out, out_dims)
    }
}

pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &SoftmaxCrossEntropy,
    z: &GpuTensor,
    label: &GpuTensor,
    loss: &GpuTensor,
) -> Result<()> {
    s.check(z.len, label.len, loss.len, &[s.n])?;
    let params = [u(s.n), u(s.k), f(0.0)];
    g.dispatch_items("softmax_cross_entropy", "forward", &params, &[(1, z), (2, label), (3, loss)], s.n)
}

pub(crate) fn probs(g: &mut GpuBackend, s: &SoftmaxCrossEntropy, z: &GpuTensor, p: &GpuTensor) -> Result<()> {
    s.check(z.len, s.n, p.len, &[s.n, s.k])?;
    let params = [u(s.n), u(s.k), f(0.0)];
    g.dispatch_items("softmax_cross_entropy", "probs", &params, &[(1, z), (3, p)], s.n)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &SoftmaxCrossEntropy,
    z: &GpuTensor,
    label: &GpuTensor,
    dz: &GpuTensor,
    scale: f32,
) -> Result<()> {
    s.check(z.len, label.len, dz.len, &[s.n, s.k])?;
    let params = [u(s.n), u(s.k), f(scale)];
    g.dispatch_items("softmax_cross_entropy", "backward", &params, &[(1, z), (2, label), (3, dz)], s.n)
}
