use super::{Float, c};
use crate::ops::activation::Activation;

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
