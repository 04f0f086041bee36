//! condition: a network's input with instance noise added and a class label appended as one-hot
//! planes (see `shaders/condition.wgsl`); backward hands the feature part of the gradient on.

use super::{expect, f, split, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    pub n: usize,
    /// Features per sample of x.
    pub dim: usize,
    /// One-hot planes appended (0: none, noise only).
    pub classes: usize,
    /// Positions each plane covers: height·width for a conv net, 1 for an MLP.
    pub spatial: usize,
    /// Standard deviation of the Gaussian noise added to x (0: none).
    pub sigma: f32,
    pub seed: u64,
    pub offset: u64,
}

impl Condition {
    /// Features per sample of the output.
    pub fn out_dim(&self) -> usize {
        self.dim + self.classes * self.spatial
    }

    pub fn check(&self, x: usize, label: usize, out: usize) -> Result<()> {
        if self.classes > 0 && self.spatial == 0 {
            return Err(Error::shape("condition", "label planes need a spatial size of at least 1"));
        }
        expect("condition", "x", x, &[self.n, self.dim])?;
        if self.classes > 0 {
            expect("condition", "label", label, &[self.n])?;
        }
        expect("condition", "out", out, &[self.n, self.out_dim()])
    }

    fn params(&self) -> [u32; 9] {
        let [sl, sh] = split(self.seed);
        let [ol, oh] = split(self.offset);
        [u(self.n), u(self.dim), u(self.classes), u(self.spatial), f(self.sigma), sl, sh, ol, oh]
    }
}

pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &Condition,
    x: &GpuTensor,
    label: &GpuTensor,
    out: &GpuTensor,
) -> Result<()> {
    s.check(x.len, label.len, out.len)?;
    g.dispatch_items("condition", "forward", &s.params(), &[(1, x), (2, label), (3, out)], out.len)
}

pub(crate) fn backward(g: &mut GpuBackend, s: &Condition, dout: &GpuTensor, dx: &GpuTensor) -> Result<()> {
    s.check(dx.len, s.n, dout.len)?;
    g.dispatch_items("condition", "backward", &s.params(), &[(1, dout), (3, dx)], dx.len)
}
