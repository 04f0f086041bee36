//! One small trait over our ops, implemented by the GPU ([`crate::gpu::GpuBackend`]) and by the
//! CPU reference ([`crate::cpu::CpuBackend`]), so models and the training loop are written once
//! and a whole training step can be compared GPU against CPU.
//!
//! Conventions (llm.c's): parameter gradients accumulate (`+=`, so a zero-grad is one clear of
//! the flat gradient buffer), input gradients overwrite. GPU calls record work; `read` and
//! `flush` submit it.

use crate::error::Result;
use crate::nn::WeightedOp;
use crate::ops::activation::Activation;
use crate::ops::adam::AdamStep;
use crate::ops::batch_norm::{BatchNorm, BatchNormState};
use crate::ops::condition::Condition;
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::dropout::Dropout;
use crate::ops::ema::EmaStep;
use crate::ops::gather::Gather;
use crate::ops::gemm::Gemm;
use crate::ops::linear::Linear;
use crate::ops::random::Distribution;
use crate::ops::reduce::ChannelSum;
use crate::ops::sgd::SgdStep;
use crate::ops::softmax_cross_entropy::SoftmaxCrossEntropy;
use crate::ops::spectral_norm::{SpectralNorm, SpectralState};

/// A 1-D range of f32 in a backend's memory.
pub trait Tensor: Clone + std::fmt::Debug {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A view of `len` elements from `start`, sharing the same memory.
    fn slice(&self, start: usize, len: usize) -> Self;
}

/// Which gradients a backward pass computes; `None` skips that kernel.
pub struct Grads<'a, T> {
    pub dx: Option<&'a T>,
    pub dw: Option<&'a T>,
    pub db: Option<&'a T>,
}

impl<T> Clone for Grads<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Grads<'_, T> {}

pub trait Backend {
    type T: Tensor;

    /// Adapter or device name, for logs and bench headers.
    fn describe(&self) -> String;

    /// A zeroed tensor of `len` f32.
    fn alloc(&mut self, len: usize) -> Result<Self::T>;
    fn upload(&mut self, data: &[f32]) -> Result<Self::T> {
        let t = self.alloc(data.len())?;
        self.write(&t, data)?;
        Ok(t)
    }
    fn write(&mut self, t: &Self::T, data: &[f32]) -> Result<()>;
    /// Waits for all recorded work, then copies the tensor out.
    fn read(&mut self, t: &Self::T) -> Result<Vec<f32>>;
    fn zero(&mut self, t: &Self::T) -> Result<()>;
    fn copy(&mut self, src: &Self::T, dst: &Self::T) -> Result<()>;
    /// Submits the recorded work without waiting for it.
    fn flush(&mut self) -> Result<()>;

    /// C (+)= A·B (+ bias) through arbitrary strides.
    fn gemm(&mut self, s: &Gemm, a: &Self::T, b: &Self::T, bias: Option<&Self::T>, c: &Self::T)
    -> Result<()>;

    fn linear_forward(
        &mut self,
        s: &Linear,
        x: &Self::T,
        w: &Self::T,
        b: Option<&Self::T>,
        y: &Self::T,
    ) -> Result<()>;
    fn linear_backward(
        &mut self,
        s: &Linear,
        x: &Self::T,
        w: &Self::T,
        dy: &Self::T,
        g: Grads<'_, Self::T>,
    ) -> Result<()>;

    fn conv2d_forward(
        &mut self,
        s: &Conv2d,
        x: &Self::T,
        w: &Self::T,
        b: Option<&Self::T>,
        y: &Self::T,
    ) -> Result<()>;
    fn conv2d_backward(
        &mut self,
        s: &Conv2d,
        x: &Self::T,
        w: &Self::T,
        dy: &Self::T,
        g: Grads<'_, Self::T>,
    ) -> Result<()>;

    fn conv_transpose2d_forward(
        &mut self,
        s: &ConvTranspose2d,
        x: &Self::T,
        w: &Self::T,
        b: Option<&Self::T>,
        y: &Self::T,
    ) -> Result<()>;
    fn conv_transpose2d_backward(
        &mut self,
        s: &ConvTranspose2d,
        x: &Self::T,
        w: &Self::T,
        dy: &Self::T,
        g: Grads<'_, Self::T>,
    ) -> Result<()>;

    fn activation_forward(&mut self, a: Activation, x: &Self::T, y: &Self::T) -> Result<()>;
    fn activation_backward(&mut self, a: Activation, y: &Self::T, dy: &Self::T, dx: &Self::T) -> Result<()>;

    /// A weighted layer's forward followed by `act`, into `y`. The GPU fuses the activation into
    /// the layer's stores (one pass over y instead of three); this default, the CPU reference's,
    /// runs the two ops through `pre`, which the GPU leaves alone.
    fn weighted_act_forward(
        &mut self,
        op: &WeightedOp,
        (x, w, b): (&Self::T, &Self::T, Option<&Self::T>),
        act: Activation,
        pre: &Self::T,
        y: &Self::T,
    ) -> Result<()> {
        match op {
            WeightedOp::Linear(s) => self.linear_forward(s, x, w, b, pre)?,
            WeightedOp::Conv2d(s) => self.conv2d_forward(s, x, w, b, pre)?,
            WeightedOp::ConvTranspose2d(s) => self.conv_transpose2d_forward(s, x, w, b, pre)?,
        }
        self.activation_forward(act, pre, y)
    }

    /// Per-sample losses; `sum` with alpha 1/n gives the mean.
    fn bce_with_logits_forward(&mut self, z: &Self::T, t: &Self::T, loss: &Self::T) -> Result<()>;
    /// dz = scale · d mean(loss) / dz.
    fn bce_with_logits_backward(&mut self, z: &Self::T, t: &Self::T, dz: &Self::T, scale: f32) -> Result<()>;
    /// Per-sample softmax cross-entropy of logits [n, k] against class labels [n].
    fn softmax_cross_entropy_forward(
        &mut self,
        s: &SoftmaxCrossEntropy,
        z: &Self::T,
        label: &Self::T,
        loss: &Self::T,
    ) -> Result<()>;
    /// dz = scale · d mean(loss) / dz.
    fn softmax_cross_entropy_backward(
        &mut self,
        s: &SoftmaxCrossEntropy,
        z: &Self::T,
        label: &Self::T,
        dz: &Self::T,
        scale: f32,
    ) -> Result<()>;
    /// The class probabilities p [n, k] (softmax of each row).
    fn softmax(&mut self, s: &SoftmaxCrossEntropy, z: &Self::T, p: &Self::T) -> Result<()>;
    /// Per-sample hinge loss max(0, 1 − s·z), s = 2t − 1 (targets 1 real, 0 fake, as for BCE).
    fn hinge_forward(&mut self, z: &Self::T, t: &Self::T, loss: &Self::T) -> Result<()>;
    /// dz = scale · d mean(loss) / dz.
    fn hinge_backward(&mut self, z: &Self::T, t: &Self::T, dz: &Self::T, scale: f32) -> Result<()>;
    fn mse_forward(&mut self, z: &Self::T, t: &Self::T, loss: &Self::T) -> Result<()>;
    fn mse_backward(&mut self, z: &Self::T, t: &Self::T, dz: &Self::T, scale: f32) -> Result<()>;

    /// out[0] = alpha · Σ x, in a fixed order.
    fn sum(&mut self, x: &Self::T, out: &Self::T, alpha: f32) -> Result<()>;
    /// out[c] (+)= Σ over batch and spatial of x [n, c, spatial].
    fn sum_channels(&mut self, s: &ChannelSum, x: &Self::T, out: &Self::T, accumulate: bool) -> Result<()>;

    fn batch_norm_forward(
        &mut self,
        s: &BatchNorm,
        x: &Self::T,
        st: &BatchNormState<'_, Self::T>,
        y: &Self::T,
        training: bool,
    ) -> Result<()>;
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward(
        &mut self,
        s: &BatchNorm,
        x: &Self::T,
        gamma: &Self::T,
        saved: &Self::T,
        dy: &Self::T,
        dx: &Self::T,
        dgamma: &Self::T,
        dbeta: &Self::T,
    ) -> Result<()>;

    /// Dropout's forward on x, and its backward on dy with the same `s`.
    fn dropout(&mut self, s: &Dropout, x: &Self::T, y: &Self::T) -> Result<()>;

    /// Fills `out` from the counter-based generator at (seed, offset).
    fn fill_random(&mut self, d: Distribution, seed: u64, offset: u64, out: &Self::T) -> Result<()>;

    /// dz = scale / n: the gradient of scale · mean(z), the Wasserstein critic's loss.
    fn wgan_critic_backward(&mut self, dz: &Self::T, scale: f32) -> Result<()>;
    /// w = clamp(w, −c, c).
    fn wgan_clip(&mut self, w: &Self::T, c: f32) -> Result<()>;

    /// A batch from a resident data set: images or labels packed with `ops::gather::pack_bytes`,
    /// or table rows.
    fn gather(&mut self, s: &Gather, data: &Self::T, order: &Self::T, out: &Self::T) -> Result<()>;

    /// A network's input: x plus instance noise, then one-hot label planes.
    fn condition_forward(&mut self, s: &Condition, x: &Self::T, label: &Self::T, out: &Self::T)
    -> Result<()>;
    /// dx = the feature part of dout.
    fn condition_backward(&mut self, s: &Condition, dout: &Self::T, dx: &Self::T) -> Result<()>;

    fn adam_step(
        &mut self,
        s: &AdamStep,
        param: &Self::T,
        grad: &Self::T,
        m: &Self::T,
        v: &Self::T,
    ) -> Result<()>;
    fn sgd_step(&mut self, s: &SgdStep, param: &Self::T, grad: &Self::T, buf: &Self::T) -> Result<()>;
    /// ema = decay · ema + (1 − decay) · param.
    fn ema_update(&mut self, s: &EmaStep, param: &Self::T, ema: &Self::T) -> Result<()>;

    /// One power iteration on st.u, st.v, then w_sn = w / σ(w).
    fn spectral_norm_forward(
        &mut self,
        s: &SpectralNorm,
        w: &Self::T,
        st: &SpectralState<'_, Self::T>,
        w_sn: &Self::T,
    ) -> Result<()>;
    /// dw: dL/dw_sn in, dL/dw out (through σ's dependence on w).
    fn spectral_norm_backward(
        &mut self,
        s: &SpectralNorm,
        w_sn: &Self::T,
        st: &SpectralState<'_, Self::T>,
        dw: &Self::T,
    ) -> Result<()>;
}
