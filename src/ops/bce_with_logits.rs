//! bce_with_logits: per-sample stable BCE on logits; backward gives scale · d mean / dz.

use super::Loss;

pub const LOSS: Loss =
    Loss::new("bce_with_logits", reference::bce_with_logits_forward, reference::bce_with_logits_backward);

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::activation::reference::sigmoid;
    use crate::reference::Float;

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
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{Rng, check_mean_loss};

    #[test]
    fn bce_with_logits_gradient() {
        let mut rng = Rng::new(15);
        let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
        let t: Vec<f64> = (0..12).map(|_| rng.f(0.0, 1.0)).collect();
        check_mean_loss("bce_with_logits", &z, &t, bce_with_logits_forward, bce_with_logits_backward);
    }
}
