//! A blend of two paths: y = (1 − α)·a(x) + α·b(x), α set by the trainer. Progressive growing's
//! fade-in (Karras et al. 2018): a is the old resolution's path, b the new one, α going 0 → 1.

use serde::{Deserialize, Serialize};

use super::layer::{Adjoint, Build, Io, Layer, Run};
use super::layers::{LayerSpec, build_sequence, child_path, path_outputs};
use super::sequence::Sequence;
use super::spec::Shape;
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::ops::mix::{axpy, mix};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlendSpec {
    pub a: Vec<LayerSpec>,
    pub b: Vec<LayerSpec>,
}

impl BlendSpec {
    /// Both paths' output shape, which must agree.
    pub(super) fn output(&self, inp: Shape, path: &str) -> Result<Shape> {
        let [a, b] = path_outputs([("a", &self.a), ("b", &self.b)], inp, path)?;
        if a != b {
            return Err(Error::Config(format!("blend {path}: path a gives {a:?} and path b {b:?}; they must agree")));
        }
        Ok(a)
    }
}

/// One path: its layers, output, scaled output gradient, input gradient and adjoint.
struct Path<B: Backend> {
    seq: Sequence<B>,
    y: B::T,
    dy: B::T,
    dx: B::T,
    e: Option<B::T>,
}

pub struct Blend<B: Backend> {
    a: Path<B>,
    b: Path<B>,
    alpha: f32,
}

impl<B: Backend> Blend<B> {
    pub(super) fn build(spec: &BlendSpec, inp: Shape, path: &str, cx: &mut Build<'_, B>) -> Result<Self> {
        let out = spec.output(inp, path)?;
        let mut one = |layers: &[LayerSpec], name: &str| -> Result<Path<B>> {
            let seq = build_sequence(layers, inp, &child_path(path, name), cx)?;
            let (x_len, y_len) = (cx.batch * inp.size(), cx.batch * out.size());
            Ok(Path { seq, y: cx.alloc(y_len)?, dy: cx.alloc(y_len)?, dx: cx.alloc(x_len)?, e: None })
        };
        Ok(Blend { a: one(&spec.a, "a")?, b: one(&spec.b, "b")?, alpha: 0.0 })
    }

    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl<B: Backend> Layer<B> for Blend<B> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        self.a.seq.forward(b, x, &self.a.y, run)?;
        self.b.seq.forward(b, x, &self.b.y, run)?;
        mix(b, (1.0 - self.alpha, &self.a.y), (self.alpha, &self.b.y), y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        for (p, w) in [(&self.a, 1.0 - self.alpha), (&self.b, self.alpha)] {
            axpy(b, w, io.dy, 0.0, &p.dy)?;
            let path_io = Io { x: io.x, y: &p.y, dy: &p.dy };
            p.seq.backward(b, path_io, dx.map(|_| &p.dx), param_grads)?;
        }
        dx.map_or(Ok(()), |d| mix(b, (1.0, &self.a.dx), (1.0, &self.b.dx), d))
    }

    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        for p in [&self.a, &self.b] {
            let path_io = Io { x: io.x, y: &p.y, dy: &p.dy };
            p.seq.input_grad_backward(b, path_io, Adjoint { output: e.output.and(p.e.as_ref()), ..e })?;
        }
        match (e.output, &self.a.e, &self.b.e) {
            (Some(out), Some(ea), Some(eb)) => mix(b, (1.0 - self.alpha, ea), (self.alpha, eb), out),
            _ => Ok(()),
        }
    }

    fn enable_input_grad_backward(&mut self, b: &mut B) -> Result<()> {
        for p in [&mut self.a, &mut self.b] {
            p.seq.enable_input_grad_backward(b)?;
            p.e = Some(b.alloc(p.y.len())?);
        }
        Ok(())
    }

    fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        self.a.seq.set_batch_norm_momentum(momentum);
        self.b.seq.set_batch_norm_momentum(momentum);
    }

    fn set_blend(&mut self, alpha: f32) {
        self.alpha = alpha;
        self.a.seq.set_blend(alpha);
        self.b.seq.set_blend(alpha);
    }
}
