//! adam: one step over a flat parameter buffer, so a whole network is one dispatch.
//! param, grad, m, v [n].

use super::{GpuTensors, Pass, all, all_mut, run, same_len, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

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
    /// Step `t` of the DCGAN recipe's Adam (Radford et al. 2015: lr 2e-4, β1 0.5) with PyTorch's
    /// β2 and eps and no weight decay.
    pub fn dcgan(t: u64) -> AdamStep {
        AdamStep { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, t }
    }

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

params! {
    pub struct AdamParams {
        n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, bc1: f32, bc2: f32, decoupled: u32,
    }
}

/// Updates param, m and v in place from grad.
pub fn step<B: Backend>(b: &mut B, s: &AdamStep, param: &B::T, grad: &B::T, m: &B::T, v: &B::T) -> Result<()> {
    run(b, s, &[grad], &[param, m, v])
}

/// out = x / (√v̂ + eps), v̂ = v / (1 − β2^t): the scale Adam's step `s` gives each weight, with
/// its second moment `v` held fixed, applied to any vector `x` (a gradient, or an adjoint in the
/// unrolled GAN's backward).
pub fn precondition<B: Backend>(b: &mut B, s: &AdamStep, v: &B::T, x: &B::T, out: &B::T) -> Result<()> {
    run(b, &Precondition(*s), &[x, v], &[out])
}

/// Reads x, v; writes out.
struct Precondition(AdamStep);

impl Pass for Precondition {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([x, v], [out]) = (all(reads), all(writes));
        same_len("adam precondition", ("out", out), ("x", x))?;
        same_len("adam precondition", ("out", out), ("v", v))
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([x, v], [out]) = (all(reads), all_mut(writes));
        reference::precondition(&self.0, v, x, out);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([x, v], [out]) = (all(reads), all(writes));
        let (_, bc2) = self.0.bias_corrections();
        let params = AdamParams { n: u(out.len), eps: self.0.eps, bc2, ..AdamParams::default() };
        g.dispatch_items("adam", "precondition", &params, &[(1, out), (2, x), (4, v)], out.len)
    }
}

/// Reads grad; writes param, m, v.
impl Pass for AdamStep {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([grad], [param, m, v]) = (all(reads), all(writes));
        self.check(param, grad, m, v)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([grad], [param, m, v]) = (all(reads), all_mut(writes));
        reference::adam_step(self, param, grad, m, v);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([grad], [param, m, v]) = (all(reads), all(writes));
        let (bc1, bc2) = self.bias_corrections();
        let params = AdamParams {
            n: u(param.len),
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            bc1,
            bc2,
            decoupled: self.decoupled as u32,
        };
        g.dispatch_items("adam", "step", &params, &[(1, param), (2, grad), (3, m), (4, v)], param.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::adam::AdamStep;

    /// One Adam step, in PyTorch's form: w −= lr/bc1 · m / (√v/√bc2 + eps).
    pub fn adam_step(s: &AdamStep, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (bc1, bc2) = s.bias_corrections();
        for i in 0..param.len() {
            let mut w = param[i];
            let mut g = grad[i];
            if s.decoupled {
                w -= s.lr * s.weight_decay * w;
            } else {
                g += s.weight_decay * w;
            }
            m[i] = s.beta1 * m[i] + (1.0 - s.beta1) * g;
            v[i] = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
            let denom = v[i].sqrt() / bc2.sqrt() + s.eps;
            param[i] = w - (s.lr / bc1) * m[i] / denom;
        }
    }

    /// out = x / (√v/√bc2 + eps)
    pub fn precondition(s: &AdamStep, v: &[f32], x: &[f32], out: &mut [f32]) {
        let (_, bc2) = s.bias_corrections();
        for ((o, &x), &v) in out.iter_mut().zip(x).zip(v) {
            *o = x / (v.sqrt() / bc2.sqrt() + s.eps);
        }
    }
}
