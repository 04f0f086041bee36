//! A sequence of layers, each reading the one before: the root of every network and the paths
//! of blocks. It owns the buffers between its children; its caller owns its input and output.

use super::layer::{Adjoint, Build, Io, Layer, Run};
use super::spec::Shape;
use crate::backend::{Backend, Tensor};
use crate::error::Result;

pub struct Sequence<B: Backend> {
    children: Vec<Box<dyn Layer<B>>>,
    /// The output and output gradient of every child but the last (whose are the caller's).
    acts: Vec<B::T>,
    dacts: Vec<B::T>,
    /// Children whose input and output are one buffer (a reshape inside): nothing to run.
    shared: Vec<bool>,
    /// Per child but the last, the adjoint at its output for the double backward (empty until
    /// [`Layer::enable_input_grad_backward`]).
    adjoints: Vec<B::T>,
}

impl<B: Backend> Sequence<B> {
    /// `shapes` are the children's per-sample output shapes.
    pub(super) fn new(cx: &mut Build<'_, B>, children: Vec<Box<dyn Layer<B>>>, shapes: &[Shape]) -> Result<Self> {
        let n = children.len();
        let (mut acts, mut dacts, mut shared): (Vec<B::T>, Vec<B::T>, _) = (Vec::new(), Vec::new(), Vec::new());
        for (i, child) in children.iter().enumerate() {
            let share = child.is_view() && i > 0 && i + 1 < n;
            shared.push(share);
            if i + 1 == n {
                break;
            }
            if share {
                acts.push(acts[i - 1].clone());
                dacts.push(dacts[i - 1].clone());
            } else {
                acts.push(cx.alloc(cx.batch * shapes[i].size())?);
                dacts.push(cx.alloc(cx.batch * shapes[i].size())?);
            }
        }
        Ok(Sequence { children, acts, dacts, shared, adjoints: Vec::new() })
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Child `i`'s output in the last forward pass, for i below the last (whose is the caller's).
    pub fn activation(&self, i: usize) -> &B::T {
        &self.acts[i]
    }

    /// Child i's input, output and output gradient, given the sequence's.
    fn io<'a>(&'a self, i: usize, outer: Io<'a, B::T>) -> Io<'a, B::T> {
        let last = i + 1 == self.children.len();
        Io {
            x: if i == 0 { outer.x } else { &self.acts[i - 1] },
            y: if last { outer.y } else { &self.acts[i] },
            dy: if last { outer.dy } else { &self.dacts[i] },
        }
    }

    /// Child i's backward, its input gradient into the child before's output gradient.
    pub(super) fn backward_child(
        &self,
        b: &mut B,
        i: usize,
        outer: Io<'_, B::T>,
        dx: Option<&B::T>,
        param_grads: bool,
    ) -> Result<()> {
        if self.shared[i] {
            return Ok(());
        }
        let din = if i == 0 { dx } else { Some(&self.dacts[i - 1]) };
        self.children[i].backward(b, self.io(i, outer), din, param_grads)
    }

    /// Where child i's input gradient arrives (i ≥ 1).
    pub(super) fn input_grad_of(&self, i: usize) -> &B::T {
        &self.dacts[i - 1]
    }
}

impl<B: Backend> Layer<B> for Sequence<B> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        let n = self.children.len();
        if n == 0 {
            return b.copy(x, y);
        }
        let mut fused = false;
        for i in 0..n {
            if std::mem::take(&mut fused) || self.shared[i] {
                continue;
            }
            let input = if i == 0 { x } else { &self.acts[i - 1] };
            let out = if i + 1 == n { y } else { &self.acts[i] };
            // A weighted layer followed by an activation writes the activation's output directly
            // (its own output buffer then goes unwritten; backward reads only the activation's).
            let next = self.children.get(i + 1).and_then(|c| c.activation());
            if let (Some((op, w, bias)), Some(f)) = (self.children[i].weighted(), next) {
                let after = if i + 2 == n { y } else { &self.acts[i + 1] };
                op.act_forward(b, (input, w, bias), f, out, after)?;
                fused = true;
                continue;
            }
            self.children[i].forward(b, input, out, run)?;
        }
        Ok(())
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        if self.children.is_empty() {
            return dx.map_or(Ok(()), |d| b.copy(io.dy, d));
        }
        for i in (0..self.children.len()).rev() {
            self.backward_child(b, i, io, dx, param_grads)?;
        }
        Ok(())
    }

    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        let n = self.children.len();
        if n == 0 {
            return e.output.map_or(Ok(()), |out| b.copy(e.input, out));
        }
        assert_eq!(self.adjoints.len(), n - 1, "enable_input_grad_backward first");
        for i in 0..n {
            if self.shared[i] {
                continue;
            }
            let input = if i == 0 { e.input } else { &self.adjoints[i - 1] };
            let output = if i + 1 == n { e.output } else { Some(&self.adjoints[i]) };
            self.children[i].input_grad_backward(b, self.io(i, io), Adjoint { input, output })?;
        }
        Ok(())
    }

    fn enable_input_grad_backward(&mut self, b: &mut B) -> Result<()> {
        for c in &mut self.children {
            c.enable_input_grad_backward(b)?;
        }
        if self.adjoints.len() + 1 < self.children.len() {
            self.adjoints.clear();
            for i in 0..self.acts.len() {
                let t = if self.shared[i] { self.adjoints[i - 1].clone() } else { b.alloc(self.acts[i].len())? };
                self.adjoints.push(t);
            }
        }
        Ok(())
    }

    fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        self.children.iter_mut().for_each(|c| c.set_batch_norm_momentum(momentum));
    }

    fn set_blend(&mut self, alpha: f32) {
        self.children.iter_mut().for_each(|c| c.set_blend(alpha));
    }
}
