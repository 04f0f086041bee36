//! A residual block: y = main(x) + shortcut(x), the shortcut the identity when it has no layers
//! (He et al. 2016; SN-GAN's and BigGAN's G and D blocks, whose shortcut is a 1×1 convolution
//! with the block's up- or downsampling).

use serde::{Deserialize, Serialize};

use super::layer::{Adjoint, Build, Io, Layer, Run};
use super::layers::{LayerSpec, build_sequence, child_path, path_outputs};
use super::sequence::Sequence;
use super::spec::Shape;
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::ops::mix::mix;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResidualSpec {
    pub main: Vec<LayerSpec>,
    #[serde(default)]
    pub shortcut: Vec<LayerSpec>,
}

impl ResidualSpec {
    /// Both paths' output shape, which must agree.
    pub(super) fn output(&self, inp: Shape, path: &str) -> Result<Shape> {
        let [main, shortcut] = path_outputs([("main", &self.main), ("shortcut", &self.shortcut)], inp, path)?;
        if self.main.is_empty() || main != shortcut {
            return Err(Error::Config(format!(
                "residual block {path}: its main path gives {main:?} and its shortcut {shortcut:?}; they must \
                 agree (and main must have layers)"
            )));
        }
        Ok(main)
    }
}

pub struct Residual<B: Backend> {
    main: Sequence<B>,
    /// None: the identity.
    shortcut: Option<Sequence<B>>,
    /// Each path's output and input gradient; the adjoints of the double backward (allocated
    /// when enabled).
    y_main: B::T,
    y_short: B::T,
    dx_main: B::T,
    dx_short: B::T,
    e_main: Option<B::T>,
    e_short: Option<B::T>,
}

impl<B: Backend> Residual<B> {
    pub(super) fn build(spec: &ResidualSpec, inp: Shape, path: &str, cx: &mut Build<'_, B>) -> Result<Self> {
        let out = spec.output(inp, path)?;
        let main = build_sequence(&spec.main, inp, &child_path(path, "main"), cx)?;
        let shortcut = match spec.shortcut.is_empty() {
            true => None,
            false => Some(build_sequence(&spec.shortcut, inp, &child_path(path, "shortcut"), cx)?),
        };
        let (x_len, y_len) = (cx.batch * inp.size(), cx.batch * out.size());
        let short_len = |n: usize| if shortcut.is_some() { n } else { 1 };
        Ok(Residual {
            main,
            y_main: cx.alloc(y_len)?,
            y_short: cx.alloc(short_len(y_len))?,
            dx_main: cx.alloc(x_len)?,
            dx_short: cx.alloc(short_len(x_len))?,
            shortcut,
            e_main: None,
            e_short: None,
        })
    }
}

impl<B: Backend> Layer<B> for Residual<B> {
    fn forward(&mut self, b: &mut B, x: &B::T, y: &B::T, run: Run) -> Result<()> {
        self.main.forward(b, x, &self.y_main, run)?;
        let short = match &mut self.shortcut {
            Some(s) => {
                s.forward(b, x, &self.y_short, run)?;
                &self.y_short
            }
            None => x,
        };
        mix(b, (1.0, &self.y_main), (1.0, short), y)
    }

    fn backward(&self, b: &mut B, io: Io<'_, B::T>, dx: Option<&B::T>, param_grads: bool) -> Result<()> {
        let main_io = Io { y: &self.y_main, ..io };
        self.main.backward(b, main_io, dx.map(|_| &self.dx_main), param_grads)?;
        let short = match &self.shortcut {
            Some(s) => {
                s.backward(b, Io { y: &self.y_short, ..io }, dx.map(|_| &self.dx_short), param_grads)?;
                &self.dx_short
            }
            None => io.dy,
        };
        dx.map_or(Ok(()), |d| mix(b, (1.0, &self.dx_main), (1.0, short), d))
    }

    fn input_grad_backward(&self, b: &mut B, io: Io<'_, B::T>, e: Adjoint<'_, B::T>) -> Result<()> {
        let (e_main, e_short) = (self.e_main.as_ref(), self.e_short.as_ref());
        self.main.input_grad_backward(
            b,
            Io { y: &self.y_main, ..io },
            Adjoint { output: e.output.and(e_main), ..e },
        )?;
        let short = match &self.shortcut {
            Some(s) => {
                s.input_grad_backward(
                    b,
                    Io { y: &self.y_short, ..io },
                    Adjoint { output: e.output.and(e_short), ..e },
                )?;
                e_short
            }
            None => Some(e.input),
        };
        match (e.output, e_main, short) {
            (Some(out), Some(m), Some(s)) => mix(b, (1.0, m), (1.0, s), out),
            _ => Ok(()),
        }
    }

    fn enable_input_grad_backward(&mut self, b: &mut B) -> Result<()> {
        self.main.enable_input_grad_backward(b)?;
        if let Some(s) = &mut self.shortcut {
            s.enable_input_grad_backward(b)?;
            self.e_short = Some(b.alloc(self.y_short.len())?);
        }
        self.e_main = Some(b.alloc(self.y_main.len())?);
        Ok(())
    }

    fn set_batch_norm_momentum(&mut self, momentum: Option<f32>) {
        self.main.set_batch_norm_momentum(momentum);
        self.shortcut.iter_mut().for_each(|s| s.set_batch_norm_momentum(momentum));
    }

    fn set_blend(&mut self, alpha: f32) {
        self.main.set_blend(alpha);
        self.shortcut.iter_mut().for_each(|s| s.set_blend(alpha));
    }
}
