//! The ops of a network at its real layer shapes, each as a benchmark case that runs on any
//! backend: the same inputs on the GPU and on the CPU reference, so the GPU result is checked
//! before it is timed.

use crate::backend::{Backend, Grads};
use crate::error::Result;
use crate::nn::{LayerSpec, NetSpec, WeightedOp};
use crate::ops::activation::Activation;
use crate::ops::adam::AdamStep;
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::gradient_penalty::GradientPenalty;
use crate::ops::linear::Linear;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Linear(Linear, bool),
    Conv2d(Conv2d, bool),
    ConvTranspose2d(ConvTranspose2d, bool),
    Activation(Activation, usize),
    BceWithLogits(usize),
    /// WGAN-GP's penalty on D's input gradient: rows × features.
    GradientPenalty(usize, usize),
    Adam(usize),
}

/// Which pass of an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Forward,
    /// dL/dx.
    BackwardInput,
    /// dL/dw and dL/db (accumulated), or an optimizer's update.
    BackwardWeight,
}

impl Pass {
    pub fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::BackwardInput => "backward_input",
            Pass::BackwardWeight => "backward_weight",
        }
    }
}

/// One timed unit: an op's pass, its inputs, which of them it writes, and its work.
pub struct Case {
    pub net: &'static str,
    pub layer: String,
    pub op: Op,
    pub pass: Pass,
    /// Initial contents of every tensor the pass touches.
    pub tensors: Vec<Vec<f32>>,
    /// Indices of the tensors it writes (compared GPU vs CPU).
    pub outputs: Vec<usize>,
    /// Multiply-adds × 2 for the GEMM-like ops, None for element-wise ones.
    pub flops: Option<u64>,
    /// Bytes read and written once each, for element-wise ops' GB/s.
    pub bytes: u64,
}

impl Case {
    pub fn shape(&self) -> String {
        match self.op {
            Op::Linear(s, _) => format!("{}x{} -> {}", s.batch, s.in_features, s.out_features),
            Op::Conv2d(s, _) => {
                let (oh, ow) = s.out_hw();
                format!("{}x{}x{}x{} -> {}x{}x{} k{} s{}", s.n, s.c, s.h, s.w, s.k, oh, ow, s.kh, s.stride)
            }
            Op::ConvTranspose2d(s, _) => {
                let (oh, ow) = s.out_hw();
                format!("{}x{}x{}x{} -> {}x{}x{} k{} s{}", s.n, s.c, s.h, s.w, s.k, oh, ow, s.kh, s.stride)
            }
            Op::Activation(_, n) | Op::BceWithLogits(n) | Op::Adam(n) => format!("{n}"),
            Op::GradientPenalty(rows, len) => format!("{rows}x{len}"),
        }
    }

    pub fn op_name(&self) -> String {
        match self.op {
            Op::Linear(..) => "linear".into(),
            Op::Conv2d(..) => "conv2d".into(),
            Op::ConvTranspose2d(..) => "conv_transpose2d".into(),
            Op::Activation(a, _) => format!("{a:?}").to_lowercase(),
            Op::BceWithLogits(_) => "bce_with_logits".into(),
            Op::GradientPenalty(..) => "gradient_penalty".into(),
            Op::Adam(_) => "adam".into(),
        }
    }

    /// Records the pass on `b` over `t` (the uploaded [`Case::tensors`]).
    pub fn run<B: Backend>(&self, b: &mut B, t: &[B::T]) -> Result<()> {
        // Weighted ops: [x, w, b, y, dy, dx, dw, db].
        let has_bias = matches!(self.op, Op::Linear(_, true) | Op::Conv2d(_, true) | Op::ConvTranspose2d(_, true));
        let bias = has_bias.then_some(&t[2]);
        let grads = || match self.pass {
            Pass::BackwardInput => Grads { dx: Some(&t[5]), dw: None, db: None },
            _ => Grads { dx: None, dw: Some(&t[6]), db: has_bias.then_some(&t[7]) },
        };
        match (self.op, self.pass) {
            (Op::Linear(s, _), Pass::Forward) => crate::ops::linear::forward(b, &s, &t[0], &t[1], bias, &t[3]),
            (Op::Linear(s, _), _) => crate::ops::linear::backward(b, &s, &t[0], &t[1], &t[4], grads()),
            (Op::Conv2d(s, _), Pass::Forward) => crate::ops::conv2d::forward(b, &s, &t[0], &t[1], bias, &t[3]),
            (Op::Conv2d(s, _), _) => crate::ops::conv2d::backward(b, &s, &t[0], &t[1], &t[4], grads()),
            (Op::ConvTranspose2d(s, _), Pass::Forward) => {
                crate::ops::conv_transpose2d::forward(b, &s, &t[0], &t[1], bias, &t[3])
            }
            (Op::ConvTranspose2d(s, _), _) => {
                crate::ops::conv_transpose2d::backward(b, &s, &t[0], &t[1], &t[4], grads())
            }
            // [x, y, dy, dx]
            (Op::Activation(a, _), Pass::Forward) => crate::ops::activation::forward(b, a, &t[0], &t[1]),
            (Op::Activation(a, _), _) => crate::ops::activation::backward(b, a, &t[1], &t[2], &t[3]),
            // [z, target, loss, dz]
            (Op::BceWithLogits(_), Pass::Forward) => crate::ops::bce_with_logits::LOSS.forward(b, &t[0], &t[1], &t[2]),
            (Op::BceWithLogits(_), _) => crate::ops::bce_with_logits::LOSS.backward(b, &t[0], &t[1], &t[3], 1.0),
            // [g, norm, loss, dg]
            (Op::GradientPenalty(rows, row_len), pass) => {
                let s = GradientPenalty { rows, row_len, dim: row_len, weight: 10.0, target: 1.0 };
                match pass {
                    Pass::Forward => crate::ops::gradient_penalty::forward(b, &s, &t[0], &t[1], &t[2]),
                    _ => crate::ops::gradient_penalty::backward(b, &s, &t[0], &t[1], &t[3]),
                }
            }
            // [param, grad, m, v]
            (Op::Adam(_), _) => crate::ops::adam::step(b, &AdamStep::dcgan(1), &t[0], &t[1], &t[2], &t[3]),
        }
    }
}

/// Deterministic inputs in [−1, 1) (SplitMix64), so every run checks the same numbers.
pub struct Fill(u64);

impl Fill {
    pub fn new(seed: u64) -> Self {
        Fill(seed)
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }
}

/// A weighted layer's passes (forward, input gradient where needed, weight gradient) on random
/// tensors: x, w, b, y, dy, dx, dw, db.
fn weighted_cases(
    net: &'static str,
    layer: usize,
    op: Op,
    sizes: [usize; 4],
    needs_dx: bool,
    fill: &mut Fill,
) -> Vec<Case> {
    let [x_len, y_len, w_len, b_len] = sizes;
    let (bias, flops) = match op {
        Op::Linear(s, bias) => (bias, s.flops_forward()),
        Op::Conv2d(s, bias) => (bias, s.flops_forward()),
        Op::ConvTranspose2d(s, bias) => (bias, s.flops_forward()),
        _ => unreachable!("a weighted op"),
    };
    let mut passes = vec![Pass::Forward, Pass::BackwardWeight];
    if needs_dx {
        passes.insert(1, Pass::BackwardInput);
    }
    let mut case = |pass| {
        let tensors = vec![
            fill.vec(x_len),
            fill.vec(w_len),
            fill.vec(b_len),
            vec![0.0; y_len],
            fill.vec(y_len),
            vec![0.0; x_len],
            vec![0.0; w_len],
            vec![0.0; if bias { b_len } else { 0 }],
        ];
        let outputs = match pass {
            Pass::Forward => vec![3],
            Pass::BackwardInput => vec![5],
            Pass::BackwardWeight if bias => vec![6, 7],
            Pass::BackwardWeight => vec![6],
        };
        Case { net, layer: format!("{layer}"), op, pass, tensors, outputs, flops: Some(flops), bytes: 0 }
    };
    passes.into_iter().map(&mut case).collect()
}

/// An activation's forward (x → y) and backward (y, dy → dx).
fn activation_cases(net: &'static str, layer: usize, f: Activation, y_len: usize, fill: &mut Fill) -> Vec<Case> {
    [Pass::Forward, Pass::BackwardInput]
        .into_iter()
        .map(|pass| {
            let (tensors, outputs, touched) = match pass {
                Pass::Forward => (vec![fill.vec(y_len), vec![0.0; y_len], vec![], vec![]], vec![1], 2),
                _ => {
                    let y = fill.vec(y_len).iter().map(|v| v * 0.99).collect();
                    (vec![vec![], y, fill.vec(y_len), vec![0.0; y_len]], vec![3], 3)
                }
            };
            Case {
                net,
                layer: format!("{layer}"),
                op: Op::Activation(f, y_len),
                pass,
                tensors,
                outputs,
                flops: None,
                bytes: (4 * touched * y_len) as u64,
            }
        })
        .collect()
}

/// Every op pass of `spec` at `batch`, plus its optimizer step; `first_dx` says whether the first
/// layer's input gradient is ever needed (D's is, for the generator step; G's is not).
pub fn cases(net: &'static str, spec: &NetSpec, batch: usize, first_dx: bool, fill: &mut Fill) -> Result<Vec<Case>> {
    let shapes = spec.shapes()?;
    let mut out = Vec::new();
    let mut params = 0;
    for (i, l) in spec.layers.iter().enumerate() {
        let inp = if i == 0 { spec.input } else { shapes[i - 1] };
        let (x_len, y_len) = (batch * inp.size(), batch * shapes[i].size());
        if let Some((wop, bias)) = l.weighted_op(inp, batch) {
            let (w_len, b_len) = (wop.weight_len(), wop.outputs());
            params += w_len + if bias { b_len } else { 0 };
            let op = match wop {
                WeightedOp::Linear(s) => Op::Linear(s, bias),
                WeightedOp::Conv2d(s) => Op::Conv2d(s, bias),
                WeightedOp::ConvTranspose2d(s) => Op::ConvTranspose2d(s, bias),
            };
            out.extend(weighted_cases(net, i, op, [x_len, y_len, w_len, b_len], i > 0 || first_dx, fill));
        } else if let LayerSpec::Activation { f } = *l {
            out.extend(activation_cases(net, i, f, y_len, fill));
        }
    }
    if net == "D" {
        for pass in [Pass::Forward, Pass::BackwardInput] {
            let targets = (0..batch).map(|i| (i % 2) as f32).collect();
            out.push(Case {
                net,
                layer: "loss".into(),
                op: Op::BceWithLogits(batch),
                pass,
                tensors: vec![fill.vec(batch), targets, vec![0.0; batch], vec![0.0; batch]],
                outputs: vec![if pass == Pass::Forward { 2 } else { 3 }],
                flops: None,
                bytes: (4 * 3 * batch) as u64,
            });
        }
        let row_len = spec.input.size();
        let len = batch * row_len;
        for pass in [Pass::Forward, Pass::BackwardInput] {
            // Norms as forward leaves them for backward: positive.
            let norm = fill.vec(batch).iter().map(|v| 1.5 + v).collect();
            out.push(Case {
                net,
                layer: "penalty".into(),
                op: Op::GradientPenalty(batch, row_len),
                pass,
                tensors: vec![fill.vec(len), norm, vec![0.0; batch], vec![0.0; len]],
                outputs: if pass == Pass::Forward { vec![1, 2] } else { vec![3] },
                flops: None,
                bytes: (4 * if pass == Pass::Forward { len } else { 2 * len }) as u64,
            });
        }
    }
    let v = fill.vec(params).iter().map(|v| v.abs()).collect();
    out.push(Case {
        net,
        layer: "all".into(),
        op: Op::Adam(params),
        pass: Pass::BackwardWeight,
        tensors: vec![fill.vec(params), fill.vec(params), fill.vec(params), v],
        outputs: vec![0, 2, 3],
        flops: None,
        bytes: (4 * 7 * params) as u64,
    });
    Ok(out)
}
