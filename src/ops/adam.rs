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

/// param −= lr · Δ(grad): the step Adam `s` takes from moments `m`, `v` (step `s.t` being the
/// next), without keeping the moments it updates. The unrolled GAN's look-ahead: each step is
/// the one Adam would take from where the kept steps left it, and its derivative with respect to
/// the gradient is element-wise ([`held_slope`]).
pub fn held_step<B: Backend>(b: &mut B, s: &AdamStep, (m, v): (&B::T, &B::T), grad: &B::T, param: &B::T) -> Result<()> {
    run(b, &Held { s: *s, slope: false }, &[grad, m, v], &[param])
}

/// out = x · dΔ/dg at `grad`, element by element: the derivative of [`held_step`]'s Δ (without
/// lr) applied to `x`.
pub fn held_slope<B: Backend>(
    b: &mut B,
    s: &AdamStep,
    (m, v): (&B::T, &B::T),
    grad: &B::T,
    x: &B::T,
    out: &B::T,
) -> Result<()> {
    run(b, &Held { s: *s, slope: true }, &[grad, m, v, x], &[out])
}

/// held_step: reads grad, m, v; writes param. held_slope: reads grad, m, v, x; writes out.
struct Held {
    s: AdamStep,
    slope: bool,
}

impl Pass for Held {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let out = all::<_, 1>(writes)[0];
        for (name, len) in ["grad", "m", "v", "x"].into_iter().zip(reads) {
            same_len("adam held step", ("param", out), (name, len.unwrap_or(0)))?;
        }
        Ok(())
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        match reads {
            [Some(g), Some(m), Some(v)] => reference::held_step(&self.s, m, v, g, out),
            [Some(g), Some(m), Some(v), Some(x)] => reference::held_slope(&self.s, m, v, g, x, out),
            _ => unreachable!("held_step and held_slope give their tensors"),
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        let (bc1, bc2) = self.s.bias_corrections();
        let params = AdamParams {
            n: u(out.len),
            lr: self.s.lr,
            beta1: self.s.beta1,
            beta2: self.s.beta2,
            eps: self.s.eps,
            bc1,
            bc2,
            ..AdamParams::default()
        };
        if self.slope {
            let [grad, m, v, x] = all(reads);
            let bind = [(1, out), (2, grad), (3, m), (4, v), (5, x)];
            g.dispatch_items("adam", "held_slope", &params, &bind, out.len)
        } else {
            let [grad, m, v] = all(reads);
            g.dispatch_items("adam", "held_step", &params, &[(1, out), (2, grad), (3, m), (4, v)], out.len)
        }
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

    /// Adam's step from held moments, without lr, and its derivative in g.
    fn held(s: &AdamStep, m: f32, v: f32, g: f32) -> (f32, f32) {
        let (bc1, bc2) = s.bias_corrections();
        let mi = s.beta1 * m + (1.0 - s.beta1) * g;
        let vi = s.beta2 * v + (1.0 - s.beta2) * g * g;
        let root = (vi / bc2).sqrt();
        let denom = root + s.eps;
        let ds = if root > 0.0 { (1.0 - s.beta2) * g / (bc2 * root) } else { 0.0 };
        (mi / bc1 / denom, ((1.0 - s.beta1) * denom - mi * ds) / (bc1 * denom * denom))
    }

    /// param −= lr · Δ(g)
    pub fn held_step(s: &AdamStep, m: &[f32], v: &[f32], grad: &[f32], param: &mut [f32]) {
        for i in 0..param.len() {
            param[i] -= s.lr * held(s, m[i], v[i], grad[i]).0;
        }
    }

    /// out = x · dΔ/dg
    pub fn held_slope(s: &AdamStep, m: &[f32], v: &[f32], grad: &[f32], x: &[f32], out: &mut [f32]) {
        for i in 0..out.len() {
            out[i] = x[i] * held(s, m[i], v[i], grad[i]).1;
        }
    }
}
