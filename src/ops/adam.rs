//! adam: one step over a flat parameter buffer, so a whole network is one dispatch.
//! param, grad, m, v [n].

use super::{f, same_len, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// AdamW's decoupled decay instead of L2 added to the gradient.
    pub decoupled: bool,
    /// The step number, from 1; gives the bias corrections.
    pub t: u64,
}

impl AdamStep {
    pub fn check(&self, param: usize, grad: usize, m: usize, v: usize) -> Result<()> {
        same_len("adam", ("param", param), ("grad", grad))?;
        same_len("adam", ("param", param), ("m", m))?;
        same_len("adam", ("param", param), ("v", v))
    }

    /// (1 − β1^t, 1 − β2^t), computed in f64 so late steps do not lose them to rounding.
    pub fn bias_corrections(&self) -> (f32, f32) {
        let t = self.t.max(1) as f64;
        ((1.0 - (self.beta1 as f64).powf(t)) as f32, (1.0 - (self.beta2 as f64).powf(t)) as f32)
    }
}

pub(crate) fn step(
    g: &mut GpuBackend,
    s: &AdamStep,
    param: &GpuTensor,
    grad: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
) -> Result<()> {
    s.check(param.len, grad.len, m.len, v.len)?;
    let (bc1, bc2) = s.bias_corrections();
    let params = [
        u(param.len),
        f(s.lr),
        f(s.beta1),
        f(s.beta2),
        f(s.eps),
        f(s.weight_decay),
        f(bc1),
        f(bc2),
        s.decoupled as u32,
    ];
    g.dispatch_items("adam", "step", &params, &[(1, param), (2, grad), (3, m), (4, v)], param.len)
}
