use super::Float;

fn sign<F: Float>(t: F) -> F {
    F::from(2.0).unwrap() * t - F::one()
}

/// loss[i] = max(0, 1 − s·z), s = 2t − 1
pub fn hinge_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
    for ((l, &z), &t) in loss.iter_mut().zip(z).zip(t) {
        *l = (F::one() - sign(t) * z).max(F::zero());
    }
}

/// dz[i] = scale · (−s where the hinge is active, else 0) / n
pub fn hinge_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
    let n = F::from(z.len()).unwrap();
    for ((d, &z), &t) in dz.iter_mut().zip(z).zip(t) {
        let s = sign(t);
        *d = if F::one() - s * z > F::zero() { -s * scale / n } else { F::zero() };
    }
}
