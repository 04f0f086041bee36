//! hinge: per-sample hinge loss max(0, 1 − s·z), s = 2t − 1 (targets as for BCE); backward
//! gives scale · d mean / dz. z, t, loss, dz [n].

use super::{check_loss, f, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

pub(crate) fn forward(g: &mut GpuBackend, z: &GpuTensor, t: &GpuTensor, loss: &GpuTensor) -> Result<()> {
    check_loss("hinge", z.len, t.len, loss.len)?;
    g.dispatch_items("hinge", "forward", &[u(z.len), 0], &[(1, z), (2, t), (3, loss)], z.len)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    z: &GpuTensor,
    t: &GpuTensor,
    dz: &GpuTensor,
    scale: f32,
) -> Result<()> {
    check_loss("hinge", z.len, t.len, dz.len)?;
    g.dispatch_items("hinge", "backward", &[u(z.len), f(scale)], &[(1, z), (2, t), (4, dz)], z.len)
}
