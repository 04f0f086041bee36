//! bce_with_logits: per-sample stable BCE on logits; backward gives scale · d mean / dz.

use super::{LossPass, run};
use crate::backend::Backend;
use crate::error::Result;

pub fn forward<B: Backend + ?Sized>(b: &mut B, z: &B::T, t: &B::T, loss: &B::T) -> Result<()> {
    run(b, &pass(None), &[z, t], &[loss])
}

/// dz = scale · d mean(loss) / dz.
pub fn backward<B: Backend + ?Sized>(b: &mut B, z: &B::T, t: &B::T, dz: &B::T, scale: f32) -> Result<()> {
    run(b, &pass(Some(scale)), &[z, t], &[dz])
}

fn pass(backward_scale: Option<f32>) -> LossPass {
    LossPass {
        shader: "bce_with_logits",
        backward_scale,
        forward: reference::bce_with_logits_forward,
        backward: reference::bce_with_logits_backward,
    }
}

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
    use crate::reference::gradcheck::{Rng, check};

    #[test]
    fn bce_with_logits_gradient() {
        let mut rng = Rng::new(15);
        let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
        let t: Vec<f64> = (0..12).map(|_| rng.f(0.0, 1.0)).collect();
        let mut dz = vec![0.0; 12];
        bce_with_logits_backward(&z, &t, &mut dz, 1.0);
        let forward = |z: &[f64]| {
            let mut l = vec![0.0; z.len()];
            bce_with_logits_forward(z, &t, &mut l);
            vec![l.iter().sum::<f64>() / l.len() as f64]
        };
        check("bce_with_logits", &z, &[1.0], forward, &dz);
    }
}
