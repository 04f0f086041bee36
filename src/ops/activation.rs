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
    dispatch(g, ("forward", "forward4"), a, x.len, &[(1, x), (2, y)], &[(6, x), (7, y)])
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    a: Activation,
    y: &GpuTensor,
    dy: &GpuTensor,
    dx: &GpuTensor,
) -> Result<()> {
    check_backward(y.len, dy.len, dx.len)?;
    let (scalar, vec4) = ([(3, y), (4, dy), (5, dx)], [(8, y), (9, dy), (10, dx)]);
    dispatch(g, ("backward", "backward4"), a, y.len, &scalar, &vec4)
}

/// One invocation per element, or per 4 elements (the `*4` entry and its vec4 bindings) where
/// the length allows; the kind is a pipeline constant.
fn dispatch(
    g: &mut GpuBackend,
    (entry, entry4): (&'static str, &'static str),
    a: Activation,
    len: usize,
    scalar: &[(u32, &GpuTensor)],
    vec4: &[(u32, &GpuTensor)],
) -> Result<()> {
    let (kind, slope) = a.code();
    let (entry, bind, items) =
        if len.is_multiple_of(4) { (entry4, vec4, len / 4) } else { (entry, scalar, len) };
    g.dispatch_items_specialised("activation", entry, &[("KIND", kind)], &[u(len), f(slope)], bind, items)
}
