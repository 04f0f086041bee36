//! ema: ema = decay · ema + (1 − decay) · param over a flat buffer (the generator's moving
//! average, Karras et al. 2018). param, ema [n].

use super::{GpuTensors, Pass, all, all_mut, run, same_len, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmaStep {
    pub decay: f32,
}

impl EmaStep {
    /// The decay after `updates` updates: `decay`, ramped up as (1 + t) / (10 + t) early on
    /// (TensorFlow's ExponentialMovingAverage with num_updates), so the average forgets the
    /// random initial weights within the first few hundred steps instead of thousands.
    pub fn warmed_up(decay: f32, updates: u64) -> Self {
        let t = updates as f64;
        EmaStep { decay: (decay as f64).min((1.0 + t) / (10.0 + t)) as f32 }
    }

    pub fn check(&self, param: usize, ema: usize) -> Result<()> {
        if !(0.0..1.0).contains(&self.decay) {
            return Err(Error::shape("ema", format!("decay {} must be in [0, 1)", self.decay)));
        }
        same_len("ema", ("param", param), ("ema", ema))
    }
}

params! {
    pub struct EmaParams { n: u32, decay: f32 }
}

/// ema = decay · ema + (1 − decay) · param.
pub fn update<B: Backend>(b: &mut B, s: &EmaStep, param: &B::T, ema: &B::T) -> Result<()> {
    run(b, s, &[param], &[ema])
}

/// Reads param; writes ema.
impl Pass for EmaStep {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([param], [ema]) = (all(reads), all(writes));
        self.check(param, ema)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([param], [ema]) = (all(reads), all_mut(writes));
        reference::ema_update(self.decay, param, ema);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([param], [ema]) = (all(reads), all(writes));
        g.dispatch_items(
            "ema",
            "update",
            &EmaParams { n: u(param.len), decay: self.decay },
            &[(1, param), (2, ema)],
            param.len,
        )
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::Float;

    /// ema[i] = decay · ema[i] + (1 − decay) · param[i]
    pub fn ema_update<F: Float>(decay: F, param: &[F], ema: &mut [F]) {
        for (e, &p) in ema.iter_mut().zip(param) {
            *e = decay * *e + (F::one() - decay) * p;
        }
    }
}
