use super::Float;
use super::random::{bits, unit_float};
use crate::ops::dropout::Dropout;

/// y = x · mask / (1 − prob), mask from (seed, offset): forward on x, backward on dy.
pub fn dropout<F: Float>(s: &Dropout, x: &[F], y: &mut [F]) {
    let scale = F::one() / (F::one() - F::from(s.prob).unwrap());
    for (i, (y, &v)) in y.iter_mut().zip(x).enumerate() {
        let keep = unit_float(bits(s.seed, s.offset, i as u64)[0]) >= s.prob;
        *y = if keep { v * scale } else { F::zero() };
    }
}
