//! ema: ema = decay · ema + (1 − decay) · param over a flat buffer (the generator's moving
//! average, Karras et al. 2018). param, ema [n].

use super::{f, same_len, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

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

pub(crate) fn update(g: &mut GpuBackend, s: &EmaStep, param: &GpuTensor, ema: &GpuTensor) -> Result<()> {
    s.check(param.len, ema.len)?;
    g.dispatch_items("ema", "update", &[u(param.len), f(s.decay)], &[(1, param), (2, ema)], param.len)
}
