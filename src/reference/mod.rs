//! The CPU reference of every op: plain loops on slices, generic over the float type so the
//! gradient checks can run in f64. Same names as `shaders/<op>.wgsl` and [`crate::ops`];
//! the same conventions: parameter gradients accumulate (+=), input gradients overwrite.

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
pub mod linear;
pub mod mse;
pub mod random;
pub mod reduce;
pub mod sgd;
pub mod softmax_cross_entropy;
pub mod spectral_norm;
pub mod wgan;

pub use num_traits::Float;

/// The coordinate `o · stride + tap − pad` along an axis of length `size`, or None where it falls
/// outside (in the padding for a convolution's input, off the edge for a transposed one's output).
pub(crate) fn tap(o: usize, tap: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
    (o * stride + tap).checked_sub(pad).filter(|&v| v < size)
}

/// A literal in the generic float type.
pub(crate) fn c<F: Float>(x: f64) -> F {
    F::from(x).expect("representable")
}
