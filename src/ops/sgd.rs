//! sgd: one step of SGD with momentum over a flat parameter buffer.
//! param, grad, momentum buffer [n].

use super::{GpuTensors, Pass, all, all_mut, run, same_len, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

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

params! {
    pub struct SgdParams { n: u32, lr: f32, momentum: f32, weight_decay: f32 }
}

/// Updates param and the momentum buffer in place from grad.
pub fn step<B: Backend>(b: &mut B, s: &SgdStep, param: &B::T, grad: &B::T, buf: &B::T) -> Result<()> {
    run(b, s, &[grad], &[param, buf])
}

/// Reads grad; writes param, buf.
impl Pass for SgdStep {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([grad], [param, buf]) = (all(reads), all(writes));
        self.check(param, grad, buf)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([grad], [param, buf]) = (all(reads), all_mut(writes));
        reference::sgd_step(self, param, grad, buf);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([grad], [param, buf]) = (all(reads), all(writes));
        let params =
            SgdParams { n: u(param.len), lr: self.lr, momentum: self.momentum, weight_decay: self.weight_decay };
        g.dispatch_items("sgd", "step", &params, &[(1, param), (2, grad), (3, buf)], param.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::sgd::SgdStep;

    /// One SGD step with momentum (torch.optim.SGD, no dampening): buf = μ·buf + g; w −= lr·buf.
    pub fn sgd_step(s: &SgdStep, param: &mut [f32], grad: &[f32], buf: &mut [f32]) {
        for i in 0..param.len() {
            let g = grad[i] + s.weight_decay * param[i];
            buf[i] = s.momentum * buf[i] + g;
            param[i] -= s.lr * buf[i];
        }
    }
}
