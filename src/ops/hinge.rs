//! hinge: per-sample hinge loss max(0, 1 − s·z), s = 2t − 1 (targets as for BCE); backward
//! gives scale · d mean / dz. z, t, loss, dz [n].

use super::Loss;

pub const LOSS: Loss = Loss::new("hinge", reference::hinge_forward, reference::hinge_backward);

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::{Float, per_sample};

    fn sign<F: Float>(t: F) -> F {
        F::from(2.0).unwrap() * t - F::one()
    }

    /// loss[i] = max(0, 1 − s·z), s = 2t − 1
    pub fn hinge_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
        per_sample(z, t, loss, |z, t| (F::one() - sign(t) * z).max(F::zero()));
    }

    /// dz[i] = scale · (−s where the hinge is active, else 0) / n
    pub fn hinge_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
        let n = F::from(z.len()).unwrap();
        per_sample(z, t, dz, |z, t| {
            let s = sign(t);
            if F::one() - s * z > F::zero() { -s * scale / n } else { F::zero() }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{Rng, check_mean_loss};

    #[test]
    fn hinge_gradient() {
        let mut rng = Rng::new(15);
        // Targets 1 and 0 (real, fake), logits away from the hinge's kink at ±1.
        let t: Vec<f64> = (0..12).map(|i| (i % 2) as f64).collect();
        let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
        let z: Vec<f64> = z.iter().map(|&v| if (v.abs() - 1.0).abs() < 0.1 { v + 0.3 } else { v }).collect();
        check_mean_loss("hinge", &z, &t, hinge_forward, hinge_backward);
    }
}
