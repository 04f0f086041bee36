use super::Float;
use super::activation::sigmoid;

/// loss[i] = max(z,0) − z·t + ln(1 + e^−|z|)
pub fn bce_with_logits_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
    for ((l, &z), &t) in loss.iter_mut().zip(z).zip(t) {
        *l = z.max(F::zero()) - z * t + (-z.abs()).exp().ln_1p();
    }
}

/// dz[i] = scale · (σ(z) − t) / n: the gradient of scale · mean(loss).
pub fn bce_with_logits_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
    let n = F::from(z.len()).unwrap();
    for ((d, &z), &t) in dz.iter_mut().zip(z).zip(t) {
        *d = scale * (sigmoid(z) - t) / n;
    }
}
