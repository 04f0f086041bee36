use super::Float;

/// loss[i] = (z − t)²
pub fn mse_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
    for ((l, &z), &t) in loss.iter_mut().zip(z).zip(t) {
        *l = (z - t) * (z - t);
    }
}

/// dz[i] = scale · 2(z − t) / n: the gradient of scale · mean(loss).
pub fn mse_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
    let n = F::from(z.len()).unwrap();
    let two = F::one() + F::one();
    for ((d, &z), &t) in dz.iter_mut().zip(z).zip(t) {
        *d = scale * two * (z - t) / n;
    }
}
