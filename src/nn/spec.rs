//! What a network is made of, independent of any backend: serialisable, so it goes into
//! config.json and checkpoints.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::activation::Activation;
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::linear::Linear;
use crate::ops::weighted_forward;

/// Per-sample shape (channels, height, width); a flat vector is (n, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape(pub usize, pub usize, pub usize);

impl Shape {
    pub fn size(&self) -> usize {
        self.0 * self.1 * self.2
    }
}

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
                let s =
                    ConvTranspose2d { n, c, h, w, k, kh: kernel, kw: kernel, stride, pad, output_padding };
                Some((WeightedOp::ConvTranspose2d(s), bias))
            }
            _ => None,
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
        let mut cur = self.input;
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            let bad = |msg: String| Error::Config(format!("layer {i} ({l:?}): {msg}"));
            cur = match *l {
                LayerSpec::Linear { out, .. } => Shape(out, 1, 1),
                LayerSpec::Conv2d { out, kernel, stride, pad, .. } => {
                    if cur.1 + 2 * pad < kernel || cur.2 + 2 * pad < kernel || stride == 0 {
                        return Err(bad(format!("kernel {kernel} does not fit input {cur:?}")));
                    }
                    Shape(
                        out,
                        (cur.1 + 2 * pad - kernel) / stride + 1,
                        (cur.2 + 2 * pad - kernel) / stride + 1,
                    )
                }
                LayerSpec::ConvTranspose2d { out, kernel, stride, pad, output_padding, .. } => {
                    let f = |i: usize| ((i - 1) * stride + kernel + output_padding).checked_sub(2 * pad);
                    match (f(cur.1), f(cur.2)) {
                        (Some(h), Some(w)) if h > 0 && w > 0 && stride > 0 => Shape(out, h, w),
                        _ => {
                            return Err(bad(format!("padding leaves no output for input {cur:?}")));
                        }
                    }
                }
                LayerSpec::Reshape { to } => {
                    if to.size() != cur.size() {
                        return Err(bad(format!("cannot reshape {cur:?} to {to:?}")));
                    }
                    to
                }
                LayerSpec::BatchNorm { .. } | LayerSpec::Activation { .. } | LayerSpec::Dropout { .. } => cur,
            };
            out.push(cur);
        }
        Ok(out)
    }

    pub fn output(&self) -> Result<Shape> {
        Ok(self.shapes()?.last().copied().unwrap_or(self.input))
    }

    /// Multiply-accumulates of one sample's forward pass, counted as the PyTorch reference
    /// bench counts them (linear i·o, conv Hout·Wout·Cin·Cout·K², transposed conv Hin·Win·Cin·Cout·K²),
    /// one entry per linear/conv layer.
    pub fn forward_macs(&self) -> Result<Vec<u64>> {
        let shapes = self.shapes()?;
        let mut macs = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let inp = if i == 0 { self.input } else { shapes[i - 1] };
            let o = shapes[i];
            match *l {
                LayerSpec::Linear { out, .. } => macs.push((inp.size() * out) as u64),
                LayerSpec::Conv2d { kernel, .. } => {
                    macs.push((o.1 * o.2 * inp.0 * o.0 * kernel * kernel) as u64)
                }
                LayerSpec::ConvTranspose2d { kernel, .. } => {
                    macs.push((inp.1 * inp.2 * inp.0 * o.0 * kernel * kernel) as u64)
                }
                _ => {}
            }
        }
        Ok(macs)
    }
}
