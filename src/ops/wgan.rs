//! wgan: the critic loss gradient dz = scale / n, and weight clipping w = clamp(w, −c, c).

use super::{GpuTensors, Pass, all, all_mut, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

params! {
    pub struct WganParams { n: u32, a: f32 }
}

/// dz = scale / n: the gradient of scale · mean(z), the Wasserstein critic's loss.
pub fn critic_backward<B: Backend>(b: &mut B, dz: &B::T, scale: f32) -> Result<()> {
    run(b, &WganPass::CriticBackward { scale }, &[], &[dz])
}

/// w = clamp(w, −c, c).
pub fn clip<B: Backend>(b: &mut B, w: &B::T, c: f32) -> Result<()> {
    run(b, &WganPass::Clip { c }, &[], &[w])
}

pub fn check_clip(c: f32) -> Result<()> {
    if c > 0.0 { Ok(()) } else { Err(Error::shape("wgan", format!("clip value {c} must be positive"))) }
}

/// Both write their one tensor (dz, or w in place).
enum WganPass {
    CriticBackward { scale: f32 },
    Clip { c: f32 },
}

impl Pass for WganPass {
    fn check(&self, _: &[Option<usize>], _: &[Option<usize>]) -> Result<()> {
        match *self {
            WganPass::CriticBackward { .. } => Ok(()),
            WganPass::Clip { c } => check_clip(c),
        }
    }
    fn reference(&self, _: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        match *self {
            WganPass::CriticBackward { scale } => reference::wgan_critic_backward(out, scale),
            WganPass::Clip { c } => reference::wgan_clip(out, c),
        }
    }
    fn record(&self, g: &mut GpuBackend, _: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        let (entry, x) = match *self {
            WganPass::CriticBackward { scale } => ("critic_backward", scale),
            WganPass::Clip { c } => ("clip", c),
        };
        g.dispatch_items("wgan", entry, &WganParams { n: u(out.len), a: x }, &[(1, out)], out.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    /// dz[i] = scale / n
    pub fn wgan_critic_backward(dz: &mut [f32], scale: f32) {
        let n = dz.len() as f32;
        dz.fill(scale / n);
    }

    /// w = clamp(w, −c, c)
    pub fn wgan_clip(w: &mut [f32], c: f32) {
        for v in w {
            *v = v.clamp(-c, c);
        }
    }
}
