//! dropout: y = x · mask / (1 − prob) with the mask drawn from (seed, offset); backward applies
//! the same map to dy, so it must be given the same seed and offset as the forward.

use super::{f, same_len, split, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub prob: f32,
    pub seed: u64,
    pub offset: u64,
}

impl Dropout {
    pub fn check(&self, x: usize, y: usize) -> Result<()> {
        if !(0.0..1.0).contains(&self.prob) {
            return Err(Error::shape("dropout", format!("probability {} must be in [0, 1)", self.prob)));
        }
        same_len("dropout", ("x", x), ("y", y))
    }
}

pub(crate) fn apply(g: &mut GpuBackend, s: &Dropout, x: &GpuTensor, y: &GpuTensor) -> Result<()> {
    s.check(x.len, y.len)?;
    let [sl, sh] = split(s.seed);
    let [ol, oh] = split(s.offset);
    g.dispatch_items("dropout", "apply", &[u(x.len), f(s.prob), sl, sh, ol, oh], &[(1, x), (2, y)], x.len)
}
