//! info_loss: InfoGAN's mutual-information loss on the Q head's outputs (see
//! `shaders/info_loss.wgsl`): cross-entropy for the categorical code, a unit Gaussian's negative
//! log-likelihood for the continuous codes, which are the last `c` columns of G's latent z.
//! q, dq [n, k + c], code, loss [n], z [n, z_dim].

use super::{GpuTensors, Pass, all, all_mut, expect, run, split, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InfoLoss {
    pub n: usize,
    /// Values of the categorical code (0: none).
    pub k: usize,
    /// Continuous codes.
    pub c: usize,
    pub z_dim: usize,
    /// The continuous codes' weight beside the categorical one's (Chen et al.: 0.1 or less).
    pub cont_weight: f32,
}

impl InfoLoss {
    /// Where the continuous codes start in a row of z.
    pub fn z_off(&self) -> usize {
        self.z_dim - self.c
    }

    pub fn check(&self, q: usize, code: usize, z: usize) -> Result<()> {
        if self.c > self.z_dim || self.k + self.c == 0 {
            return Err(Error::shape(
                "info_loss",
                format!("{} categorical values and {} continuous codes in a z of {}", self.k, self.c, self.z_dim),
            ));
        }
        expect("info_loss", "q", q, &[self.n, self.k + self.c])?;
        expect("info_loss", "code", code, &[self.n])?;
        expect("info_loss", "z", z, &[self.n, self.z_dim])
    }

    fn params(&self, scale: f32, seed: u64) -> InfoLossParams {
        let [seed_lo, seed_hi] = split(seed);
        InfoLossParams {
            seed_lo,
            seed_hi,
            n: u(self.n),
            k: u(self.k),
            c: u(self.c),
            z_dim: u(self.z_dim),
            z_off: u(self.z_off()),
            scale,
            cont_weight: self.cont_weight,
        }
    }
}

params! {
    pub struct InfoLossParams {
        n: u32, k: u32, c: u32, z_dim: u32, z_off: u32, scale: f32, cont_weight: f32, seed_lo: u32, seed_hi: u32,
    }
}

/// Per-sample loss [n].
pub fn forward<B: Backend>(b: &mut B, s: &InfoLoss, q: &B::T, code: &B::T, z: &B::T, loss: &B::T) -> Result<()> {
    run(b, &InfoPass { s: *s, backward_scale: None }, &[q, code, z], &[loss])
}

/// dq = scale · d mean(loss) / dq.
pub fn backward<B: Backend>(
    b: &mut B,
    s: &InfoLoss,
    (q, code, z): (&B::T, &B::T, &B::T),
    dq: &B::T,
    scale: f32,
) -> Result<()> {
    run(b, &InfoPass { s: *s, backward_scale: Some(scale) }, &[q, code, z], &[dq])
}

/// The seed of the continuous codes drawn beside latent noise of `noise_seed`, wherever G's
/// latents are drawn outside a training step (epoch grids, `sample`, `eval`, `interpolate`).
pub fn codes_seed(noise_seed: u64) -> u64 {
    noise_seed ^ 0x1_0000
}

/// The continuous codes of z [n, z_dim] (its last c columns), drawn U(−1, 1) in place from
/// (seed, i·c + j).
pub fn draw_codes<B: Backend>(b: &mut B, s: &InfoLoss, seed: u64, z: &B::T) -> Result<()> {
    run(b, &CodesPass { s: *s, seed }, &[], &[z])
}

/// Writes z's code columns.
struct CodesPass {
    s: InfoLoss,
    seed: u64,
}

impl Pass for CodesPass {
    fn check(&self, _: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let [z] = all(writes);
        self.s.check(self.s.n * (self.s.k + self.s.c), self.s.n, z)
    }
    fn reference(&self, _: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [z] = all_mut(writes);
        reference::info_loss_draw_codes(&self.s, self.seed, z);
    }
    fn record(&self, g: &mut GpuBackend, _: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [z] = all(writes);
        let params = self.s.params(0.0, self.seed);
        g.dispatch_items("info_loss", "draw_codes", &params, &[(4, z)], self.s.n * self.s.c)
    }
}

/// Reads q, code, z; writes the loss (`backward_scale` None) or dq.
struct InfoPass {
    s: InfoLoss,
    backward_scale: Option<f32>,
}

impl Pass for InfoPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([q, code, z], [out]) = (all(reads), all(writes));
        self.s.check(q, code, z)?;
        match self.backward_scale {
            None => expect("info_loss", "loss", out, &[self.s.n]),
            Some(_) => expect("info_loss", "dq", out, &[self.s.n, self.s.k + self.s.c]),
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([q, code, z], [out]) = (all(reads), all_mut(writes));
        match self.backward_scale {
            None => reference::info_loss_forward(&self.s, q, code, z, out),
            Some(scale) => reference::info_loss_backward(&self.s, q, code, z, out, scale),
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([q, code, z], [out]) = (all(reads), all(writes));
        let bindings = [(1, q), (2, code), (3, z), (4, out)];
        match self.backward_scale {
            None => g.dispatch_items("info_loss", "forward", &self.s.params(0.0, 0), &bindings, self.s.n),
            Some(scale) => g.dispatch_items("info_loss", "backward", &self.s.params(scale, 0), &bindings, q.len),
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::InfoLoss;
    use crate::ops::random::reference::{bits, unit_float};
    use crate::reference::Float;

    /// z[i, z_off + j] = 2 · unit(bits(seed, 0, i·c + j)) − 1 (as info_loss.wgsl's `draw_codes`).
    pub fn info_loss_draw_codes(s: &InfoLoss, seed: u64, z: &mut [f32]) {
        for i in 0..s.n {
            for j in 0..s.c {
                let e = (i * s.c + j) as u64;
                z[i * s.z_dim + s.z_off() + j] = 2.0 * unit_float(bits(seed, 0, e)[0]) - 1.0;
            }
        }
    }

    fn code_of<F: Float>(code: F, k: usize) -> usize {
        code.max(F::zero()).to_usize().unwrap_or(0).min(k - 1)
    }

    /// The softmax of a row's first k values, and their logsumexp.
    fn logsumexp<F: Float>(row: &[F]) -> F {
        let m = row.iter().copied().fold(F::neg_infinity(), F::max);
        m + row.iter().map(|&v| (v - m).exp()).fold(F::zero(), |a, b| a + b).ln()
    }

    /// loss[i] = logsumexp(q[i, :k]) − q[i, code[i]] + cont_weight · ½ Σ_j (q[i, k + j] − z[i, z_off + j])²
    pub fn info_loss_forward<F: Float>(s: &InfoLoss, q: &[F], code: &[F], z: &[F], loss: &mut [F]) {
        let row = s.k + s.c;
        let half = F::from(0.5 * s.cont_weight).unwrap();
        for (i, l) in loss.iter_mut().enumerate() {
            let qi = &q[i * row..(i + 1) * row];
            *l = if s.k > 0 { logsumexp(&qi[..s.k]) - qi[code_of(code[i], s.k)] } else { F::zero() };
            for j in 0..s.c {
                let d = qi[s.k + j] - z[i * s.z_dim + s.z_off() + j];
                *l = *l + half * d * d;
            }
        }
    }

    /// dq = scale · d mean(loss) / dq
    pub fn info_loss_backward<F: Float>(s: &InfoLoss, q: &[F], code: &[F], z: &[F], dq: &mut [F], scale: F) {
        let row = s.k + s.c;
        let n = F::from(s.n).unwrap();
        let cont = F::from(s.cont_weight).unwrap();
        for i in 0..s.n {
            let qi = &q[i * row..(i + 1) * row];
            let di = &mut dq[i * row..(i + 1) * row];
            if s.k > 0 {
                let lse = logsumexp(&qi[..s.k]);
                let hot = code_of(code[i], s.k);
                for j in 0..s.k {
                    let one = if j == hot { F::one() } else { F::zero() };
                    di[j] = scale * ((qi[j] - lse).exp() - one) / n;
                }
            }
            for j in 0..s.c {
                di[s.k + j] = scale * cont * (qi[s.k + j] - z[i * s.z_dim + s.z_off() + j]) / n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InfoLoss;
    use super::reference::*;
    use crate::reference::gradcheck::{Rng, check};

    #[test]
    fn info_loss_gradient() {
        let mut rng = Rng::new(31);
        for (k, c) in [(4, 2), (3, 0), (0, 3)] {
            let s = InfoLoss { n: 5, k, c, z_dim: 6, cont_weight: 0.3 };
            let q: Vec<f64> = (0..5 * (k + c)).map(|_| rng.f(-3.0, 3.0)).collect();
            let z: Vec<f64> = (0..30).map(|_| rng.f(-2.0, 2.0)).collect();
            let code: Vec<f64> = (0..5).map(|i| (i % k.max(1)) as f64 + 0.5).collect();
            let mut dq = vec![0.0; q.len()];
            info_loss_backward(&s, &q, &code, &z, &mut dq, 1.0);
            let forward = |q: &[f64]| {
                let mut l = vec![0.0; 5];
                info_loss_forward(&s, q, &code, &z, &mut l);
                vec![l.iter().sum::<f64>() / 5.0]
            };
            check("info_loss", &q, &[1.0], forward, &dq);
        }
    }
}
