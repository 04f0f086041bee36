//! dropout: y = x · mask / (1 − prob) with the mask drawn from (seed, offset); backward applies
//! the same map to dy, so it must be given the same seed and offset as the forward.

use super::{GpuTensors, Pass, all, all_mut, run, same_len, split, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

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

params! {
    pub struct DropoutParams { n: u32, prob: f32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32 }
}

/// Dropout's forward on x, and its backward on dy with the same `s`.
pub fn apply<B: Backend>(b: &mut B, s: &Dropout, x: &B::T, y: &B::T) -> Result<()> {
    run(b, s, &[x], &[y])
}

/// Reads x; writes y.
impl Pass for Dropout {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([x], [y]) = (all(reads), all(writes));
        self.check(x, y)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([x], [y]) = (all(reads), all_mut(writes));
        reference::dropout(self, x, y);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([x], [y]) = (all(reads), all(writes));
        let ([seed_lo, seed_hi], [off_lo, off_hi]) = (split(self.seed), split(self.offset));
        let params = DropoutParams { n: u(x.len), prob: self.prob, seed_lo, seed_hi, off_lo, off_hi };
        g.dispatch_items("dropout", "apply", &params, &[(1, x), (2, y)], x.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::dropout::Dropout;
    use crate::ops::random::reference::{bits, unit_float};
    use crate::reference::Float;

    /// y = x · mask / (1 − prob), mask from (seed, offset): forward on x, backward on dy.
    pub fn dropout<F: Float>(s: &Dropout, x: &[F], y: &mut [F]) {
        let scale = F::one() / (F::one() - F::from(s.prob).unwrap());
        for (i, (y, &v)) in y.iter_mut().zip(x).enumerate() {
            let keep = unit_float(bits(s.seed, s.offset, i as u64)[0]) >= s.prob;
            *y = if keep { v * scale } else { F::zero() };
        }
    }
}
