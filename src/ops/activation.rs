//! activation: element-wise LeakyReLU / ReLU / sigmoid / tanh; backward from the saved output.

use super::{ForwardIo, GpuTensors, Pass, all, all_mut, run, same_len, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::params::params;
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
    io: ForwardIo<'_>,
    fused: bool,
    op: impl FnOnce(&mut GpuBackend, ForwardIo<'_>) -> Result<()>,
) -> Result<()> {
    match io.act {
        Some(a) if !fused => {
            let pre = g.scratch("activation.pre", io.y.len)?;
            op(g, ForwardIo { act: None, y: &pre, ..io })?;
            record_forward(g, a, &pre, io.y)
        }
        _ => op(g, io),
    }
}

pub fn forward<B: Backend>(b: &mut B, a: Activation, x: &B::T, y: &B::T) -> Result<()> {
    run(b, &ActivationPass { act: a, backward: false }, &[x], &[y])
}

/// dx from the forward's output y.
pub fn backward<B: Backend>(b: &mut B, a: Activation, y: &B::T, dy: &B::T, dx: &B::T) -> Result<()> {
    run(b, &ActivationPass { act: a, backward: true }, &[y, dy], &[dx])
}

/// Forward reads x, writes y; backward reads y, dy, writes dx.
struct ActivationPass {
    act: Activation,
    backward: bool,
}

impl Pass for ActivationPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let [out] = all(writes);
        if self.backward {
            let [y, dy] = all(reads);
            same_len("activation", ("y", y), ("dy", dy))?;
            same_len("activation", ("y", y), ("dx", out))
        } else {
            let [x] = all(reads);
            same_len("activation", ("x", x), ("y", out))
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        if self.backward {
            let [y, dy] = all(reads);
            reference::activation_backward(self.act, y, dy, out);
        } else {
            let [x] = all(reads);
            reference::activation_forward(self.act, x, out);
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        if self.backward {
            let [y, dy] = all(reads);
            let (scalar, vec4) = ([(3, y), (4, dy), (5, out)], [(8, y), (9, dy), (10, out)]);
            dispatch(g, ("backward", "backward4"), self.act, y.len, &scalar, &vec4)
        } else {
            record_forward(g, self.act, all::<_, 1>(reads)[0], out)
        }
    }
}

pub(crate) fn record_forward(g: &mut GpuBackend, a: Activation, x: &GpuTensor, y: &GpuTensor) -> Result<()> {
    dispatch(g, ("forward", "forward4"), a, x.len, &[(1, x), (2, y)], &[(6, x), (7, y)])
}

params! {
    /// `shaders/activation.wgsl`'s parameters; the kind is a pipeline constant.
    pub struct ActivationParams { n: u32, slope: f32 }
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
    let (entry, bind, items) = if len.is_multiple_of(4) { (entry4, vec4, len / 4) } else { (entry, scalar, len) };
    let params = ActivationParams { n: u(len), slope };
    g.dispatch_items_specialised("activation", entry, &[("KIND", kind)], &params, bind, items)
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::activation::Activation;
    use crate::reference::{Float, c};

    pub fn sigmoid<F: Float>(z: F) -> F {
        if z >= F::zero() {
            F::one() / (F::one() + (-z).exp())
        } else {
            let e = z.exp();
            e / (F::one() + e)
        }
    }

    /// y = f(x)
    pub fn activation_forward<F: Float>(a: Activation, x: &[F], y: &mut [F]) {
        for (y, &v) in y.iter_mut().zip(x) {
            *y = match a {
                Activation::Relu => v.max(F::zero()),
                Activation::LeakyRelu(s) => {
                    if v > F::zero() {
                        v
                    } else {
                        c::<F>(s as f64) * v
                    }
                }
                Activation::Sigmoid => sigmoid(v),
                Activation::Tanh => v.tanh(),
            };
        }
    }

    /// dx = dy · f'(x), from the saved output y (overwrite).
    pub fn activation_backward<F: Float>(a: Activation, y: &[F], dy: &[F], dx: &mut [F]) {
        for ((dx, &v), &g) in dx.iter_mut().zip(y).zip(dy) {
            let d = match a {
                Activation::Relu => {
                    if v > F::zero() {
                        F::one()
                    } else {
                        F::zero()
                    }
                }
                Activation::LeakyRelu(s) => {
                    if v > F::zero() {
                        F::one()
                    } else {
                        c(s as f64)
                    }
                }
                Activation::Sigmoid => v * (F::one() - v),
                Activation::Tanh => F::one() - v * v,
            };
            *dx = g * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn activation_gradients() {
        let mut rng = Rng::new(14);
        for a in [Activation::Relu, Activation::LeakyRelu(0.2), Activation::Sigmoid, Activation::Tanh] {
            let x = rng.vec_away_from_zero(40, 0.01, 4.0);
            let r = vecf(&mut rng, 40);
            let forward = |x: &[f64]| {
                let mut y = vec![0.0; x.len()];
                activation_forward(a, x, &mut y);
                y
            };
            let y = forward(&x);
            let mut dx = vec![0.0; 40];
            activation_backward(a, &y, &r, &mut dx);
            check(&format!("activation {a:?}"), &x, &r, forward, &dx);
        }
    }
}
