//! mse: per-sample (z − t)², the LSGAN loss; backward gives scale · d mean / dz.

use super::Loss;

pub const LOSS: Loss = Loss::new("mse", reference::mse_forward, reference::mse_backward);

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::{Float, per_sample};

    /// loss[i] = (z − t)²
    pub fn mse_forward<F: Float>(z: &[F], t: &[F], loss: &mut [F]) {
        per_sample(z, t, loss, |z, t| (z - t) * (z - t));
    }

    /// dz[i] = scale · 2(z − t) / n: the gradient of scale · mean(loss).
    pub fn mse_backward<F: Float>(z: &[F], t: &[F], dz: &mut [F], scale: F) {
        let n = F::from(z.len()).unwrap();
        let two = F::one() + F::one();
        per_sample(z, t, dz, |z, t| scale * two * (z - t) / n);
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{check_mean_loss, logits_and_soft_targets};

    #[test]
    fn mse_gradient() {
        let (z, t) = logits_and_soft_targets(15, 12);
        check_mean_loss("mse", &z, &t, mse_forward, mse_backward);
    }
}
