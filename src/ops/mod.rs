//! Our ops: for each, its shape (checked against the tensors it is given, errors naming the op)
//! and the GPU recording of its `shaders/<op>.wgsl` entry points. The CPU reference of the same
//! name is in [`crate::reference`].

pub mod activation;
pub mod adam;
pub mod batch_norm;
pub mod bce_with_logits;
pub mod condition;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod dropout;
pub mod ema;
pub mod gather;
pub mod gemm;
pub mod hinge;
pub mod im2col;
pub mod linear;
pub mod mse;
pub mod random;
pub mod reduce;
pub mod sgd;
pub mod softmax_cross_entropy;
pub mod spectral_norm;
pub mod wgan;

use crate::error::{Error, Result};

/// Checks that a tensor called `what` of op `op` has `dims.iter().product()` elements.
pub(crate) fn expect(op: &'static str, what: &str, got: usize, dims: &[usize]) -> Result<()> {
    let want: usize = dims.iter().product();
    if got == want {
        return Ok(());
    }
    let shape = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
    Err(Error::shape(op, format!("{what} has {got} elements, expected [{shape}] = {want}")))
}

/// Checks that two tensors of an element-wise op have the same length.
pub(crate) fn same_len(op: &'static str, a: (&str, usize), b: (&str, usize)) -> Result<()> {
    if a.1 == b.1 {
        Ok(())
    } else {
        Err(Error::shape(op, format!("{} has {} elements but {} has {}", a.0, a.1, b.0, b.1)))
    }
}

/// Shader parameters are u32 words; sizes always fit since buffers are limited to 4 GiB.
pub(crate) fn u(x: usize) -> u32 {
    u32::try_from(x).expect("size exceeds u32")
}

pub(crate) fn f(x: f32) -> u32 {
    x.to_bits()
}

/// Splits a 64-bit seed or offset into the (lo, hi) words the shaders take.
pub(crate) fn split(x: u64) -> [u32; 2] {
    [x as u32, (x >> 32) as u32]
}

/// Checks that the requested input and weight gradients match their tensors.
pub(crate) fn check_grads<T: crate::backend::Tensor>(
    op: &'static str,
    x: usize,
    w: usize,
    g: crate::backend::Grads<'_, T>,
) -> Result<()> {
    if let Some(dx) = g.dx {
        same_len(op, ("x", x), ("dx", dx.len()))?;
    }
    if let Some(dw) = g.dw {
        same_len(op, ("w", w), ("dw", dw.len()))?;
    }
    Ok(())
}

/// Checks a per-sample loss: logits z, targets t and the output (loss or dz) all of one length.
pub(crate) fn check_loss(op: &'static str, z: usize, t: usize, out: usize) -> Result<()> {
    same_len(op, ("z", z), ("t", t))?;
    same_len(op, ("z", z), ("output", out))
}

/// Records a per-sample loss shader's entry (bce_with_logits, mse, hinge share one layout): z at
/// binding 1, t at 2, and `forward` writing the loss at 3 or `backward` writing dz at 4.
pub(crate) fn record_loss(
    g: &mut crate::gpu::GpuBackend,
    shader: &'static str,
    (z, t): (&crate::gpu::GpuTensor, &crate::gpu::GpuTensor),
    out: &crate::gpu::GpuTensor,
    backward_scale: Option<f32>,
) -> Result<()> {
    check_loss(shader, z.len, t.len, out.len)?;
    let (entry, slot, scale) = match backward_scale {
        None => ("forward", 3, 0),
        Some(s) => ("backward", 4, f(s)),
    };
    g.dispatch_items(shader, entry, &[u(z.len), scale], &[(1, z), (2, t), (slot, out)], z.len)
}

/// The backward pass shared by linear, conv2d and conv_transpose2d: each shader has
/// `backward_input` (dy, w → dx) and `backward_weight` (dy, x → dw += ), and the bias gradient is
/// the per-channel sum of dy. Skips what `grads` does not ask for.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_weighted_backward(
    g: &mut crate::gpu::GpuBackend,
    shader: &'static str,
    params: &[u32],
    x: &crate::gpu::GpuTensor,
    w: &crate::gpu::GpuTensor,
    dy: &crate::gpu::GpuTensor,
    grads: crate::backend::Grads<'_, crate::gpu::GpuTensor>,
    bias_sum: reduce::ChannelSum,
) -> Result<()> {
    if let Some(dx) = grads.dx {
        g.dispatch_items(shader, "backward_input", params, &[(5, dy), (2, w), (6, dx)], x.len)?;
    }
    if let Some(dw) = grads.dw {
        g.dispatch_items(shader, "backward_weight", params, &[(5, dy), (1, x), (7, dw)], w.len)?;
    }
    if let Some(db) = grads.db {
        reduce::sum_channels(g, &bias_sum, dy, db, true)?;
    }
    Ok(())
}
