//! wgan: the critic loss gradient dz = scale / n, and weight clipping w = clamp(w, −c, c).

use super::{f, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

pub(crate) fn critic_backward(g: &mut GpuBackend, dz: &GpuTensor, scale: f32) -> Result<()> {
    g.dispatch_items("wgan", "critic_backward", &[u(dz.len), f(scale)], &[(1, dz)], dz.len)
}

pub fn check_clip(c: f32) -> Result<()> {
    if c > 0.0 { Ok(()) } else { Err(Error::shape("wgan", format!("clip value {c} must be positive"))) }
}

pub(crate) fn clip(g: &mut GpuBackend, w: &GpuTensor, c: f32) -> Result<()> {
    check_clip(c)?;
    g.dispatch_items("wgan", "clip", &[u(w.len), f(c)], &[(1, w)], w.len)
}
