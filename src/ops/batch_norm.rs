//! batch_norm over x [n, c, spatial]: gamma, beta [c]; running [2c] (mean, var); saved [2c]
//! (the mean and invstd the forward used, for backward).

use super::{GpuTensors, Pass, all, all_mut, expect, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    pub n: usize,
    pub c: usize,
    /// 1 for BatchNorm1d, h·w for BatchNorm2d.
    pub spatial: usize,
    pub eps: f32,
    pub momentum: f32,
}

/// Channels of at most this many elements (n·spatial) are reduced by one invocation each
/// rather than one workgroup of 256 each (see batch_norm.wgsl).
const NARROW_MAX: usize = 256;

impl BatchNorm {
    /// Whether the channel reductions run one invocation per channel.
    fn narrow(&self) -> bool {
        self.n * self.spatial <= NARROW_MAX
    }

    pub fn check(&self, x: usize, gamma: usize, beta: usize, running: usize, saved: usize, y: usize) -> Result<()> {
        expect("batch_norm", "x", x, &[self.n, self.c, self.spatial])?;
        expect("batch_norm", "gamma", gamma, &[self.c])?;
        expect("batch_norm", "beta", beta, &[self.c])?;
        expect("batch_norm", "running", running, &[2, self.c])?;
        expect("batch_norm", "saved", saved, &[2, self.c])?;
        expect("batch_norm", "y", y, &[self.n, self.c, self.spatial])
    }

    #[allow(clippy::too_many_arguments)]
    pub fn check_backward(
        &self,
        x: usize,
        gamma: usize,
        saved: usize,
        dy: usize,
        dx: usize,
        dgamma: usize,
        dbeta: usize,
    ) -> Result<()> {
        self.check(x, gamma, dgamma, saved, saved, dy)?;
        expect("batch_norm", "dbeta", dbeta, &[self.c])?;
        expect("batch_norm", "dx", dx, &[self.n, self.c, self.spatial])
    }

    fn params(&self) -> BatchNormParams {
        BatchNormParams { n: u(self.n), c: u(self.c), spatial: u(self.spatial), eps: self.eps, momentum: self.momentum }
    }
}

params! {
    pub struct BatchNormParams { n: u32, c: u32, spatial: u32, eps: f32, momentum: f32 }
}

/// The tensors a batch-norm layer holds besides its input and output.
pub struct BatchNormState<'a, T> {
    pub gamma: &'a T,
    pub beta: &'a T,
    pub running: &'a T,
    pub saved: &'a T,
}

/// Normalises x with the batch's statistics (`training`, updating the running ones) or the
/// running ones; saves the mean and invstd used for backward.
pub fn forward<B: Backend>(
    b: &mut B,
    s: &BatchNorm,
    x: &B::T,
    st: &BatchNormState<'_, B::T>,
    y: &B::T,
    training: bool,
) -> Result<()> {
    let pass = BatchNormPass { s: *s, kind: if training { Kind::Train } else { Kind::Eval } };
    b.run(&pass, &[Some(x), Some(st.gamma), Some(st.beta)], &[Some(st.running), Some(st.saved), Some(y)])
}

/// dx, and dgamma, dbeta accumulated.
#[allow(clippy::too_many_arguments)]
pub fn backward<B: Backend>(
    b: &mut B,
    s: &BatchNorm,
    x: &B::T,
    gamma: &B::T,
    saved: &B::T,
    dy: &B::T,
    (dx, dgamma, dbeta): (&B::T, &B::T, &B::T),
) -> Result<()> {
    let pass = BatchNormPass { s: *s, kind: Kind::Backward };
    b.run(&pass, &[Some(x), Some(gamma), Some(saved), Some(dy)], &[Some(dx), Some(dgamma), Some(dbeta)])
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Train,
    Eval,
    Backward,
}

/// Forward reads x, gamma, beta, writes running, saved, y; backward reads x, gamma, saved, dy,
/// writes dx, dgamma, dbeta.
struct BatchNormPass {
    s: BatchNorm,
    kind: Kind,
}

impl Pass for BatchNormPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        if self.kind == Kind::Backward {
            let ([x, gamma, saved, dy], [dx, dgamma, dbeta]) = (all(reads), all(writes));
            self.s.check_backward(x, gamma, saved, dy, dx, dgamma, dbeta)
        } else {
            let ([x, gamma, beta], [running, saved, y]) = (all(reads), all(writes));
            self.s.check(x, gamma, beta, running, saved, y)
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        if self.kind == Kind::Backward {
            let ([x, gamma, saved, dy], [dx, dgamma, dbeta]) = (all(reads), all_mut(writes));
            reference::batch_norm_backward(&self.s, x, gamma, saved, dy, dx, dgamma, dbeta);
        } else {
            let ([x, gamma, beta], [running, saved, y]) = (all(reads), all_mut(writes));
            let training = self.kind == Kind::Train;
            reference::batch_norm_forward(&self.s, x, gamma, beta, running, saved, y, training);
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let p = self.s.params();
        let c = self.s.c;
        match self.kind {
            Kind::Backward => {
                let ([x, gamma, saved, dy], [dx, dgamma, dbeta]) = (all(reads), all(writes));
                let scratch = g.scratch("batch_norm.stats", 2 * c)?;
                let bind = [(1, x), (5, saved), (7, dy), (9, dgamma), (10, dbeta), (11, &scratch)];
                if self.s.narrow() {
                    g.dispatch_items("batch_norm", "backward_stats_narrow", &p, &bind, c)?;
                } else {
                    g.dispatch("batch_norm", "backward_stats", &p, &bind, c)?;
                }
                let bind = [(1, x), (2, gamma), (5, saved), (7, dy), (8, dx), (11, &scratch)];
                g.dispatch_items("batch_norm", "backward_input", &p, &bind, x.len)
            }
            kind => {
                let ([x, gamma, beta], [running, saved, y]) = (all(reads), all(writes));
                let bind = [(1, x), (4, running), (5, saved)];
                if kind == Kind::Train && self.s.narrow() {
                    g.dispatch_items("batch_norm", "stats_train_narrow", &p, &bind, c)?;
                } else if kind == Kind::Train {
                    g.dispatch("batch_norm", "stats_train", &p, &bind, c)?;
                } else {
                    g.dispatch_items("batch_norm", "stats_eval", &p, &[(4, running), (5, saved)], c)?;
                }
                let bind = [(1, x), (2, gamma), (3, beta), (5, saved), (6, y)];
                g.dispatch_items("batch_norm", "normalize", &p, &bind, x.len)
            }
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::batch_norm::BatchNorm;
    use crate::reference::{Float, c};

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
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn batch_norm_gradients() {
        let mut rng = Rng::new(16);
        for (n, c, spatial) in [(4, 3, 1), (3, 2, 5)] {
            let s = BatchNorm { n, c, spatial, eps: 1e-5, momentum: 0.1 };
            let len = n * c * spatial;
            let p = vecf(&mut rng, len + 2 * c);
            let r = vecf(&mut rng, len);
            let run = |p: &[f64], saved: &mut Vec<f64>| {
                let (mut running, mut y) = (vec![0.0; 2 * c], vec![0.0; len]);
                batch_norm_forward(&s, &p[..len], &p[len..len + c], &p[len + c..], &mut running, saved, &mut y, true);
                y
            };
            let forward = |p: &[f64]| run(p, &mut vec![0.0; 2 * c]);
            let mut saved = vec![0.0; 2 * c];
            run(&p, &mut saved);
            let (mut dx, mut dg, mut dbeta) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
            batch_norm_backward(&s, &p[..len], &p[len..len + c], &saved, &r, &mut dx, &mut dg, &mut dbeta);
            check(&format!("batch_norm {s:?}"), &p, &r, forward, &[dx, dg, dbeta].concat());
        }
    }
}
