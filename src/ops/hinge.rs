//! hinge: per-sample hinge loss max(0, 1 − s·z), s = 2t − 1 (targets as for BCE); backward
//! gives scale · d mean / dz. z, t, loss, dz [n].

use super::record_loss;
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

pub(crate) fn forward(g: &mut GpuBackend, z: &GpuTensor, t: &GpuTensor, loss: &GpuTensor) -> Result<()> {
    record_loss(g, "hinge", (z, t), loss, None)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    z: &GpuTensor,
    t: &GpuTensor,
    dz: &GpuTensor,
    scale: f32,
) -> Result<()> {
    record_loss(g, "hinge", (z, t), dz, Some(scale))
}
