//! sgd: one step of SGD with momentum over a flat parameter buffer.
//! param, grad, momentum buffer [n].

use super::{f, same_len, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

impl SgdStep {
    pub fn check(&self, param: usize, grad: usize, buf: usize) -> Result<()> {
        same_len("sgd", ("param", param), ("grad", grad))?;
        same_len("sgd", ("param", param), ("buf", buf))
    }
}

pub(crate) fn step(
    g: &mut GpuBackend,
    s: &SgdStep,
    param: &GpuTensor,
    grad: &GpuTensor,
    buf: &GpuTensor,
) -> Result<()> {
    s.check(param.len, grad.len, buf.len)?;
    let params = [u(param.len), f(s.lr), f(s.momentum), f(s.weight_decay)];
    g.dispatch_items("sgd", "step", &params, &[(1, param), (2, grad), (3, buf)], param.len)
}
