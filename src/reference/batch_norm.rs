use super::{Float, c};
use crate::ops::batch_norm::BatchNorm;

fn at(s: &BatchNorm, ch: usize, e: usize) -> usize {
    ((e / s.spatial) * s.c + ch) * s.spatial + e % s.spatial
}

/// Training: batch statistics into saved [mean; invstd], running [mean; var] updated with
/// momentum (unbiased variance, as PyTorch). Evaluation: normalise with running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward<F: Float>(
    s: &BatchNorm,
    x: &[F],
    gamma: &[F],
    beta: &[F],
    running: &mut [F],
    saved: &mut [F],
    y: &mut [F],
    training: bool,
) {
    let m = s.n * s.spatial;
    let eps: F = c(s.eps as f64);
    let mom: F = c(s.momentum as f64);
    for ch in 0..s.c {
        if training {
            let mf = F::from(m).unwrap();
            let mean = (0..m).fold(F::zero(), |a, e| a + x[at(s, ch, e)]) / mf;
            let var = (0..m).fold(F::zero(), |a, e| {
                let d = x[at(s, ch, e)] - mean;
                a + d * d
            }) / mf;
            saved[ch] = mean;
            saved[s.c + ch] = F::one() / (var + eps).sqrt();
            let unbiased = if m > 1 { var * mf / (mf - F::one()) } else { var };
            running[ch] = (F::one() - mom) * running[ch] + mom * mean;
            running[s.c + ch] = (F::one() - mom) * running[s.c + ch] + mom * unbiased;
        } else {
            saved[ch] = running[ch];
            saved[s.c + ch] = F::one() / (running[s.c + ch] + eps).sqrt();
        }
        for e in 0..m {
            let i = at(s, ch, e);
            y[i] = gamma[ch] * (x[i] - saved[ch]) * saved[s.c + ch] + beta[ch];
        }
    }
}

/// dx (overwrite), dgamma += Σ dy·x̂, dbeta += Σ dy, through the batch statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<F: Float>(
    s: &BatchNorm,
    x: &[F],
    gamma: &[F],
    saved: &[F],
    dy: &[F],
    dx: &mut [F],
    dgamma: &mut [F],
    dbeta: &mut [F],
) {
    let m = s.n * s.spatial;
    let mf = F::from(m).unwrap();
    for ch in 0..s.c {
        let (mean, invstd) = (saved[ch], saved[s.c + ch]);
        let mut sum_dy = F::zero();
        let mut sum_dy_xhat = F::zero();
        for e in 0..m {
            let i = at(s, ch, e);
            sum_dy = sum_dy + dy[i];
            sum_dy_xhat = sum_dy_xhat + dy[i] * (x[i] - mean) * invstd;
        }
        dgamma[ch] = dgamma[ch] + sum_dy_xhat;
        dbeta[ch] = dbeta[ch] + sum_dy;
        for e in 0..m {
            let i = at(s, ch, e);
            let xhat = (x[i] - mean) * invstd;
            dx[i] = gamma[ch] * invstd / mf * (mf * dy[i] - sum_dy - xhat * sum_dy_xhat);
        }
    }
}
