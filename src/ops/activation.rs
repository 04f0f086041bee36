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
    pub(crate) fn code(self) -> (u32, f32) {
        match self {
            Activation::Relu => (0, 0.0),
            Activation::LeakyRelu(s) => (0, s),
            Activation::Sigmoid => (1, 0.0),
            Activation::Tanh => (2, 0.0),
        }
    }
}

/// A fused activation's (code, slope) for common.wgsl's `epilogue`: code 0 is none.
pub(crate) fn epilogue_code(a: Option<Activation>) -> (u32, f32) {
    a.map_or((0, 0.0), |a| {
        let (kind, slope) = a.code();
        (kind + 1, slope)
    })
}

/// `op` writing its output into y with `act` applied: `op` gets y itself where the caller's
/// kernel fuses the activation (`fused`), else a scratch tensor that the activation kernel then
/// reads.
pub(crate) fn applied(
    g: &mut GpuBackend,
    act: Option<Activation>,
    fused: bool,
    y: &GpuTensor,
    op: impl FnOnce(&mut GpuBackend, &GpuTensor, Option<Activation>) -> Result<()>,
) -> Result<()> {
    match act {
        Some(a) if !fused => {
            let pre = g.scratch("activation.pre", y.len)?;
            op(g, &pre, None)?;
            forward(g, a, &pre, y)
        }
        _ => op(g, y, act),
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
