//! mse: per-sample (z − t)², the LSGAN loss; backward gives scale · d mean / dz.

use super::record_loss;
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

pub(crate) fn forward(g: &mut GpuBackend, z: &GpuTensor, t: &GpuTensor, loss: &GpuTensor) -> Result<()> {
    record_loss(g, "mse", (z, t), loss, None)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    z: &GpuTensor,
    t: &GpuTensor,
    dz: &GpuTensor,
    scale: f32,
) -> Result<()> {
    record_loss(g, "mse", (z, t), dz, Some(scale))
}
