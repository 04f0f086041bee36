//! Our ops. Each module is one op, named like its shader `shaders/<op>.wgsl`: its shape (checked
//! against the tensors it is given, errors naming the op), its typed entry points generic over
//! the [`Backend`](crate::backend::Backend), a [`Pass`] per entry that the backend runs, the GPU recording of the
//! shader's entry points, and its CPU reference (`<op>::reference`, `<op>_forward` /
//! `<op>_backward` on plain slices). The list of modules below and [`SHADERS`] are the registry.

pub mod activation;
pub mod adam;
pub mod augment;
pub mod batch_norm;
pub mod bce_with_logits;
pub mod class_affine;
pub mod condition;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod dropout;
pub mod ema;
pub mod gather;
pub mod gemm;
pub mod gradient_penalty;
pub mod hinge;
pub mod im2col;
pub mod info_loss;
pub mod linear;
pub mod minibatch_stddev;
pub mod mix;
pub mod mse;
pub mod pixel_norm;
pub mod projection;
pub mod random;
pub mod reduce;
pub mod resample;
pub mod sgd;
pub mod softmax_cross_entropy;
pub mod spectral_norm;
pub mod wgan;

/// One file of `shaders/` as the registry lists it.
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    /// The fields of its `Params` uniform, as the Rust side writes them: the shader's WGSL
    /// declaration is generated from them (`gpu::params::wgsl`).
    pub params: &'static [(&'static str, Scalar)],
}

/// `shaders/<name>.wgsl` with its parameter block.
macro_rules! shader {
    ($name:literal, $params:ty) => {
        Shader {
            name: $name,
            source: include_str!(concat!("../../shaders/", $name, ".wgsl")),
            params: <$params as Params>::FIELDS,
        }
    };
}

/// The registry's other half: every shader by name with its parameter block; the op module of
/// the same name records it (`gemm_shared` and `gemm_subgroup` are the GEMM's kernels for other
/// adapters). A test fails if a file in `shaders/` is missing here.
pub const SHADERS: &[Shader] = &[
    shader!("activation", activation::ActivationParams),
    shader!("adam", adam::AdamParams),
    shader!("augment", augment::AugmentParams),
    shader!("batch_norm", batch_norm::BatchNormParams),
    shader!("bce_with_logits", LossParams),
    shader!("class_affine", class_affine::ClassAffineParams),
    shader!("condition", condition::ConditionParams),
    shader!("conv2d", conv2d::ConvParams),
    shader!("conv_transpose2d", conv2d::ConvParams),
    shader!("dropout", dropout::DropoutParams),
    shader!("ema", ema::EmaParams),
    shader!("gather", gather::GatherParams),
    shader!("gemm", gemm::GemmParams),
    shader!("gemm_shared", gemm::GemmParams),
    shader!("gemm_subgroup", gemm::GemmParams),
    shader!("gradient_penalty", gradient_penalty::GradientPenaltyParams),
    shader!("hinge", LossParams),
    shader!("im2col", im2col::Im2colParams),
    shader!("info_loss", info_loss::InfoLossParams),
    shader!("linear", linear::LinearParams),
    shader!("minibatch_stddev", minibatch_stddev::MinibatchStddevParams),
    shader!("mix", mix::MixParams),
    shader!("mse", LossParams),
    shader!("pixel_norm", pixel_norm::PixelNormParams),
    shader!("projection", projection::ProjectionParams),
    shader!("random", random::RandomParams),
    shader!("reduce", reduce::ReduceParams),
    shader!("resample", resample::ResampleParams),
    shader!("softmax_cross_entropy", softmax_cross_entropy::SoftmaxCrossEntropyParams),
    shader!("sgd", sgd::SgdParams),
    shader!("spectral_norm", spectral_norm::SpectralNormParams),
    shader!("wgan", wgan::WganParams),
];

use crate::backend::{Backend, Grads};
use crate::error::{Error, Result};
use crate::gpu::params::{Params, Scalar, params};
use crate::gpu::{GpuBackend, GpuTensor};
use activation::Activation;

/// One pass of an op (a forward, a backward, an optimizer step): the tensors it reads and the
/// tensors it writes, in the order its entry point gives them (`None`: an optional one not
/// given). [`Backend::run`] calls `check` once, then `reference` (the CPU backend, on copies:
/// writes hold what the tensors held) or `record` (the GPU backend).
/// A pass's tensors on a backend, in order; `None` for an optional one not given.
pub type Tensors<'a, T> = &'a [Option<&'a T>];
/// A pass's tensors on the GPU.
pub type GpuTensors<'a> = Tensors<'a, GpuTensor>;

pub trait Pass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()>;
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]);
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()>;
}

/// The tensors of a pass that takes no optional ones, in order. Entry points always give them,
/// so a `None` here is a bug in the op's module.
pub(crate) fn all<T: Copy, const N: usize>(list: &[Option<T>]) -> [T; N] {
    std::array::from_fn(|i| list[i].expect("an entry point gives every required tensor"))
}

/// [`all`] for the written slices of a CPU reference.
pub(crate) fn all_mut<'a, const N: usize>(list: &'a mut [Option<&mut [f32]>]) -> [&'a mut [f32]; N] {
    let mut it = list.iter_mut().map(|s| s.as_deref_mut().expect("an entry point gives every required tensor"));
    std::array::from_fn(|_| it.next().expect("as many writes as the pass takes"))
}

/// Runs `pass` on required tensors only: the common case of an entry point.
pub(crate) fn run<B: Backend, const R: usize, const W: usize>(
    b: &mut B,
    pass: &(impl Pass + ?Sized),
    reads: &[&B::T; R],
    writes: &[&B::T; W],
) -> Result<()> {
    // Arrays, not vectors: this runs once per dispatch.
    b.run(pass, &reads.map(Some), &writes.map(Some))
}

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

/// Splits a 64-bit seed or offset into the (lo, hi) words the shaders take.
pub(crate) fn split(x: u64) -> [u32; 2] {
    [x as u32, (x >> 32) as u32]
}

/// Checks a per-sample loss: logits z, targets t and the output (loss or dz) all of one length.
pub(crate) fn check_loss(op: &'static str, z: usize, t: usize, out: usize) -> Result<()> {
    same_len(op, ("z", z), ("t", t))?;
    same_len(op, ("z", z), ("output", out))
}

params! {
    /// The per-sample losses' parameters (loss.wgsl, included by bce_with_logits, mse and hinge).
    pub struct LossParams { n: u32, scale: f32 }
}

/// A per-sample loss (bce_with_logits, mse, hinge): its shader and CPU reference. The three share
/// one shader layout (loss.wgsl) and so one pass. z, t and the output are all [n].
pub struct Loss {
    shader: &'static str,
    forward: fn(&[f32], &[f32], &mut [f32]),
    backward: fn(&[f32], &[f32], &mut [f32], f32),
}

impl Loss {
    pub(crate) const fn new(
        shader: &'static str,
        forward: fn(&[f32], &[f32], &mut [f32]),
        backward: fn(&[f32], &[f32], &mut [f32], f32),
    ) -> Loss {
        Loss { shader, forward, backward }
    }

    /// loss[i] of logit z[i] against target t[i].
    pub fn forward<B: Backend>(&self, b: &mut B, z: &B::T, t: &B::T, loss: &B::T) -> Result<()> {
        run(b, &LossPass { loss: self, backward_scale: None }, &[z, t], &[loss])
    }

    /// dz = scale · d mean(loss) / dz.
    pub fn backward<B: Backend>(&self, b: &mut B, z: &B::T, t: &B::T, dz: &B::T, scale: f32) -> Result<()> {
        run(b, &LossPass { loss: self, backward_scale: Some(scale) }, &[z, t], &[dz])
    }
}

/// A loss's forward (`backward_scale` None: reads z, t, writes the loss) or backward (writes dz).
struct LossPass<'a> {
    loss: &'a Loss,
    backward_scale: Option<f32>,
}

impl Pass for LossPass<'_> {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([z, t], [out]) = (all(reads), all(writes));
        check_loss(self.loss.shader, z, t, out)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([z, t], [out]) = (all(reads), all_mut(writes));
        match self.backward_scale {
            None => (self.loss.forward)(z, t, out),
            Some(scale) => (self.loss.backward)(z, t, out, scale),
        }
    }
    /// z at binding 1, t at 2, and `forward` writing the loss at 3 or `backward` writing dz at 4.
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([z, t], [out]) = (all(reads), all(writes));
        let (entry, slot, scale) = match self.backward_scale {
            None => ("forward", 3, 0.0),
            Some(s) => ("backward", 4, s),
        };
        let params = LossParams { n: u(z.len), scale };
        g.dispatch_items(self.loss.shader, entry, &params, &[(1, z), (2, t), (slot, out)], z.len)
    }
}

/// linear, conv2d and conv_transpose2d, as their shared passes and entry points see them.
pub trait Weighted: Copy {
    const NAME: &'static str;
    fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()>;
    fn reference_forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]);
    /// dx (overwritten), dw and db (accumulated), where given.
    fn reference_backward(&self, xwdy: (&[f32], &[f32], &[f32]), grads: [Option<&mut [f32]>; 3]);
    /// y = act(op(x, w) + b), the activation fused where the kernel can.
    fn record_forward(&self, g: &mut GpuBackend, io: ForwardIo<'_>) -> Result<()>;
    fn record_backward(&self, g: &mut GpuBackend, io: BackwardIo<'_>) -> Result<()>;
}

/// What a weighted op's GPU forward reads and writes: y = act(op(x, w) + bias).
#[derive(Clone, Copy)]
pub struct ForwardIo<'a> {
    pub x: &'a GpuTensor,
    pub w: &'a GpuTensor,
    pub bias: Option<&'a GpuTensor>,
    pub act: Option<Activation>,
    pub y: &'a GpuTensor,
}

/// What a weighted op's GPU backward reads (x, w, dy) and the gradients it writes.
#[derive(Clone, Copy)]
pub struct BackwardIo<'a> {
    pub x: &'a GpuTensor,
    pub w: &'a GpuTensor,
    pub dy: &'a GpuTensor,
    pub grads: Grads<'a, GpuTensor>,
}

/// A weighted op's forward, reading x, w and the optional bias and writing y, or with `act`
/// writing (pre, y): the CPU runs the op into pre and the activation into y, the GPU fuses the
/// activation into the op's stores (one pass over y instead of three) and leaves pre alone.
/// Its backward reads x, w, dy and writes the requested dx, dw (+=), db (+=).
pub(crate) enum WeightedPass<S> {
    Forward { s: S, act: Option<Activation> },
    Backward(S),
}

impl<S: Weighted> Pass for WeightedPass<S> {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        match self {
            WeightedPass::Forward { s, act } => {
                let y = writes[writes.len() - 1].expect("y");
                if act.is_some() {
                    same_len(S::NAME, ("pre", writes[0].expect("pre")), ("y", y))?;
                }
                s.check(reads[0].expect("x"), reads[1].expect("w"), reads[2], y)
            }
            WeightedPass::Backward(s) => {
                let [x, w, dy] = all(reads);
                s.check(x, w, writes[2], dy)?;
                if let Some(dx) = writes[0] {
                    same_len(S::NAME, ("x", x), ("dx", dx))?;
                }
                if let Some(dw) = writes[1] {
                    same_len(S::NAME, ("w", w), ("dw", dw))?;
                }
                Ok(())
            }
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        match self {
            WeightedPass::Forward { s, act } => {
                let (x, w) = (reads[0].expect("x"), reads[1].expect("w"));
                match (act, writes) {
                    (Some(act), [Some(pre), Some(y)]) => {
                        s.reference_forward(x, w, reads[2], pre);
                        activation::reference::activation_forward(*act, pre, y);
                    }
                    (None, [Some(y)]) => s.reference_forward(x, w, reads[2], y),
                    _ => unreachable!("the entry points give (pre, y) with an activation, else y"),
                }
            }
            WeightedPass::Backward(s) => {
                let [x, w, dy] = all(reads);
                let [dx, dw, db] = writes else { unreachable!("three gradients, each optional") };
                s.reference_backward((x, w, dy), [dx.as_deref_mut(), dw.as_deref_mut(), db.as_deref_mut()]);
            }
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        match self {
            WeightedPass::Forward { s, act } => {
                let (x, w) = (reads[0].expect("x"), reads[1].expect("w"));
                let y = writes[writes.len() - 1].expect("y");
                s.record_forward(g, ForwardIo { x, w, bias: reads[2], act: *act, y })
            }
            WeightedPass::Backward(s) => {
                let [x, w, dy] = all(reads);
                let grads = Grads { dx: writes[0], dw: writes[1], db: writes[2] };
                s.record_backward(g, BackwardIo { x, w, dy, grads })
            }
        }
    }
}

/// A weighted op's forward through its pass: y = op(x, w) + b, or with `act` = (activation,
/// pre), y = activation(op(x, w) + b).
pub(crate) fn weighted_forward<B: Backend, S: Weighted>(
    b: &mut B,
    s: S,
    (x, w, bias): (&B::T, &B::T, Option<&B::T>),
    act: Option<(Activation, &B::T)>,
    y: &B::T,
) -> Result<()> {
    let reads = [Some(x), Some(w), bias];
    match act {
        Some((a, pre)) => b.run(&WeightedPass::Forward { s, act: Some(a) }, &reads, &[Some(pre), Some(y)]),
        None => b.run(&WeightedPass::Forward { s, act: None }, &reads, &[Some(y)]),
    }
}

/// A weighted op's backward through its pass.
pub(crate) fn weighted_backward<B: Backend, S: Weighted>(
    b: &mut B,
    s: S,
    (x, w, dy): (&B::T, &B::T, &B::T),
    grads: Grads<'_, B::T>,
) -> Result<()> {
    b.run(&WeightedPass::Backward(s), &[Some(x), Some(w), Some(dy)], &[grads.dx, grads.dw, grads.db])
}

/// The typed entry points of linear, conv2d and conv_transpose2d (each module re-exports them):
/// the same two calls for any of their shapes.
pub mod weighted {
    use super::{Weighted, weighted_backward, weighted_forward};
    use crate::backend::{Backend, Grads};
    use crate::error::Result;

    /// y = x ⊛ w + b.
    pub fn forward<B: Backend, S: Weighted>(
        b: &mut B,
        s: &S,
        x: &B::T,
        w: &B::T,
        bias: Option<&B::T>,
        y: &B::T,
    ) -> Result<()> {
        weighted_forward(b, *s, (x, w, bias), None, y)
    }

    /// The requested dx, dw (+=), db (+=).
    pub fn backward<B: Backend, S: Weighted>(
        b: &mut B,
        s: &S,
        x: &B::T,
        w: &B::T,
        dy: &B::T,
        grads: Grads<'_, B::T>,
    ) -> Result<()> {
        weighted_backward(b, *s, (x, w, dy), grads)
    }
}

/// The backward pass shared by linear, conv2d and conv_transpose2d: each shader has
/// `backward_input` (dy, w → dx) and `backward_weight` (dy, x → dw += ), and the bias gradient is
/// the per-channel sum of dy. Skips what `grads` does not ask for.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_weighted_backward(
    g: &mut GpuBackend,
    shader: &'static str,
    params: &impl Params,
    BackwardIo { x, w, dy, grads }: BackwardIo<'_>,
    bias_sum: reduce::ChannelSum,
) -> Result<()> {
    if let Some(dx) = grads.dx {
        g.dispatch_items(shader, "backward_input", params, &[(5, dy), (2, w), (6, dx)], x.len)?;
    }
    if let Some(dw) = grads.dw {
        g.dispatch_items(shader, "backward_weight", params, &[(5, dy), (1, x), (7, dw)], w.len)?;
    }
    if let Some(db) = grads.db {
        reduce::record_sum_channels(g, &bias_sum, dy, db, true)?;
    }
    Ok(())
}
