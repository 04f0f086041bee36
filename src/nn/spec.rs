//! What a network is made of, independent of any backend: serialisable, so it goes into
//! config.json and checkpoints.

use serde::{Deserialize, Serialize};

use super::layers::LayerSpec;
use crate::backend::{Backend, Grads};
use crate::error::Result;
use crate::ops::activation::Activation;
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::linear::Linear;
use crate::ops::{weighted_backward, weighted_forward};

/// Per-sample shape (channels, height, width); a flat vector is (n, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape(pub usize, pub usize, pub usize);

impl Shape {
    pub fn size(&self) -> usize {
        self.0 * self.1 * self.2
    }
}

/// The op shape of a layer with weights, at one batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightedOp {
    Linear(Linear),
    Conv2d(Conv2d),
    ConvTranspose2d(ConvTranspose2d),
}

impl WeightedOp {
    /// The layer's forward followed by `act`, into `y`: the GPU fuses the activation into the
    /// layer's stores (one pass over y instead of three), the CPU reference runs the two ops
    /// through `pre`, which the GPU leaves alone.
    pub fn act_forward<B: Backend>(
        &self,
        b: &mut B,
        (x, w, bias): (&B::T, &B::T, Option<&B::T>),
        act: Activation,
        pre: &B::T,
        y: &B::T,
    ) -> Result<()> {
        let (tensors, act) = ((x, w, bias), Some((act, pre)));
        match *self {
            WeightedOp::Linear(s) => weighted_forward(b, s, tensors, act, y),
            WeightedOp::Conv2d(s) => weighted_forward(b, s, tensors, act, y),
            WeightedOp::ConvTranspose2d(s) => weighted_forward(b, s, tensors, act, y),
        }
    }

    /// y = x ⊛ w + bias.
    pub fn forward<B: Backend>(&self, b: &mut B, tensors: (&B::T, &B::T, Option<&B::T>), y: &B::T) -> Result<()> {
        match *self {
            WeightedOp::Linear(s) => weighted_forward(b, s, tensors, None, y),
            WeightedOp::Conv2d(s) => weighted_forward(b, s, tensors, None, y),
            WeightedOp::ConvTranspose2d(s) => weighted_forward(b, s, tensors, None, y),
        }
    }

    /// The requested dx, dw (+=), db (+=) from (x, w, dy).
    pub fn backward<B: Backend>(&self, b: &mut B, xwdy: (&B::T, &B::T, &B::T), grads: Grads<'_, B::T>) -> Result<()> {
        match *self {
            WeightedOp::Linear(s) => weighted_backward(b, s, xwdy, grads),
            WeightedOp::Conv2d(s) => weighted_backward(b, s, xwdy, grads),
            WeightedOp::ConvTranspose2d(s) => weighted_backward(b, s, xwdy, grads),
        }
    }

    pub fn weight_len(&self) -> usize {
        match *self {
            WeightedOp::Linear(s) => s.in_features * s.out_features,
            WeightedOp::Conv2d(s) => s.k * s.c * s.kh * s.kw,
            WeightedOp::ConvTranspose2d(s) => s.c * s.k * s.kh * s.kw,
        }
    }

    /// Output features or channels: the bias length.
    pub fn outputs(&self) -> usize {
        match *self {
            WeightedOp::Linear(s) => s.out_features,
            WeightedOp::Conv2d(s) => s.k,
            WeightedOp::ConvTranspose2d(s) => s.k,
        }
    }

    /// The weight as the matrix spectral norm divides: [m, k], m its first dimension (output
    /// channels or features; a transposed convolution's input channels), k the rest.
    pub fn matrix(&self) -> (usize, usize) {
        match *self {
            WeightedOp::Linear(s) => (s.out_features, s.in_features),
            WeightedOp::Conv2d(s) => (s.k, s.c * s.kh * s.kw),
            WeightedOp::ConvTranspose2d(s) => (s.c, s.k * s.kh * s.kw),
        }
    }

    pub fn flops_forward(&self) -> u64 {
        match *self {
            WeightedOp::Linear(s) => s.flops_forward(),
            WeightedOp::Conv2d(s) => s.flops_forward(),
            WeightedOp::ConvTranspose2d(s) => s.flops_forward(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    pub input: Shape,
    pub layers: Vec<LayerSpec>,
    /// Every weighted layer computes with its weight divided by its spectral norm (Miyato et al.
    /// 2018); the optimizer updates the raw weight.
    #[serde(default)]
    pub spectral_norm: bool,
}

impl NetSpec {
    /// The per-sample output shape of every layer, or an error naming the layer that does not fit.
    pub fn shapes(&self) -> Result<Vec<Shape>> {
        super::layers::sequence_shapes(&self.layers, self.input, "")
    }

    /// The most floats one sample occupies in any buffer of the network: its input or a
    /// layer's output, blocks' paths included.
    pub fn largest_activation(&self) -> Result<usize> {
        let mut largest = self.input.size();
        super::layers::visit_shapes(&self.layers, self.input, &mut |s| largest = largest.max(s.size()))?;
        Ok(largest)
    }

    /// Whether a layer reads the network's second input, the class labels.
    pub fn reads_labels(&self) -> bool {
        fn any(layers: &[LayerSpec]) -> bool {
            layers.iter().any(|l| {
                matches!(l, LayerSpec::Projection { .. } | LayerSpec::ConditionalBatchNorm { .. })
                    || l.paths().iter().any(|(_, p)| any(p))
            })
        }
        any(&self.layers)
    }

    pub fn output(&self) -> Result<Shape> {
        Ok(self.shapes()?.last().copied().unwrap_or(self.input))
    }

    /// Multiply-accumulates of one sample's forward pass, counted as the PyTorch reference
    /// bench counts them (linear i·o, conv Hout·Wout·Cin·Cout·K², transposed conv Hin·Win·Cin·Cout·K²),
    /// one entry per linear/conv layer, blocks' layers included.
    pub fn forward_macs(&self) -> Result<Vec<u64>> {
        let mut macs = Vec::new();
        sequence_macs(&self.layers, self.input, &mut macs)?;
        Ok(macs)
    }
}

fn sequence_macs(layers: &[LayerSpec], inp: Shape, macs: &mut Vec<u64>) -> Result<()> {
    let shapes = super::layers::sequence_shapes(layers, inp, "")?;
    for (i, l) in layers.iter().enumerate() {
        let (inp, o) = (if i == 0 { inp } else { shapes[i - 1] }, shapes[i]);
        match *l {
            LayerSpec::Linear { out, .. } => macs.push((inp.size() * out) as u64),
            // The head and the class embedding's inner product.
            LayerSpec::Projection { .. } => macs.push(2 * inp.size() as u64),
            LayerSpec::Conv2d { kernel, .. } => macs.push((o.1 * o.2 * inp.0 * o.0 * kernel * kernel) as u64),
            LayerSpec::ConvTranspose2d { kernel, .. } => {
                macs.push((inp.1 * inp.2 * inp.0 * o.0 * kernel * kernel) as u64)
            }
            _ => {
                for (_, path) in l.paths() {
                    sequence_macs(path, inp, macs)?;
                }
            }
        }
    }
    Ok(())
}
