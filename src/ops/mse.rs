//! mse: per-sample (z − t)², the LSGAN loss; backward gives scale · d mean / dz.

use super::{check_loss, f, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

pub(crate) fn forward(g: &mut GpuBackend, z: &GpuTensor, t: &GpuTensor, loss: &GpuTensor) -> Result<()> {
    check_loss("mse", z.len, t.len, loss.len)?;
    g.dispatch_items("mse", "forward", &[u(z.len), 0], &[(1, z), (2, t), (3, loss)], z.len)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    z: &GpuTensor,
    t: &GpuTensor,
    dz: &GpuTensor,
    scale: f32,
) -> Result<()> {
    check_loss("mse", z.len, t.len, dz.len)?;
    g.dispatch_items("mse", "backward", &[u(z.len), f(scale)], &[(1, z), (2, t), (4, dz)], z.len)
}
