//! The one trait every layer and every block implements, and what building one is given.
//!
//! A layer computes y = f(x) for a fixed batch. Who calls it owns x, y and their gradients (a
//! sequence owns the buffers between its children), so a block of layers is itself a layer.
//! Parameter views come from the network's flat buffers in the order the spec declares them
//! ([`super::layers::declare`]), each under the path that names it in checkpoints.

use super::spec::WeightedOp;
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::ops::activation::Activation;
use crate::ops::spectral_norm::{SpectralNorm, SpectralState};

/// A pass's tensors as a layer's backward sees them: its input, its output and dL/d(output).
pub struct Io<'a, T> {
    pub x: &'a T,
    pub y: &'a T,
    pub dy: &'a T,
}

impl<T> Clone for Io<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Io<'_, T> {}

/// The double backward's adjoint at a layer's input, and where its image at the output goes
/// (None where nobody reads it).
pub struct Adjoint<'a, T> {
    pub input: &'a T,
    pub output: Option<&'a T>,
}

impl<T> Clone for Adjoint<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Adjoint<'_, T> {}

/// What a forward pass is: training or evaluation, and dropout's random stream.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub training: bool,
    pub seed: u64,
    pub offset: u64,
}

/// A weighted layer's op, weight and optional bias.
pub type WeightedView<'a, T> = (WeightedOp, &'a T, Option<&'a T>);

pub trait Layer<B: Backend> {
    /// y = f(x), both [batch, shape].
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()>;

    /// From `io.dy` after the forward pass on `io.x`: writes dL/dx into `dx` when given (input
    /// gradients overwrite) and accumulates parameter gradients when `param_grads`.
    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()>;

    /// The double backward of a gradient penalty (see [`super::Net::input_grad_backward`]):
    /// carries the adjoint `e.input` at this layer's input to its output as the linearised
    /// layer maps it (into `e.output`, when someone reads it) and accumulates the weight gradients of
    /// ⟨e, dx⟩ with `io.dy` from the first backward.
    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()>;

    /// Checks that [`Layer::input_grad_backward`] is exact here, and makes its buffers.
    fn enable_input_grad_backward(&mut self, _b: &mut B) -> Result<()> {
        Ok(())
    }

    /// A linear or convolution layer's op, weight and bias: a sequence fuses the activation
    /// that follows it into its stores.
    fn weighted(&self) -> Option<WeightedView<'_, B::T>> {
        None
    }

    /// An activation layer's function.
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// Whether y is x reinterpreted (a reshape): a sequence then gives both one buffer.
    fn is_view(&self) -> bool {
        false
    }

    /// Batch norm's running-statistics momentum: `Some(m)`, or the spec's with None.
    fn set_batch_norm_momentum(&mut self, _momentum: Option<f32>) {}

    /// Every blend's α (progressive growing's fade-in).
    fn set_blend(&mut self, _alpha: f32) {}
}

/// A parameter view and its gradient view.
#[derive(Clone, Debug)]
pub struct Param<T> {
    pub value: T,
    pub grad: T,
}

/// A weight divided by its spectral norm: the raw weight lives in the flat buffer (the optimizer
/// updates it), the layer computes with the normalised copy, and its gradient slot first
/// receives dL/d(normalised), which [`super::Net::spectral_backward`] turns into dL/d(raw).
pub(super) struct Spectral<T> {
    /// The weight's parameter name (`<path>.weight`).
    pub name: String,
    pub s: SpectralNorm,
    pub raw: T,
    pub normalised: T,
    pub grad: T,
    pub u: T,
    pub v: T,
    pub state: T,
}

impl<T> Spectral<T> {
    pub fn state(&self) -> SpectralState<'_, T> {
        SpectralState { u: &self.u, v: &self.v, state: &self.state }
    }
}

/// Parameter tensors start on 64-float (256-byte) boundaries of the flat buffer: the largest
/// storage-offset alignment wgpu allows, so every view can be bound on every adapter.
pub(super) const ALIGN: usize = 64;

pub(super) fn aligned(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// What building a layer is given: the backend, the batch, and cursors over the network's flat
/// buffers that hand out views in declaration order.
pub struct Build<'a, B: Backend> {
    pub b: &'a mut B,
    pub batch: usize,
    pub(super) params: &'a B::T,
    pub(super) grads: &'a B::T,
    pub(super) infos: std::slice::Iter<'a, super::ParamInfo>,
    pub(super) running: &'a B::T,
    pub(super) running_at: usize,
    /// Present when the network's weights are spectral-normalised.
    pub(super) spectral: Option<(&'a B::T, usize)>,
    pub(super) spectral_list: Vec<Spectral<B::T>>,
    /// Each layer's own index in build order: dropout's random stream.
    pub(super) serial: u64,
    /// Receives an input gradient nobody asked for, where a kernel always writes one: only a
    /// network's first layers are asked for none, so it has the network input's size.
    pub(super) sink: B::T,
    /// The network's second input, one class label a sample (see [`super::Net::labels`]).
    pub(super) labels: B::T,
    /// The name of the parameter [`Build::param`] handed out last.
    pub(super) last_param: String,
}

impl<B: Backend> Build<'_, B> {
    /// The next declared parameter, which must be `name` (a `.`-separated path's last part).
    pub fn param(&mut self, name: &str) -> Result<Param<B::T>> {
        let info = self.infos.next().ok_or_else(|| Error::Config(format!("parameter {name} not declared")))?;
        if !info.name.ends_with(name) {
            return Err(Error::Config(format!("parameter {} built as {name}", info.name)));
        }
        self.last_param.clone_from(&info.name);
        Ok(Param { value: self.params.slice(info.offset, info.len), grad: self.grads.slice(info.offset, info.len) })
    }

    /// The next `len` floats of the running-statistics buffer.
    pub fn running(&mut self, len: usize) -> B::T {
        let t = self.running.slice(self.running_at, len);
        self.running_at += aligned(len);
        t
    }

    /// Spectral-normalises `w` when the network is: the layer then computes with a normalised
    /// copy (its value) while the optimizer updates the raw weight.
    pub fn spectral(&mut self, w: &mut Param<B::T>, op: &WeightedOp) -> Result<()> {
        let Some((state, at)) = &mut self.spectral else { return Ok(()) };
        let (m, k) = op.matrix();
        let s = SpectralNorm::new(m, k);
        let mut next = |len: usize| {
            let t = state.slice(*at, len);
            *at += aligned(len);
            t
        };
        let (u, v, st) = (next(s.m), next(s.k), next(2));
        let normalised = self.b.alloc(w.value.len())?;
        let raw = std::mem::replace(&mut w.value, normalised.clone());
        let name = self.last_param.clone();
        self.spectral_list.push(Spectral { name, s, raw, normalised, grad: w.grad.clone(), u, v, state: st });
        Ok(())
    }

    /// This layer's index in build order.
    pub fn next_serial(&mut self) -> u64 {
        let s = self.serial;
        self.serial += 1;
        s
    }

    pub fn alloc(&mut self, len: usize) -> Result<B::T> {
        self.b.alloc(len)
    }
}
