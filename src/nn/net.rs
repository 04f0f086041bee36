//! A network built on a backend: buffers for a fixed batch, forward and explicit backward.

use super::spec::{LayerSpec, NetSpec, Shape, WeightedOp};
use crate::backend::{Backend, Grads, Tensor};
use crate::error::{Error, Result};
use crate::ops::activation::Activation;
use crate::ops::batch_norm::{BatchNorm, BatchNormState};
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::dropout::Dropout;
use crate::ops::linear::Linear;
use crate::ops::spectral_norm::{SpectralNorm, SpectralState};

/// Parameter tensors start on 64-float (256-byte) boundaries of the flat buffer: the largest
/// storage-offset alignment wgpu allows, so every view can be bound on every adapter.
const ALIGN: usize = 64;

/// Where one named parameter tensor lives in the flat buffer.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamInfo {
    pub name: String,
    pub offset: usize,
    pub len: usize,
    /// PyTorch-style default init bound: U(−bound, bound); None for batch-norm gamma/beta.
    pub init_bound: Option<f32>,
    pub init_value: f32,
}

/// How [`Net::init_with`] draws the first weights.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's layer defaults: U(−1/√fan_in, 1/√fan_in) for weights and biases.
    #[default]
    Pytorch,
    /// Radford et al. 2015: weights N(0, 0.02), biases 0, batch-norm scale N(1, 0.02).
    Dcgan,
}

/// A parameter view and its gradient view.
#[derive(Clone, Debug)]
struct Param<T> {
    value: T,
    grad: T,
}

enum Layer<T> {
    Linear { s: Linear, w: Param<T>, b: Option<Param<T>> },
    Conv { s: Conv2d, w: Param<T>, b: Option<Param<T>> },
    ConvT { s: ConvTranspose2d, w: Param<T>, b: Option<Param<T>> },
    Norm { s: BatchNorm, gamma: Param<T>, beta: Param<T>, running: T, saved: T },
    Act(Activation),
    Drop { prob: f32, draw: Option<Dropout> },
    Reshape,
}

impl<T> Layer<T> {
    /// The PyTorch shape of this layer's `weight` (and of `bias`, `running_mean`, ...: its
    /// output channels).
    fn weight_shape(&self, kind: &str) -> Vec<usize> {
        match (self, kind) {
            (Layer::Linear { s, .. }, "weight") => vec![s.out_features, s.in_features],
            (Layer::Linear { s, .. }, _) => vec![s.out_features],
            (Layer::Conv { s, .. }, "weight") => vec![s.k, s.c, s.kh, s.kw],
            (Layer::ConvT { s, .. }, "weight") => vec![s.c, s.k, s.kh, s.kw],
            (Layer::Conv { s, .. }, _) => vec![s.k],
            (Layer::ConvT { s, .. }, _) => vec![s.k],
            (Layer::Norm { s, .. }, _) => vec![s.c],
            _ => unreachable!("only weighted and batch-norm layers hold tensors"),
        }
    }

    /// A weighted layer's op, weights and bias.
    fn weighted(&self) -> Option<(WeightedOp, &T, Option<&T>)> {
        let (op, w, b) = match self {
            Layer::Linear { s, w, b } => (WeightedOp::Linear(*s), w, b),
            Layer::Conv { s, w, b } => (WeightedOp::Conv2d(*s), w, b),
            Layer::ConvT { s, w, b } => (WeightedOp::ConvTranspose2d(*s), w, b),
            _ => return None,
        };
        Some((op, &w.value, b.as_ref().map(|p| &p.value)))
    }
}

/// A weight divided by its spectral norm: the raw weight lives in the flat buffer (the optimizer
/// updates it), the layer computes with the normalised copy, and its gradient slot first
/// receives dL/d(normalised), which [`Net::spectral_backward`] turns into dL/d(raw).
struct Spectral<T> {
    s: SpectralNorm,
    raw: T,
    normalised: T,
    grad: T,
    u: T,
    v: T,
    state: T,
}

impl<T> Spectral<T> {
    fn state(&self) -> SpectralState<'_, T> {
        SpectralState { u: &self.u, v: &self.v, state: &self.state }
    }
}

pub struct Net<B: Backend> {
    pub spec: NetSpec,
    pub batch: usize,
    layers: Vec<Layer<B::T>>,
    /// All parameters, and their gradients, in one flat buffer each.
    pub params: B::T,
    pub grads: B::T,
    pub param_infos: Vec<ParamInfo>,
    /// Batch-norm running statistics of every layer, in one flat buffer (checkpointed).
    pub running: B::T,
    acts: Vec<B::T>,
    dacts: Vec<B::T>,
    /// Receives an input gradient nobody asked for, where a kernel always writes one.
    sink: B::T,
    spectral: Vec<Spectral<B::T>>,
    /// Every spectral-normalised weight's u, v and (σ, scratch), in one flat buffer (checkpointed).
    pub spectral_state: B::T,
    /// Per layer, the adjoint of its input gradient for [`Net::input_grad_backward`] (empty
    /// until [`Net::enable_input_grad_backward`]).
    input_grad_adjoints: Vec<B::T>,
}

/// The gradients a weighted layer's backward computes: always dx when asked for, dw and db only
/// when parameter gradients are wanted.
fn weight_grads<'a, T>(
    dx: Option<&'a T>,
    w: &'a Param<T>,
    bias: &'a Option<Param<T>>,
    param_grads: bool,
) -> Grads<'a, T> {
    let grad = |p: &'a Param<T>| param_grads.then_some(&p.grad);
    Grads { dx, dw: grad(w), db: bias.as_ref().and_then(grad) }
}

fn aligned(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Why a network with batch norm cannot take a gradient penalty.
pub const PENALTY_WITHOUT_BATCH_NORM: &str = "a gradient penalty (--loss wgan-gp, --r1) is per sample and batch \
     norm in D mixes the samples: leave out --d-batch-norm";

/// Only the weight gradient, for the double backward of an input gradient.
fn weight_grad_only<T>(w: &Param<T>) -> Grads<'_, T> {
    Grads { dx: None, dw: Some(&w.grad), db: None }
}

/// Where each parameter sits in a network's flat buffer (aligned offsets, in layer order) and
/// the lengths of the parameter and running-statistics buffers.
fn layout(spec: &NetSpec, shapes: &[Shape]) -> (Vec<ParamInfo>, usize, usize) {
    let mut infos = Vec::new();
    let mut total = 0;
    let mut running_total = 0;
    let mut add = |name: String, len: usize, bound: Option<f32>, value: f32| {
        infos.push(ParamInfo { name, offset: total, len, init_bound: bound, init_value: value });
        total += aligned(len);
    };
    for (i, l) in spec.layers.iter().enumerate() {
        let inp = if i == 0 { spec.input } else { shapes[i - 1] };
        let out = shapes[i];
        match *l {
            LayerSpec::Linear { out: o, bias } => {
                let bound = 1.0 / (inp.size() as f32).sqrt();
                add(format!("{i}.weight"), o * inp.size(), Some(bound), 0.0);
                if bias {
                    add(format!("{i}.bias"), o, Some(bound), 0.0);
                }
            }
            LayerSpec::Conv2d { out: o, kernel, bias, .. } => {
                let bound = 1.0 / ((inp.0 * kernel * kernel) as f32).sqrt();
                add(format!("{i}.weight"), o * inp.0 * kernel * kernel, Some(bound), 0.0);
                if bias {
                    add(format!("{i}.bias"), o, Some(bound), 0.0);
                }
            }
            LayerSpec::ConvTranspose2d { out: o, kernel, bias, .. } => {
                // PyTorch computes fan-in from weight dim 1 (= out channels) for ConvTranspose.
                let bound = 1.0 / ((o * kernel * kernel) as f32).sqrt();
                add(format!("{i}.weight"), inp.0 * o * kernel * kernel, Some(bound), 0.0);
                if bias {
                    add(format!("{i}.bias"), o, Some(bound), 0.0);
                }
            }
            LayerSpec::BatchNorm { .. } => {
                add(format!("{i}.gamma"), out.0, None, 1.0);
                add(format!("{i}.beta"), out.0, None, 0.0);
                running_total += aligned(2 * out.0);
            }
            _ => {}
        }
    }
    (infos, total, running_total)
}

/// The matrix shape of every weighted layer's weight, where D's weights are spectral-normalised.
fn spectral_shapes(spec: &NetSpec, shapes: &[Shape], batch: usize) -> Vec<SpectralNorm> {
    if !spec.spectral_norm {
        return Vec::new();
    }
    (spec.layers.iter().enumerate())
        .filter_map(|(i, l)| l.weighted_op(if i == 0 { spec.input } else { shapes[i - 1] }, batch))
        .map(|(op, _)| {
            let (m, k) = op.matrix();
            SpectralNorm::new(m, k)
        })
        .collect()
}

impl<B: Backend> Net<B> {
    pub fn new(b: &mut B, spec: &NetSpec, batch: usize) -> Result<Self> {
        let shapes = spec.shapes()?;
        let (infos, total, running_total) = layout(spec, &shapes);
        let params = b.alloc(total.max(1))?;
        let grads = b.alloc(total.max(1))?;
        let running = b.alloc(running_total.max(1))?;
        let sink = b.alloc(batch * spec.input.size())?;

        // Second pass: views, activation buffers and kernels' shapes.
        let mut next_param = infos.iter();
        let mut view = |b_: bool| -> Option<Param<B::T>> {
            if !b_ {
                return None;
            }
            let info = next_param.next().expect("laid out above");
            Some(Param {
                value: params.slice(info.offset, info.len),
                grad: grads.slice(info.offset, info.len),
            })
        };
        let sn_shapes = spectral_shapes(spec, &shapes, batch);
        let sn_len: usize = sn_shapes.iter().map(|s| aligned(s.m) + aligned(s.k) + ALIGN).sum();
        let spectral_state = b.alloc(sn_len.max(1))?;
        let mut spectral = Vec::new();
        let mut sn_off = 0;
        let mut layers = Vec::new();
        let mut acts: Vec<B::T> = Vec::new();
        let mut dacts: Vec<B::T> = Vec::new();
        let mut running_off = 0;
        for (i, l) in spec.layers.iter().enumerate() {
            let inp = if i == 0 { spec.input } else { shapes[i - 1] };
            let out = shapes[i];
            let layer = match (l.weighted_op(inp, batch), l) {
                (Some((op, bias)), _) => {
                    let (mut w, bias) = (view(true).unwrap(), view(bias));
                    if let Some(&s) = sn_shapes.get(spectral.len()) {
                        let mut next = |len: usize| {
                            let t = spectral_state.slice(sn_off, len);
                            sn_off += aligned(len);
                            t
                        };
                        let (u, v, state) = (next(s.m), next(s.k), next(2));
                        let normalised = b.alloc(w.value.len())?;
                        let raw = std::mem::replace(&mut w.value, normalised.clone());
                        let grad = w.grad.clone();
                        spectral.push(Spectral { s, raw, normalised, grad, u, v, state });
                    }
                    match op {
                        WeightedOp::Linear(s) => Layer::Linear { s, w, b: bias },
                        WeightedOp::Conv2d(s) => Layer::Conv { s, w, b: bias },
                        WeightedOp::ConvTranspose2d(s) => Layer::ConvT { s, w, b: bias },
                    }
                }
                (None, &LayerSpec::BatchNorm { momentum, eps }) => {
                    let s = BatchNorm { n: batch, c: out.0, spatial: out.1 * out.2, eps, momentum };
                    let r = running.slice(running_off, 2 * out.0);
                    running_off += aligned(2 * out.0);
                    let (gamma, beta) = (view(true).unwrap(), view(true).unwrap());
                    Layer::Norm { s, gamma, beta, running: r, saved: b.alloc(2 * out.0)? }
                }
                (None, &LayerSpec::Activation { f }) => Layer::Act(f),
                (None, &LayerSpec::Dropout { prob }) => Layer::Drop { prob, draw: None },
                (None, LayerSpec::Reshape { .. }) => Layer::Reshape,
                (None, _) => unreachable!("linear and convolution layers have a weighted op"),
            };
            // A reshape inside the network shares its input's buffers; only a leading one owns
            // buffers (its input belongs to the caller).
            if matches!(layer, Layer::Reshape) && i > 0 {
                acts.push(acts[i - 1].clone());
                dacts.push(dacts[i - 1].clone());
            } else {
                acts.push(b.alloc(batch * out.size())?);
                dacts.push(b.alloc(batch * out.size())?);
            }
            layers.push(layer);
        }
        Ok(Net {
            spec: spec.clone(),
            batch,
            layers,
            params,
            grads,
            param_infos: infos,
            running,
            acts,
            dacts,
            sink,
            spectral,
            spectral_state,
            input_grad_adjoints: Vec::new(),
        })
    }

    /// Makes the buffers [`Net::input_grad_backward`] needs, after checking that the network
    /// is one whose input gradient it differentiates exactly: a gradient penalty is per sample,
    /// which batch norm breaks, and a curved activation's second derivative is not carried.
    pub fn enable_input_grad_backward(&mut self, b: &mut B) -> Result<()> {
        for l in &self.layers {
            match l {
                Layer::Norm { .. } => return Err(Error::Config(PENALTY_WITHOUT_BATCH_NORM.into())),
                Layer::Act(f @ (Activation::Sigmoid | Activation::Tanh)) => {
                    return Err(Error::Config(format!(
                        "a gradient penalty needs D's activations piecewise linear (ReLU, LeakyReLU), not {f:?}"
                    )));
                }
                _ => {}
            }
        }
        if self.input_grad_adjoints.is_empty() {
            for i in 0..self.layers.len() {
                let t = match self.layers[i] {
                    Layer::Reshape if i > 0 => self.input_grad_adjoints[i - 1].clone(),
                    _ => b.alloc(self.acts[i].len())?,
                };
                self.input_grad_adjoints.push(t);
            }
        }
        Ok(())
    }

    /// The double backward of a gradient penalty: after [`Net::forward`] on x and
    /// [`Net::backward`] of an output gradient that does not depend on the weights (e.g. ones)
    /// into `dx`, and given `adjoint` = dP/d(dx) for a penalty P of that input gradient,
    /// accumulates dP/d(parameters) into the gradients.
    ///
    /// The input gradient is a chain of the layers' transposed linear maps (dx = W₁ᵀ M₁ W₂ᵀ …)
    /// whose masks M (activation slopes, dropout) are piecewise constant, so its derivative
    /// runs the chain the other way: each weighted layer applies its forward map without bias
    /// to the adjoint (e ← W e), each mask multiplies it, and the weight gradient is the layer's
    /// ordinary weight gradient with the adjoint in place of its input and the first backward's
    /// output gradient as dy. Biases get nothing (they only move the masks' kinks).
    pub fn input_grad_backward(&mut self, b: &mut B, adjoint: &B::T) -> Result<()> {
        assert!(!self.input_grad_adjoints.is_empty(), "enable_input_grad_backward first");
        let last = self.layers.len() - 1;
        for i in 0..self.layers.len() {
            let e_in = if i == 0 { adjoint } else { &self.input_grad_adjoints[i - 1] };
            // The last layer's adjoint would belong to the output gradient, a constant.
            let e_out = (i < last).then(|| &self.input_grad_adjoints[i]);
            let dy = &self.dacts[i];
            match &self.layers[i] {
                Layer::Linear { s, w, .. } => {
                    if let Some(e) = e_out {
                        crate::ops::linear::forward(b, s, e_in, &w.value, None, e)?;
                    }
                    crate::ops::linear::backward(b, s, e_in, &w.value, dy, weight_grad_only(w))?
                }
                Layer::Conv { s, w, .. } => {
                    if let Some(e) = e_out {
                        crate::ops::conv2d::forward(b, s, e_in, &w.value, None, e)?;
                    }
                    crate::ops::conv2d::backward(b, s, e_in, &w.value, dy, weight_grad_only(w))?
                }
                Layer::ConvT { s, w, .. } => {
                    if let Some(e) = e_out {
                        crate::ops::conv_transpose2d::forward(b, s, e_in, &w.value, None, e)?;
                    }
                    crate::ops::conv_transpose2d::backward(b, s, e_in, &w.value, dy, weight_grad_only(w))?
                }
                Layer::Norm { .. } => unreachable!("refused by enable_input_grad_backward"),
                Layer::Act(f) => {
                    if let Some(e) = e_out {
                        crate::ops::activation::backward(b, *f, &self.acts[i], e_in, e)?
                    }
                }
                Layer::Drop { draw, .. } => match (e_out, draw) {
                    (Some(e), Some(draw)) => crate::ops::dropout::apply(b, draw, e_in, e)?,
                    (Some(e), None) => b.copy(e_in, e)?,
                    (None, _) => {}
                },
                Layer::Reshape => {
                    if let (0, Some(e)) = (i, e_out) {
                        b.copy(e_in, e)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every parameter and batch-norm statistic under its PyTorch name and shape: `<i>.weight`,
    /// `<i>.bias`, `<i>.running_mean`, `<i>.running_var`, where i is the layer's index, as in an
    /// `nn.Sequential` of the same layers (batch norm's gamma and beta are its weight and bias;
    /// a spectral-normalised weight is the raw one). Views of the flat buffers.
    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, B::T)> {
        let mut out = Vec::new();
        for info in &self.param_infos {
            let (layer, kind) = info.name.split_once('.').expect("parameter names are <layer>.<kind>");
            let i: usize = layer.parse().expect("a layer index");
            let kind = match kind {
                "gamma" => "weight",
                "beta" => "bias",
                k => k,
            };
            let t = self.params.slice(info.offset, info.len);
            out.push((format!("{i}.{kind}"), self.layers[i].weight_shape(kind), t));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if let Layer::Norm { s, running, .. } = l {
                out.push((format!("{i}.running_mean"), vec![s.c], running.slice(0, s.c)));
                out.push((format!("{i}.running_var"), vec![s.c], running.slice(s.c, s.c)));
            }
        }
        out
    }

    /// PyTorch's default initialisation; see [`Net::init_with`].
    pub fn init(&mut self, b: &mut B, seed: u64) -> Result<()> {
        self.init_with(b, seed, InitScheme::Pytorch)
    }

    /// Initial weights drawn from the counter-based generator, so the GPU and CPU backends start
    /// from identical weights. Running statistics start at mean 0, var 1.
    pub fn init_with(&mut self, b: &mut B, seed: u64, scheme: InitScheme) -> Result<()> {
        use crate::ops::random::reference::{normal, uniform};
        let mut host = vec![0.0f32; self.params.len()];
        for (k, info) in self.param_infos.iter().enumerate() {
            let dst = &mut host[info.offset..info.offset + info.len];
            let at = (k as u64) << 32;
            match (scheme, info.init_bound) {
                (InitScheme::Pytorch, Some(bound)) => uniform(dst, seed, at, -bound, bound),
                (InitScheme::Dcgan, Some(_)) if info.name.ends_with("weight") => {
                    normal(dst, seed, at, 0.0, 0.02)
                }
                (InitScheme::Dcgan, Some(_)) => dst.fill(0.0),
                (InitScheme::Dcgan, None) if info.name.ends_with("gamma") => normal(dst, seed, at, 1.0, 0.02),
                (_, None) => dst.fill(info.init_value),
            }
        }
        b.write(&self.params, &host)?;
        let mut running = vec![0.0f32; self.running.len()];
        let mut off = 0;
        for l in &self.layers {
            if let Layer::Norm { s, .. } = l {
                running[off + s.c..off + 2 * s.c].fill(1.0);
                off += aligned(2 * s.c);
            }
        }
        b.write(&self.running, &running)?;
        // Spectral norm's u and v start as random unit vectors (as in PyTorch), σ at 1.
        for (k, sp) in self.spectral.iter().enumerate() {
            let at = ((self.param_infos.len() + k) as u64) << 32;
            for (t, off) in [(&sp.u, 0u64), (&sp.v, 1 << 31)] {
                let mut unit = vec![0.0f32; t.len()];
                normal(&mut unit, seed, at + off, 0.0, 1.0);
                let norm = unit.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                unit.iter_mut().for_each(|x| *x /= norm);
                b.write(t, &unit)?;
            }
            b.write(&sp.state, &[1.0, 0.0])?;
        }
        self.normalise_weights(b)?;
        b.zero(&self.grads)
    }

    /// Spectral norm: one power iteration and w / σ(w) for every normalised weight. Call it
    /// before the forward passes that follow a weight update; one call serves every forward and
    /// backward until the next update (their gradients share its σ, u and v).
    pub fn normalise_weights(&mut self, b: &mut B) -> Result<()> {
        for sp in &self.spectral {
            crate::ops::spectral_norm::forward(b, &sp.s, &sp.raw, &sp.state(), &sp.normalised)?;
        }
        Ok(())
    }

    /// Turns the accumulated gradients of normalised weights into those of the raw weights:
    /// after the backward passes, before the optimizer step.
    pub fn spectral_backward(&mut self, b: &mut B) -> Result<()> {
        for sp in &self.spectral {
            crate::ops::spectral_norm::backward(b, &sp.s, &sp.normalised, &sp.state(), &sp.grad)?;
        }
        Ok(())
    }

    pub fn has_batch_norm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::Norm { .. }))
    }

    /// The momentum of every batch-norm layer's running statistics: `Some(m)`, or the spec's
    /// with None. (Momentum 1/(k+1) on the k-th batch makes them a cumulative average.)
    pub fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        for (layer, spec) in self.layers.iter_mut().zip(&self.spec.layers) {
            if let (Layer::Norm { s, .. }, LayerSpec::BatchNorm { momentum: m, .. }) = (layer, spec) {
                s.momentum = momentum.unwrap_or(*m);
            }
        }
    }

    /// The output of the last forward pass: [batch, output shape].
    pub fn output(&self) -> &B::T {
        self.acts.last().expect("a network has layers")
    }

    /// The output of layer `i` in the last forward pass (e.g. a classifier's features).
    pub fn activation(&self, i: usize) -> &B::T {
        &self.acts[i]
    }

    /// Where the caller puts dL/d(output) before [`Net::backward`].
    pub fn output_grad(&self) -> &B::T {
        self.dacts.last().expect("a network has layers")
    }

    pub fn output_shape(&self) -> Shape {
        self.spec.output().expect("checked at build")
    }

    /// Runs every layer on `x` [batch, input shape]. Dropout draws from (seed, offset + layer),
    /// and backward reuses the same draw.
    pub fn forward(&mut self, b: &mut B, x: &B::T, training: bool, seed: u64, offset: u64) -> Result<()> {
        let mut fused = false;
        for i in 0..self.layers.len() {
            let (input, out) = (if i == 0 { x } else { &self.acts[i - 1] }, &self.acts[i]);
            if std::mem::take(&mut fused) {
                // This activation ran inside the layer before it.
                continue;
            }
            // A weighted layer followed by an activation writes the activation's output directly
            // (its own output buffer then goes unwritten; backward reads only the activation's).
            if let (Some((op, w, bias)), Some(Layer::Act(f))) =
                (self.layers[i].weighted(), self.layers.get(i + 1))
            {
                op.act_forward(b, (input, w, bias), *f, out, &self.acts[i + 1])?;
                fused = true;
                continue;
            }
            match &mut self.layers[i] {
                Layer::Linear { s, w, b: bias } => {
                    crate::ops::linear::forward(b, s, input, &w.value, bias.as_ref().map(|p| &p.value), out)?
                }
                Layer::Conv { s, w, b: bias } => {
                    crate::ops::conv2d::forward(b, s, input, &w.value, bias.as_ref().map(|p| &p.value), out)?
                }
                Layer::ConvT { s, w, b: bias } => crate::ops::conv_transpose2d::forward(
                    b,
                    s,
                    input,
                    &w.value,
                    bias.as_ref().map(|p| &p.value),
                    out,
                )?,
                Layer::Norm { s, gamma, beta, running, saved } => {
                    let st = BatchNormState { gamma: &gamma.value, beta: &beta.value, running, saved };
                    crate::ops::batch_norm::forward(b, s, input, &st, out, training)?
                }
                Layer::Act(f) => crate::ops::activation::forward(b, *f, input, out)?,
                Layer::Drop { prob, draw } => {
                    if training && *prob > 0.0 {
                        // Offsets leave room for 2^32 elements per layer per call.
                        let d = Dropout { prob: *prob, seed, offset: offset.wrapping_add((i as u64) << 32) };
                        crate::ops::dropout::apply(b, &d, input, out)?;
                        *draw = Some(d);
                    } else {
                        b.copy(input, out)?;
                        *draw = None;
                    }
                }
                Layer::Reshape => {
                    if i == 0 {
                        b.copy(input, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Back-propagates [`Net::output_grad`] through the last forward pass (same `x`). Writes
    /// dL/dx into `dx` when given; accumulates parameter gradients when `param_grads`.
    pub fn backward(&mut self, b: &mut B, x: &B::T, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        for i in (0..self.layers.len()).rev() {
            self.backward_layer(b, i, x, dx, param_grads)?;
        }
        Ok(())
    }

    /// The features a head beside the last layer reads (e.g. InfoGAN's Q): the last layer's
    /// input, [batch, features].
    pub fn features(&self) -> &B::T {
        &self.acts[self.layers.len() - 2]
    }

    /// [`Net::backward`] with `feature_grad`, a head's gradient of its loss with respect to
    /// [`Net::features`], added to the gradient the last layer hands back there.
    pub fn backward_with_feature_grad(
        &mut self,
        b: &mut B,
        x: &B::T,
        dx: Option<&B::T>,
        param_grads: bool,
        feature_grad: &B::T,
    ) -> Result<()> {
        let last = self.layers.len() - 1;
        self.backward_layer(b, last, x, dx, param_grads)?;
        // An element-wise add: a channel sum over a batch of one.
        let len = feature_grad.len();
        let add = crate::ops::reduce::ChannelSum { n: 1, channels: len, spatial: 1 };
        crate::ops::reduce::sum_channels(b, &add, feature_grad, &self.dacts[last - 1], true)?;
        for i in (0..last).rev() {
            self.backward_layer(b, i, x, dx, param_grads)?;
        }
        Ok(())
    }

    fn backward_layer(
        &self,
        b: &mut B,
        i: usize,
        x: &B::T,
        dx: Option<&B::T>,
        param_grads: bool,
    ) -> Result<()> {
        let input = if i == 0 { x } else { &self.acts[i - 1] };
        let din = if i == 0 { dx } else { Some(&self.dacts[i - 1]) };
        let dout = &self.dacts[i];
        match &self.layers[i] {
            Layer::Linear { s, w, b: bias } => {
                let g = weight_grads(din, w, bias, param_grads);
                crate::ops::linear::backward(b, s, input, &w.value, dout, g)?
            }
            Layer::Conv { s, w, b: bias } => {
                let g = weight_grads(din, w, bias, param_grads);
                crate::ops::conv2d::backward(b, s, input, &w.value, dout, g)?
            }
            Layer::ConvT { s, w, b: bias } => {
                let g = weight_grads(din, w, bias, param_grads);
                crate::ops::conv_transpose2d::backward(b, s, input, &w.value, dout, g)?
            }
            Layer::Norm { s, gamma, beta, saved, .. } => {
                let d = din.unwrap_or(&self.sink);
                crate::ops::batch_norm::backward(
                    b,
                    s,
                    input,
                    &gamma.value,
                    saved,
                    dout,
                    (d, &gamma.grad, &beta.grad),
                )?
            }
            Layer::Act(f) => {
                if let Some(d) = din {
                    crate::ops::activation::backward(b, *f, &self.acts[i], dout, d)?
                }
            }
            Layer::Drop { draw, .. } => {
                if let Some(d) = din {
                    match draw {
                        Some(draw) => crate::ops::dropout::apply(b, draw, dout, d)?,
                        None => b.copy(dout, d)?,
                    }
                }
            }
            Layer::Reshape => {
                if let (0, Some(d)) = (i, din) {
                    b.copy(dout, d)?;
                }
            }
        }
        Ok(())
    }
}
