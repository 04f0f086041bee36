//! mse: per-sample (z − t)², the LSGAN loss; backward gives scale · d mean / dz.

use super::Loss;

pub const LOSS: Loss = Loss::new("mse", reference::mse_forward, reference::mse_backward);

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::Float;

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
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{Rng, check_mean_loss};

    #[test]
    fn mse_gradient() {
        let mut rng = Rng::new(15);
        let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
        let t: Vec<f64> = (0..12).map(|_| rng.f(0.0, 1.0)).collect();
        check_mean_loss("mse", &z, &t, mse_forward, mse_backward);
    }
}
