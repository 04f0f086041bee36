//! condition: a network's input with instance noise added and a class label appended as one-hot
//! planes (see `shaders/condition.wgsl`); backward hands the feature part of the gradient on.

use super::{GpuTensors, Pass, all, all_mut, expect, run, split, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

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

    fn params(&self) -> ConditionParams {
        let [seed_lo, seed_hi] = split(self.seed);
        let [off_lo, off_hi] = split(self.offset);
        ConditionParams {
            n: u(self.n),
            dim: u(self.dim),
            classes: u(self.classes),
            spatial: u(self.spatial),
            sigma: self.sigma,
            seed_lo,
            seed_hi,
            off_lo,
            off_hi,
        }
    }
}

params! {
    pub struct ConditionParams {
        n: u32, dim: u32, classes: u32, spatial: u32, sigma: f32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32,
    }
}

/// A network's input: x plus instance noise, then one-hot label planes.
pub fn forward<B: Backend>(b: &mut B, s: &Condition, x: &B::T, label: &B::T, out: &B::T) -> Result<()> {
    run(b, &ConditionPass { s: *s, backward: false }, &[x, label], &[out])
}

/// dx = the feature part of dout.
pub fn backward<B: Backend>(b: &mut B, s: &Condition, dout: &B::T, dx: &B::T) -> Result<()> {
    run(b, &ConditionPass { s: *s, backward: true }, &[dout], &[dx])
}

/// Forward reads x, label, writes out; backward reads dout, writes dx.
struct ConditionPass {
    s: Condition,
    backward: bool,
}

impl Pass for ConditionPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let [out] = all(writes);
        if self.backward {
            let [dout] = all(reads);
            self.s.check(out, self.s.n, dout)
        } else {
            let [x, label] = all(reads);
            self.s.check(x, label, out)
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        if self.backward {
            let [dout] = all(reads);
            reference::condition_backward(&self.s, dout, out);
        } else {
            let [x, label] = all(reads);
            reference::condition_forward(&self.s, x, label, out);
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        if self.backward {
            let [dout] = all(reads);
            g.dispatch_items("condition", "backward", &self.s.params(), &[(1, dout), (3, out)], out.len)
        } else {
            let [x, label] = all(reads);
            g.dispatch_items("condition", "forward", &self.s.params(), &[(1, x), (2, label), (3, out)], out.len)
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::condition::Condition;
    use crate::ops::random::reference::{bits, standard_normal};

    /// x [n, dim], label [n] → out [n, dim + classes·spatial]: x plus sigma·N(seed, offset + i), then
    /// one-hot label planes (as condition.wgsl's `forward`).
    pub fn condition_forward(s: &Condition, x: &[f32], label: &[f32], out: &mut [f32]) {
        let row = s.out_dim();
        for i in 0..s.n {
            for j in 0..s.dim {
                let mut v = x[i * s.dim + j];
                if s.sigma != 0.0 {
                    v += s.sigma * standard_normal(bits(s.seed, s.offset, (i * s.dim + j) as u64));
                }
                out[i * row + j] = v;
            }
            if s.classes > 0 {
                let c = (label[i].floor().max(0.0) as usize).min(s.classes - 1);
                for j in s.dim..row {
                    out[i * row + j] = ((j - s.dim) / s.spatial == c) as u8 as f32;
                }
            }
        }
    }

    /// dout [n, dim + classes·spatial] → dx [n, dim].
    pub fn condition_backward(s: &Condition, dout: &[f32], dx: &mut [f32]) {
        let row = s.out_dim();
        for i in 0..s.n {
            dx[i * s.dim..(i + 1) * s.dim].copy_from_slice(&dout[i * row..i * row + s.dim]);
        }
    }
}
