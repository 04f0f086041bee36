//! A network built on a backend: buffers for a fixed batch, forward and explicit backward. Its
//! layers are a [`Sequence`] (whose children may be blocks of layers); all its parameters live in
//! one flat buffer, each under the path that names it.

use super::layer::{Adjoint, Build, Io, Layer, Run, Spectral, aligned};
use super::layers::{Declared, build_sequence, declare};
use super::sequence::Sequence;
use super::spec::{NetSpec, Shape};
use crate::backend::{Backend, Tensor};
use crate::error::Result;
use crate::ops::mix::axpy;

/// Where one named parameter tensor lives in the flat buffer.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamInfo {
    /// Its path: `<layer>.weight` at the top, `<layer>.main.<layer>.weight` inside a block.
    pub name: String,
    pub offset: usize,
    pub len: usize,
    /// PyTorch-style default init bound: U(−bound, bound); None for batch-norm gamma/beta.
    pub init_bound: Option<f32>,
    pub init_value: f32,
    /// Its PyTorch shape.
    #[serde(default)]
    pub shape: Vec<usize>,
}

/// He's gain for (leaky) ReLU layers: weights of standard deviation √2/√fan_in.
pub const HE_GAIN: f32 = std::f32::consts::SQRT_2;

/// How [`Net::init_with`] draws the first weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's layer defaults: U(−1/√fan_in, 1/√fan_in) for weights and biases.
    #[default]
    Pytorch,
    /// Radford et al. 2015: weights N(0, 0.02), biases 0, batch-norm scale N(1, 0.02).
    Dcgan,
    /// He et al. 2015: weights N(0, 2/fan_in), biases 0 (what equalised learning rates start
    /// from: Karras et al.'s N(0, 1) weights scaled by √(2/fan_in)).
    He,
}

pub struct Net<B: Backend> {
    pub spec: NetSpec,
    pub batch: usize,
    root: Sequence<B>,
    /// All parameters, and their gradients, in one flat buffer each.
    pub params: B::T,
    pub grads: B::T,
    pub param_infos: Vec<ParamInfo>,
    /// Batch-norm running statistics of every layer, in one flat buffer (checkpointed).
    pub running: B::T,
    /// Each batch-norm layer's path and channels, in the order of `running`.
    norms: Vec<(String, usize)>,
    /// The network's output and dL/d(output).
    out: B::T,
    dout: B::T,
    spectral: Vec<Spectral<B::T>>,
    /// Every spectral-normalised weight's u, v and (σ, scratch), in one flat buffer (checkpointed).
    pub spectral_state: B::T,
    /// The second input [batch]: each sample's class, read by projection layers.
    labels: B::T,
}

/// Why a network with batch norm cannot take a gradient penalty.
pub const PENALTY_WITHOUT_BATCH_NORM: &str = "a gradient penalty (--loss wgan-gp, --r1) is per sample and batch \
     norm in D mixes the samples: leave out --d-batch-norm";

impl<B: Backend> Net<B> {
    pub fn new(b: &mut B, spec: &NetSpec, batch: usize) -> Result<Self> {
        let shapes = spec.shapes()?;
        let mut declared = Declared::default();
        for (i, l) in spec.layers.iter().enumerate() {
            let inp = if i == 0 { spec.input } else { shapes[i - 1] };
            declare(l, inp, &i.to_string(), spec.spectral_norm, &mut declared)?;
        }
        let params = b.alloc(declared.total.max(1))?;
        let grads = b.alloc(declared.total.max(1))?;
        let running = b.alloc(declared.running.max(1))?;
        let spectral_state = b.alloc(declared.spectral.max(1))?;
        let sink = b.alloc(batch * spec.input.size())?;
        let out_len = batch * spec.output()?.size();
        let (out, dout) = (b.alloc(out_len)?, b.alloc(out_len)?);
        let labels = b.alloc(batch)?;
        let mut cx = Build {
            b,
            batch,
            params: &params,
            grads: &grads,
            infos: declared.params.iter(),
            running: &running,
            running_at: 0,
            spectral: spec.spectral_norm.then_some((&spectral_state, 0)),
            spectral_list: Vec::new(),
            serial: 0,
            sink,
            labels: labels.clone(),
            last_param: String::new(),
        };
        let root = build_sequence(&spec.layers, spec.input, "", &mut cx)?;
        let spectral = std::mem::take(&mut cx.spectral_list);
        Ok(Net {
            spec: spec.clone(),
            batch,
            root,
            params: params.clone(),
            grads: grads.clone(),
            param_infos: declared.params.clone(),
            running: running.clone(),
            norms: declared.norms.clone(),
            out,
            dout,
            spectral,
            spectral_state: spectral_state.clone(),
            labels,
        })
    }

    /// The class labels [batch] the next passes read, where the network has a projection layer
    /// (write them before the forward pass: the backward passes read them too).
    pub fn labels(&self) -> Option<&B::T> {
        self.spec.reads_labels().then_some(&self.labels)
    }

    /// Makes the buffers [`Net::input_grad_backward`] needs, after checking that the network
    /// is one whose input gradient it differentiates exactly: a gradient penalty is per sample,
    /// which batch norm breaks, and a curved activation's second derivative is not carried.
    pub fn enable_input_grad_backward(&mut self, b: &mut B) -> Result<()> {
        self.root.enable_input_grad_backward(b)
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
        // The input is not read: every layer's weight gradient takes the adjoint in its place.
        let io = Io { x: adjoint, y: &self.out, dy: &self.dout };
        // The last layer's adjoint would belong to the output gradient, a constant.
        self.root.input_grad_backward(b, io, Adjoint { input: adjoint, output: None })
    }

    /// Every parameter and batch-norm statistic under its PyTorch name and shape: `<i>.weight`,
    /// `<i>.bias`, `<i>.running_mean`, `<i>.running_var`, where i is the layer's index, as in an
    /// `nn.Sequential` of the same layers (batch norm's gamma and beta are its weight and bias;
    /// a spectral-normalised weight is the raw one). Views of the flat buffers.
    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, B::T)> {
        let mut out = Vec::new();
        for info in &self.param_infos {
            let name = match info.name.rsplit_once('.') {
                Some((path, "gamma")) => format!("{path}.weight"),
                Some((path, "beta")) => format!("{path}.bias"),
                _ => info.name.clone(),
            };
            out.push((name, info.shape.clone(), self.params.slice(info.offset, info.len)));
        }
        let mut at = 0;
        for (path, c) in &self.norms {
            out.push((format!("{path}.running_mean"), vec![*c], self.running.slice(at, *c)));
            out.push((format!("{path}.running_var"), vec![*c], self.running.slice(at + c, *c)));
            at += aligned(2 * c);
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
                (InitScheme::Dcgan, Some(_)) if info.name.ends_with("weight") => normal(dst, seed, at, 0.0, 0.02),
                (InitScheme::He, Some(bound)) if info.name.ends_with("weight") => {
                    normal(dst, seed, at, 0.0, HE_GAIN * bound)
                }
                (InitScheme::Dcgan | InitScheme::He, Some(_)) => dst.fill(0.0),
                (InitScheme::Dcgan, None) if info.name.ends_with("gamma") => normal(dst, seed, at, 1.0, 0.02),
                (_, None) => dst.fill(info.init_value),
            }
        }
        b.write(&self.params, &host)?;
        let mut running = vec![0.0f32; self.running.len()];
        let mut off = 0;
        for &(_, c) in &self.norms {
            running[off + c..off + 2 * c].fill(1.0);
            off += aligned(2 * c);
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

    /// Equalised learning rates (Karras et al. 2018) as learning-rate groups of the flat
    /// buffer: (start, len, scale), covering it in order. Karras et al. keep weights w' ~ N(0, 1)
    /// and compute with c·w', c = √2/√fan_in; Adam's step does not depend on the gradient's
    /// scale, so it moves w' by about lr and the weight c·w' by c·lr. The same training is He's
    /// initialisation of the weight itself and Adam at c·lr on it, which leaves the weights as
    /// they compute (for export and sampling) and costs no runtime scaling. Biases and other
    /// parameters keep the base rate.
    pub fn equalized_lr_groups(&self) -> Vec<(usize, usize, f32)> {
        let mut groups: Vec<(usize, usize, f32)> = Vec::new();
        for (k, info) in self.param_infos.iter().enumerate() {
            let end = self.param_infos.get(k + 1).map_or(self.params.len(), |next| next.offset);
            let scale = match info.init_bound {
                Some(bound) if info.name.ends_with("weight") => HE_GAIN * bound,
                _ => 1.0,
            };
            let start = groups.last().map_or(0, |g| g.0 + g.1);
            match groups.last_mut() {
                Some(last) if last.2 == scale => last.1 = end - last.0,
                _ => groups.push((start, end - start, scale)),
            }
        }
        groups
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

    /// Each spectral-normalised weight's name (`<path>.weight`) and its state: u, v and
    /// (σ, scratch).
    pub fn spectral_states(&self) -> Vec<(&str, [&B::T; 3])> {
        self.spectral.iter().map(|sp| (sp.name.as_str(), [&sp.u, &sp.v, &sp.state])).collect()
    }

    pub fn has_batch_norm(&self) -> bool {
        !self.norms.is_empty()
    }

    /// The momentum of every batch-norm layer's running statistics: `Some(m)`, or the spec's
    /// with None. (Momentum 1/(k+1) on the k-th batch makes them a cumulative average.)
    pub fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        self.root.set_batch_norm_momentum(momentum);
    }

    /// Every blend's α (progressive growing's fade-in): (1 − α)·a + α·b.
    pub fn set_blend(&mut self, alpha: f32) {
        self.root.set_blend(alpha);
    }

    /// The output of the last forward pass: [batch, output shape].
    pub fn output(&self) -> &B::T {
        &self.out
    }

    /// The output of top-level layer `i` in the last forward pass (e.g. a classifier's features).
    pub fn activation(&self, i: usize) -> &B::T {
        if i + 1 == self.root.len() { &self.out } else { self.root.activation(i) }
    }

    /// Where the caller puts dL/d(output) before [`Net::backward`].
    pub fn output_grad(&self) -> &B::T {
        &self.dout
    }

    pub fn output_shape(&self) -> Shape {
        self.spec.output().expect("checked at build")
    }

    /// Runs every layer on `x` [batch, input shape]. Dropout draws from (seed, offset + its
    /// index in build order), and backward reuses the same draw.
    pub fn forward(&mut self, b: &mut B, x: &B::T, training: bool, seed: u64, offset: u64) -> Result<()> {
        self.root.forward(b, x, &self.out, Run { training, seed, offset })
    }

    /// Back-propagates [`Net::output_grad`] through the last forward pass (same `x`). Writes
    /// dL/dx into `dx` when given; accumulates parameter gradients when `param_grads`.
    pub fn backward(&mut self, b: &mut B, x: &B::T, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        self.root.backward(b, Io { x, y: &self.out, dy: &self.dout }, dx, param_grads)
    }

    /// The features a head beside the last layer reads (e.g. InfoGAN's Q): the last layer's
    /// input, [batch, features].
    pub fn features(&self) -> &B::T {
        self.activation(self.root.len() - 2)
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
        let io = Io { x, y: &self.out, dy: &self.dout };
        let last = self.root.len() - 1;
        self.root.backward_child(b, last, io, dx, param_grads)?;
        axpy(b, 1.0, feature_grad, 1.0, self.root.input_grad_of(last))?;
        for i in (0..last).rev() {
            self.root.backward_child(b, i, io, dx, param_grads)?;
        }
        Ok(())
    }
}
