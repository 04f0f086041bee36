//! Every kind of layer a network spec can hold ([`LayerSpec`]): its output shape, the parameters
//! and statistics it declares, and how it is built. The leaf layers' implementations of
//! [`Layer`] are here too; blocks of layers (sequence, residual, blend) have a file each.
//!
//! Adding a layer means a variant here, an arm in each of the three functions below, and its
//! implementation; its op (shader, op module with the CPU reference) is registered in `ops`.

use serde::{Deserialize, Serialize};

use super::blend::{Blend, BlendSpec};
use super::layer::{Adjoint, Build, Io, Layer, Param, Run, WeightedView, aligned};
use super::residual::{Residual, ResidualSpec};
use super::sequence::Sequence;
use super::spec::{Shape, WeightedOp};
use super::{PENALTY_WITHOUT_BATCH_NORM, ParamInfo};
use crate::backend::{Backend, Grads};
use crate::error::{Error, Result};
use crate::ops::activation::Activation;
use crate::ops::batch_norm::{BatchNorm, BatchNormState};
use crate::ops::class_affine::{self, ClassAffine};
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::dropout::Dropout;
use crate::ops::linear::Linear;
use crate::ops::minibatch_stddev::{self, MinibatchStddev};
use crate::ops::pixel_norm::{self, PixelNorm};
use crate::ops::projection::{self, Projection};
use crate::ops::resample::{Resample, ResampleKind};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    Linear {
        out: usize,
        bias: bool,
    },
    Conv2d {
        out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    },
    ConvTranspose2d {
        out: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        output_padding: usize,
        bias: bool,
    },
    /// BatchNorm1d on flat inputs, BatchNorm2d on images (over the channel dimension).
    BatchNorm {
        momentum: f32,
        eps: f32,
    },
    /// Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018): batch norm without
    /// an affine of its own, then each sample's class's row of a per-class scale and shift, the
    /// class being the network's second input ([`super::Net::labels`]).
    ConditionalBatchNorm {
        classes: usize,
        momentum: f32,
        eps: f32,
    },
    Activation {
        f: Activation,
    },
    Dropout {
        prob: f32,
    },
    /// Reinterprets the per-sample shape; the data does not move.
    Reshape {
        to: Shape,
    },
    /// 2× upsampling, nearest or bilinear.
    Upsample {
        mode: Upsampling,
    },
    /// 2× average pooling.
    AvgPool,
    /// main(x) + shortcut(x), the shortcut the identity when empty.
    Residual(ResidualSpec),
    /// (1 − α)·a(x) + α·b(x), α set by the trainer.
    Blend(BlendSpec),
    /// A projection discriminator's logit (Miyato & Koyama 2018): a linear head on the flat
    /// features x plus ⟨embed[label], x⟩, the label being the network's second input
    /// ([`super::Net::labels`]).
    Projection {
        classes: usize,
    },
    /// Pixelwise feature vector normalisation (Karras et al. 2018): each sample's channel vector
    /// at each pixel scaled to unit mean square, x / sqrt(mean_c x² + eps); a progressively
    /// grown G's normaliser in place of batch norm (1e-8 in ProGAN).
    PixelNorm {
        eps: f32,
    },
    /// The minibatch standard deviation (Karras et al. 2018): one more channel, the mean over
    /// features of their standard deviation across the whole batch, so D can tell a batch of
    /// near-identical fakes from the reals; output (c + 1, h, w).
    MinibatchStddev,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsampling {
    Nearest,
    Bilinear,
}

/// The name of child `i` of the block at `path` ("" at the root).
pub(super) fn child_path(path: &str, i: impl std::fmt::Display) -> String {
    if path.is_empty() { i.to_string() } else { format!("{path}.{i}") }
}

/// The per-sample output shapes of a sequence of layers on `inp`, or an error naming the layer
/// (by path) that does not fit.
pub(super) fn sequence_shapes(layers: &[LayerSpec], inp: Shape, path: &str) -> Result<Vec<Shape>> {
    let mut cur = inp;
    let mut out = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        cur = output_shape(l, cur, &child_path(path, i))?;
        out.push(cur);
    }
    Ok(out)
}

/// The output shape of each path of a block at `path`: its layers' last, or `inp` for none.
pub(super) fn path_outputs<const N: usize>(
    paths: [(&str, &[LayerSpec]); N],
    inp: Shape,
    path: &str,
) -> Result<[Shape; N]> {
    let mut out = [inp; N];
    for (o, (name, layers)) in out.iter_mut().zip(paths) {
        *o = sequence_shapes(layers, inp, &child_path(path, name))?.last().copied().unwrap_or(inp);
    }
    Ok(out)
}

/// Calls `f` with every layer's per-sample output shape, blocks' layers included.
pub(super) fn visit_shapes(layers: &[LayerSpec], inp: Shape, f: &mut dyn FnMut(Shape)) -> Result<()> {
    let mut cur = inp;
    for l in layers {
        for (_, path) in l.paths() {
            visit_shapes(path, cur, f)?;
        }
        cur = output_shape(l, cur, "")?;
        f(cur);
    }
    Ok(())
}

fn output_shape(l: &LayerSpec, cur: Shape, path: &str) -> Result<Shape> {
    let bad = |msg: String| Error::Config(format!("layer {path} ({l:?}): {msg}"));
    Ok(match l {
        LayerSpec::Linear { out, .. } => Shape(*out, 1, 1),
        LayerSpec::Projection { .. } => Shape(1, 1, 1),
        &LayerSpec::Conv2d { out, kernel, stride, pad, .. } => {
            if cur.1 + 2 * pad < kernel || cur.2 + 2 * pad < kernel || stride == 0 {
                return Err(bad(format!("kernel {kernel} does not fit input {cur:?}")));
            }
            Shape(out, (cur.1 + 2 * pad - kernel) / stride + 1, (cur.2 + 2 * pad - kernel) / stride + 1)
        }
        &LayerSpec::ConvTranspose2d { out, kernel, stride, pad, output_padding, .. } => {
            let f = |i: usize| ((i - 1) * stride + kernel + output_padding).checked_sub(2 * pad);
            match (f(cur.1), f(cur.2)) {
                (Some(h), Some(w)) if h > 0 && w > 0 && stride > 0 => Shape(out, h, w),
                _ => return Err(bad(format!("padding leaves no output for input {cur:?}"))),
            }
        }
        LayerSpec::Reshape { to } => {
            if to.size() != cur.size() {
                return Err(bad(format!("cannot reshape {cur:?} to {to:?}")));
            }
            *to
        }
        LayerSpec::Upsample { .. } => Shape(cur.0, 2 * cur.1, 2 * cur.2),
        LayerSpec::AvgPool => {
            if cur.1 < 2 || cur.2 < 2 {
                return Err(bad(format!("cannot halve {cur:?}")));
            }
            Shape(cur.0, cur.1 / 2, cur.2 / 2)
        }
        LayerSpec::MinibatchStddev => Shape(cur.0 + 1, cur.1, cur.2),
        LayerSpec::Residual(r) => r.output(cur, path)?,
        LayerSpec::Blend(m) => m.output(cur, path)?,
        LayerSpec::BatchNorm { .. }
        | LayerSpec::ConditionalBatchNorm { .. }
        | LayerSpec::PixelNorm { .. }
        | LayerSpec::Activation { .. }
        | LayerSpec::Dropout { .. } => cur,
    })
}

impl LayerSpec {
    /// For a linear or (transposed) convolution layer on per-sample input `inp`: its op shape at
    /// `batch` and whether it has a bias.
    pub fn weighted_op(&self, inp: Shape, batch: usize) -> Option<(WeightedOp, bool)> {
        let (n, c, h, w) = (batch, inp.0, inp.1, inp.2);
        match *self {
            LayerSpec::Linear { out, bias } => {
                Some((WeightedOp::Linear(Linear { batch, in_features: inp.size(), out_features: out }), bias))
            }
            LayerSpec::Conv2d { out: k, kernel, stride, pad, bias } => {
                let s = Conv2d { n, c, h, w, k, kh: kernel, kw: kernel, stride, pad };
                Some((WeightedOp::Conv2d(s), bias))
            }
            LayerSpec::ConvTranspose2d { out: k, kernel, stride, pad, output_padding, bias } => {
                let s = ConvTranspose2d { n, c, h, w, k, kh: kernel, kw: kernel, stride, pad, output_padding };
                Some((WeightedOp::ConvTranspose2d(s), bias))
            }
            _ => None,
        }
    }

    /// The layers inside a block, with the name of each path ("main", "a", ...).
    pub fn paths(&self) -> Vec<(&'static str, &[LayerSpec])> {
        match self {
            LayerSpec::Residual(r) => vec![("main", &r.main[..]), ("shortcut", &r.shortcut[..])],
            LayerSpec::Blend(m) => vec![("a", &m.a[..]), ("b", &m.b[..])],
            _ => Vec::new(),
        }
    }
}

/// Where a network's parameters, statistics and spectral-norm vectors go, in build order.
#[derive(Default)]
pub(super) struct Declared {
    pub params: Vec<ParamInfo>,
    pub total: usize,
    pub running: usize,
    pub spectral: usize,
    /// Each batch-norm layer's path and channels.
    pub norms: Vec<(String, usize)>,
}

impl Declared {
    fn param(&mut self, name: String, shape: Vec<usize>, bound: Option<f32>, value: f32) {
        let len = shape.iter().product();
        self.params.push(ParamInfo { name, offset: self.total, len, init_bound: bound, init_value: value, shape });
        self.total += aligned(len);
    }
}

/// A projection layer's linear head, declared and built as that layer would be.
const PROJECTION_HEAD: LayerSpec = LayerSpec::Linear { out: 1, bias: true };

/// The floats of a spectral-normalised [m, k] weight's state: u, v and (σ, scratch).
fn spectral_len((m, k): (usize, usize)) -> usize {
    aligned(m) + aligned(k) + aligned(2)
}

/// Declares the parameters of `l` at `path` on input `inp` (as PyTorch initialises them).
pub(super) fn declare(l: &LayerSpec, inp: Shape, path: &str, spectral: bool, d: &mut Declared) -> Result<()> {
    if let Some((op, bias)) = l.weighted_op(inp, 1) {
        let (o, fan_in, shape) = match *l {
            LayerSpec::Linear { out, .. } => (out, inp.size(), vec![out, inp.size()]),
            LayerSpec::Conv2d { out, kernel, .. } => (out, inp.0 * kernel * kernel, vec![out, inp.0, kernel, kernel]),
            // PyTorch computes fan-in from weight dim 1 (= out channels) for ConvTranspose.
            LayerSpec::ConvTranspose2d { out, kernel, .. } => {
                (out, out * kernel * kernel, vec![inp.0, out, kernel, kernel])
            }
            _ => unreachable!("weighted_op is Some for weighted layers only"),
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        d.param(format!("{path}.weight"), shape, Some(bound), 0.0);
        if bias {
            d.param(format!("{path}.bias"), vec![o], Some(bound), 0.0);
        }
        if spectral {
            d.spectral += spectral_len(op.matrix());
        }
        return Ok(());
    }
    match l {
        &LayerSpec::Projection { classes } => {
            declare(&PROJECTION_HEAD, inp, path, spectral, d)?;
            let (f, bound) = (inp.size(), 1.0 / (inp.size() as f32).sqrt());
            d.param(format!("{path}.embed.weight"), vec![classes, f], Some(bound), 0.0);
            if spectral {
                d.spectral += spectral_len((classes, f));
            }
        }
        LayerSpec::BatchNorm { .. } | LayerSpec::ConditionalBatchNorm { .. } => {
            // One gain and shift per channel, or one row of them per class.
            let mut shape = vec![inp.0];
            if let &LayerSpec::ConditionalBatchNorm { classes, .. } = l {
                shape.insert(0, classes);
            }
            d.param(format!("{path}.gamma"), shape.clone(), None, 1.0);
            d.param(format!("{path}.beta"), shape, None, 0.0);
            d.running += aligned(2 * inp.0);
            d.norms.push((path.to_string(), inp.0));
        }
        _ => {
            for (name, layers) in l.paths() {
                let mut cur = inp;
                for (i, c) in layers.iter().enumerate() {
                    let p = child_path(&child_path(path, name), i);
                    declare(c, cur, &p, spectral, d)?;
                    cur = output_shape(c, cur, &p)?;
                }
            }
        }
    }
    Ok(())
}

/// Builds layer `l` at `path` on per-sample input `inp`.
pub(super) fn build<B: Backend>(
    l: &LayerSpec,
    inp: Shape,
    path: &str,
    cx: &mut Build<'_, B>,
) -> Result<Box<dyn Layer<B>>> {
    let serial = cx.next_serial();
    let batch = cx.batch;
    if let Some((op, bias)) = l.weighted_op(inp, batch) {
        return Ok(Box::new(build_weighted(cx, op, bias)?));
    }
    let out = output_shape(l, inp, path)?;
    Ok(match l {
        &LayerSpec::BatchNorm { momentum, eps } => {
            let s = BatchNorm { n: batch, c: out.0, spatial: out.1 * out.2, eps, momentum };
            let running = cx.running(2 * out.0);
            let (gamma, beta) = (cx.param("gamma")?, cx.param("beta")?);
            let (saved, sink) = (cx.alloc(2 * out.0)?, cx.sink.clone());
            Box::new(Norm { s, momentum, gamma, beta, running, saved, sink })
        }
        &LayerSpec::ConditionalBatchNorm { classes, momentum, eps } => {
            let s = BatchNorm { n: batch, c: out.0, spatial: out.1 * out.2, eps, momentum };
            let affine = ClassAffine { n: batch, channels: out.0, spatial: out.1 * out.2, classes };
            let running = cx.running(2 * out.0);
            let (gamma, beta) = (cx.param("gamma")?, cx.param("beta")?);
            let (ones, zeros) = (cx.b.upload(&vec![1.0; out.0])?, cx.alloc(out.0)?);
            let saved = cx.alloc(2 * out.0)?;
            // Two buffers: a slice at an offset of `out.0` floats could break the adapter's
            // storage-offset alignment.
            let (unit_gamma, unit_beta) = (cx.alloc(out.0)?, cx.alloc(out.0)?);
            let (normalised, normalised_grad) = (cx.alloc(batch * out.size())?, cx.alloc(batch * out.size())?);
            let unit_grads = [unit_gamma.clone(), unit_beta.clone()];
            let (gamma0, beta0) = (Param { value: ones, grad: unit_gamma }, Param { value: zeros, grad: unit_beta });
            let norm = Norm { s, momentum, gamma: gamma0, beta: beta0, running, saved, sink: cx.sink.clone() };
            let labels = cx.labels.clone();
            Box::new(ClassNorm { norm, affine, gamma, beta, normalised, normalised_grad, unit_grads, labels })
        }
        &LayerSpec::Activation { f } => Box::new(Act(f)),
        &LayerSpec::Dropout { prob } => Box::new(Drop { prob, serial, draw: None }),
        LayerSpec::Reshape { .. } => Box::new(Reshape),
        &LayerSpec::Upsample { mode } => {
            let kind = match mode {
                Upsampling::Nearest => ResampleKind::Nearest,
                Upsampling::Bilinear => ResampleKind::Bilinear,
            };
            Box::new(Resampling(Resample { kind, n: batch, c: inp.0, h: inp.1, w: inp.2 }))
        }
        LayerSpec::AvgPool => {
            let kind = ResampleKind::AvgPool;
            Box::new(Resampling(Resample { kind, n: batch, c: inp.0, h: inp.1, w: inp.2 }))
        }
        &LayerSpec::PixelNorm { eps } => {
            Box::new(Pixelwise(PixelNorm { n: batch, c: inp.0, spatial: inp.1 * inp.2, eps }))
        }
        LayerSpec::MinibatchStddev => Box::new(Stddev(MinibatchStddev { n: batch, c: inp.0, spatial: inp.1 * inp.2 })),
        LayerSpec::Residual(r) => Box::new(Residual::build(r, inp, path, cx)?),
        LayerSpec::Blend(m) => Box::new(Blend::build(m, inp, path, cx)?),
        &LayerSpec::Projection { classes } => {
            let (op, bias) = PROJECTION_HEAD.weighted_op(inp, batch).expect("a linear head");
            let head = build_weighted(cx, op, bias)?;
            let f = inp.size();
            let mut embed = cx.param("embed.weight")?;
            cx.spectral(&mut embed, &WeightedOp::Linear(Linear { batch, in_features: f, out_features: classes }))?;
            let s = Projection { n: batch, features: f, classes };
            Box::new(ProjectionHead { head, s, embed, labels: cx.labels.clone() })
        }
        LayerSpec::Linear { .. } | LayerSpec::Conv2d { .. } | LayerSpec::ConvTranspose2d { .. } => {
            unreachable!("weighted layers are built above")
        }
    })
}

/// A linear or (transposed) convolution layer: its weight (spectral-normalised when the network
/// is) and its bias, the next declared parameters.
fn build_weighted<B: Backend>(cx: &mut Build<'_, B>, op: WeightedOp, bias: bool) -> Result<Weighted<B::T>> {
    let mut w = cx.param("weight")?;
    let b = if bias { Some(cx.param("bias")?) } else { None };
    cx.spectral(&mut w, &op)?;
    Ok(Weighted { op, w, b })
}

/// Builds a sequence of layers at `path` (its children are `path.0`, `path.1`, ...).
pub(super) fn build_sequence<B: Backend>(
    layers: &[LayerSpec],
    inp: Shape,
    path: &str,
    cx: &mut Build<'_, B>,
) -> Result<Sequence<B>> {
    let shapes = sequence_shapes(layers, inp, path)?;
    let mut children = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let inp = if i == 0 { inp } else { shapes[i - 1] };
        children.push(build(l, inp, &child_path(path, i), cx)?);
    }
    Sequence::new(cx, children, &shapes)
}

/// Linear, conv2d or conv_transpose2d.
struct Weighted<T> {
    op: WeightedOp,
    w: Param<T>,
    b: Option<Param<T>>,
}

impl<B: Backend> Layer<B> for Weighted<B::T> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        self.op.forward(b, (x, &self.w.value, self.b.as_ref().map(|p| &p.value)), y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        let grads = Grads {
            dx,
            dw: param_grads.then_some(&self.w.grad),
            db: self.b.as_ref().filter(|_| param_grads).map(|p| &p.grad),
        };
        self.op.backward(b, (io.x, &self.w.value, io.dy), grads)
    }

    /// e.output = W e.input (no bias), and dW += the weight gradient with e.input in place of x.
    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        if let Some(out) = e.output {
            self.op.forward(b, (e.input, &self.w.value, None), out)?;
        }
        let grads = Grads { dx: None, dw: Some(&self.w.grad), db: None };
        self.op.backward(b, (e.input, &self.w.value, io.dy), grads)
    }

    fn weighted(&self) -> Option<WeightedView<'_, B::T>> {
        Some((self.op, &self.w.value, self.b.as_ref().map(|p| &p.value)))
    }
}

struct Norm<T> {
    s: BatchNorm,
    /// The spec's momentum, which [`Layer::set_batch_norm_momentum`] with None restores.
    momentum: f32,
    gamma: Param<T>,
    beta: Param<T>,
    running: T,
    saved: T,
    /// Receives the input gradient nobody asked for (the network's first layer): the kernel
    /// always writes one.
    sink: T,
}

impl<B: Backend> Layer<B> for Norm<B::T> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        let st = BatchNormState {
            gamma: &self.gamma.value,
            beta: &self.beta.value,
            running: &self.running,
            saved: &self.saved,
        };
        crate::ops::batch_norm::forward(b, &self.s, x, &st, y, run.training)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        let grads = (dx.unwrap_or(&self.sink), &self.gamma.grad, &self.beta.grad);
        crate::ops::batch_norm::backward(b, &self.s, io.x, &self.gamma.value, &self.saved, io.dy, grads)
    }

    fn input_grad_backward(&self, _: &mut B, _: Io<'_, B::T>, _: Adjoint<'_, B::T>) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_BATCH_NORM.into()))
    }

    fn enable_input_grad_backward(&mut self, _: &mut B) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_BATCH_NORM.into()))
    }

    fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        self.s.momentum = momentum.unwrap_or(self.momentum);
    }
}

/// Conditional batch norm: [`Norm`] with a unit scale and no shift into `normalised`, then the
/// class's scale and shift (see [`LayerSpec::ConditionalBatchNorm`]).
struct ClassNorm<T> {
    /// Its gamma and beta are constants (ones, zeros).
    norm: Norm<T>,
    affine: ClassAffine,
    gamma: Param<T>,
    beta: Param<T>,
    normalised: T,
    normalised_grad: T,
    /// The constants' gradients, cleared before each backward so they never grow without bound.
    unit_grads: [T; 2],
    labels: T,
}

impl<B: Backend> Layer<B> for ClassNorm<B::T> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        self.norm.forward(b, x, &self.normalised, run)?;
        let reads = (&self.normalised, &self.labels, &self.gamma.value, &self.beta.value);
        class_affine::forward(b, &self.affine, reads, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        if param_grads {
            let reads = (&self.normalised, &self.labels, io.dy);
            class_affine::backward_params(b, &self.affine, reads, (&self.gamma.grad, &self.beta.grad))?;
        }
        let reads = (io.dy, &self.labels, &self.gamma.value);
        class_affine::backward_input(b, &self.affine, reads, &self.normalised_grad)?;
        for g in &self.unit_grads {
            b.zero(g)?;
        }
        let io = Io { x: io.x, y: &self.normalised, dy: &self.normalised_grad };
        self.norm.backward(b, io, dx, false)
    }

    fn input_grad_backward(&self, _: &mut B, _: Io<'_, B::T>, _: Adjoint<'_, B::T>) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_BATCH_NORM.into()))
    }

    fn enable_input_grad_backward(&mut self, _: &mut B) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_BATCH_NORM.into()))
    }

    fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        <Norm<B::T> as Layer<B>>::set_batch_norm_momentum(&mut self.norm, momentum);
    }
}

struct Act(Activation);

impl<B: Backend> Layer<B> for Act {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        crate::ops::activation::forward(b, self.0, x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        match dx {
            Some(d) => crate::ops::activation::backward(b, self.0, io.y, io.dy, d),
            None => Ok(()),
        }
    }

    /// The activation's slope at this pass's output multiplies the adjoint (piecewise linear
    /// activations only: their slope does not move with the weights).
    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        match e.output {
            Some(out) => crate::ops::activation::backward(b, self.0, io.y, e.input, out),
            None => Ok(()),
        }
    }

    fn enable_input_grad_backward(&mut self, _: &mut B) -> Result<()> {
        match self.0 {
            f @ (Activation::Sigmoid | Activation::Tanh) => Err(Error::Config(format!(
                "a gradient penalty needs D's activations piecewise linear (ReLU, LeakyReLU), not {f:?}"
            ))),
            _ => Ok(()),
        }
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.0)
    }
}

struct Drop {
    prob: f32,
    /// This layer's index in build order: its stream of random numbers.
    serial: u64,
    /// The last training forward's draw, which backward reuses; None: the identity.
    draw: Option<Dropout>,
}

impl Drop {
    fn apply<B: Backend>(&self, b: &mut B, x: &B::T, y: &B::T) -> Result<()> {
        match &self.draw {
            Some(d) => crate::ops::dropout::apply(b, d, x, y),
            None => b.copy(x, y),
        }
    }
}

impl<B: Backend> Layer<B> for Drop {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        // Offsets leave room for 2^32 elements per layer per call.
        self.draw = (run.training && self.prob > 0.0).then(|| Dropout {
            prob: self.prob,
            seed: run.seed,
            offset: run.offset.wrapping_add(self.serial << 32),
        });
        self.apply(b, x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        dx.map_or(Ok(()), |d| self.apply(b, io.dy, d))
    }

    fn input_grad_backward(&self, b: &mut B, _: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        e.output.map_or(Ok(()), |out| self.apply(b, e.input, out))
    }
}

/// Where a sequence cannot give input and output one buffer (its first or last layer), a copy.
struct Reshape;

impl<B: Backend> Layer<B> for Reshape {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        b.copy(x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        dx.map_or(Ok(()), |d| b.copy(io.dy, d))
    }

    fn input_grad_backward(&self, b: &mut B, _: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        e.output.map_or(Ok(()), |out| b.copy(e.input, out))
    }

    fn is_view(&self) -> bool {
        true
    }
}

/// Upsampling and average pooling.
struct Resampling(Resample);

impl<B: Backend> Layer<B> for Resampling {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        crate::ops::resample::forward(b, &self.0, x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        dx.map_or(Ok(()), |d| crate::ops::resample::backward(b, &self.0, io.dy, d))
    }

    fn input_grad_backward(&self, b: &mut B, _: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        e.output.map_or(Ok(()), |out| crate::ops::resample::forward(b, &self.0, e.input, out))
    }
}

/// Why a gradient penalty refuses pixel norm: its double backward carries the adjoint through
/// weighted layers and masks that do not move with the weights, and pixel norm's slope does.
const PENALTY_WITHOUT_PIXEL_NORM: &str = "a gradient penalty (--loss wgan-gp, --r1) differentiates D's input \
     gradient only through layers that are linear between kinks, and pixel norm is not: keep pixel norm in G \
     and out of D";

/// Why a gradient penalty refuses minibatch stddev: as batch norm, it mixes the samples.
const PENALTY_WITHOUT_MINIBATCH_STDDEV: &str = "a gradient penalty (--loss wgan-gp, --r1) is per sample and \
     minibatch stddev in D mixes the samples: leave the minibatch-stddev layer out of D, or train without a \
     penalty (--loss hinge, say)";

/// Pixel norm (see [`LayerSpec::PixelNorm`]).
struct Pixelwise(PixelNorm);

impl<B: Backend> Layer<B> for Pixelwise {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        pixel_norm::forward(b, &self.0, x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        dx.map_or(Ok(()), |d| pixel_norm::backward(b, &self.0, (io.x, io.dy), d))
    }

    fn input_grad_backward(&self, _: &mut B, _: Io<'_, B::T>, _: Adjoint<'_, B::T>) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_PIXEL_NORM.into()))
    }

    fn enable_input_grad_backward(&mut self, _: &mut B) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_PIXEL_NORM.into()))
    }
}

/// The minibatch standard deviation's extra channel (see [`LayerSpec::MinibatchStddev`]).
struct Stddev(MinibatchStddev);

impl<B: Backend> Layer<B> for Stddev {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, _: Run) -> Result<()> {
        minibatch_stddev::forward(b, &self.0, x, y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, _: bool) -> Result<()> {
        dx.map_or(Ok(()), |d| minibatch_stddev::backward(b, &self.0, (io.x, io.dy), d))
    }

    fn input_grad_backward(&self, _: &mut B, _: Io<'_, B::T>, _: Adjoint<'_, B::T>) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_MINIBATCH_STDDEV.into()))
    }

    fn enable_input_grad_backward(&mut self, _: &mut B) -> Result<()> {
        Err(Error::Config(PENALTY_WITHOUT_MINIBATCH_STDDEV.into()))
    }
}

/// A linear head, then the class projection added onto its output (see [`LayerSpec::Projection`]).
struct ProjectionHead<T> {
    head: Weighted<T>,
    s: Projection,
    embed: Param<T>,
    labels: T,
}

impl<B: Backend> Layer<B> for ProjectionHead<B::T> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        self.head.forward(b, x, y, run)?;
        projection::forward(b, &self.s, (x, &self.labels, &self.embed.value), y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        self.head.backward(b, io, dx, param_grads)?;
        if let Some(dx) = dx {
            projection::backward_input(b, &self.s, (io.dy, &self.labels, &self.embed.value), dx)?;
        }
        if param_grads {
            projection::backward_embed(b, &self.s, (io.x, &self.labels, io.dy), &self.embed.grad)?;
        }
        Ok(())
    }

    /// Linear in x for fixed labels: e.output = (W + embed[label]) e.input, and the weights'
    /// gradients with e.input in place of x.
    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        self.head.input_grad_backward(b, io, e)?;
        if let Some(out) = e.output {
            projection::forward(b, &self.s, (e.input, &self.labels, &self.embed.value), out)?;
        }
        projection::backward_embed(b, &self.s, (e.input, &self.labels, io.dy), &self.embed.grad)
    }
}
