//! bce_with_logits: per-sample stable BCE on logits; backward gives scale · d mean / dz.

use super::Loss;

pub const LOSS: Loss =
    Loss::new("bce_with_logits", reference::bce_with_logits_forward, reference::bce_with_logits_backward);

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::activation::reference::sigmoid;
    use crate::reference::{Float, per_sample};

    /// loss[i] = max(z,0) − z·t + ln(1 + e^−|z|)
    pub fn bce_with_logits_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
        per_sample(z, t, loss, |z, t| z.max(F::zero()) - z * t + (-z.abs()).exp().ln_1p());
    }

    /// dz[i] = scale · (σ(z) − t) / n: the gradient of scale · mean(loss).
    pub fn bce_with_logits_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
        let n = F::from(z.len()).unwrap();
        per_sample(z, t, dz, |z, t| scale * (sigmoid(z) - t) / n);
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{check_mean_loss, logits_and_soft_targets};

    #[test]
    fn bce_with_logits_gradient() {
        let (z, t) = logits_and_soft_targets(15, 12);
        check_mean_loss("bce_with_logits", &z, &t, bce_with_logits_forward, bce_with_logits_backward);
    }
}
