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
    g.dispatch_items("activation", "forward", &[u(x.len), kind, f(slope)], &[(1, x), (2, y)], x.len)
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
    g.dispatch_items(
        "activation",
        "backward",
        &[u(y.len), kind, f(slope)],
        &[(3, y), (4, dy), (5, dx)],
        y.len,
    )
}
