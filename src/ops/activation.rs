//! activation: element-wise LeakyReLU / ReLU / sigmoid / tanh; backward from the saved output.

use super::{f, same_len, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
}

impl Activation {
    /// The shader's (kind, slope) encoding.
    fn code(self) -> (u32, f32) {
        match self {
            Activation::Relu => (0, 0.0),
            Activation::LeakyRelu(s) => (0, s),
            Activation::Sigmoid => (1, 0.0),
            Activation::Tanh => (2, 0.0),
        }
    }
}

pub(crate) fn check_backward(y: usize, dy: usize, dx: usize) -> Result<()> {
    same_len("activation", ("y", y), ("dy", dy))?;
    same_len("activation", ("y", y), ("dx", dx))
}

pub(crate) fn forward(g: &mut GpuBackend, a: Activation, x: &GpuTensor, y: &GpuTensor) -> Result<()> {
    same_len("activation", ("x", x.len), ("y", y.len))?;
    let (kind, slope) = a.code();
    let kind = [("KIND", kind)];
    if x.len.is_multiple_of(4) {
        let bind = [(6, x), (7, y)];
        return g.dispatch_specialised(
            "activation",
            "forward4",
            &kind,
            &[u(x.len), f(slope)],
            &bind,
            groups(x.len / 4),
        );
    }
    let bind = [(1, x), (2, y)];
    g.dispatch_specialised("activation", "forward", &kind, &[u(x.len), f(slope)], &bind, groups(x.len))
}

fn groups(items: usize) -> usize {
    items.div_ceil(256)
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    a: Activation,
    y: &GpuTensor,
    dy: &GpuTensor,
    dx: &GpuTensor,
) -> Result<()> {
    check_backward(y.len, dy.len, dx.len)?;
    let (kind, slope) = a.code();
    let kind = [("KIND", kind)];
    if y.len.is_multiple_of(4) {
        let bind = [(8, y), (9, dy), (10, dx)];
        return g.dispatch_specialised(
            "activation",
            "backward4",
            &kind,
            &[u(y.len), f(slope)],
            &bind,
            groups(y.len / 4),
        );
    }
    let bind = [(3, y), (4, dy), (5, dx)];
    g.dispatch_specialised("activation", "backward", &kind, &[u(y.len), f(slope)], &bind, groups(y.len))
}
