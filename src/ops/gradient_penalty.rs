//! gradient_penalty: weight · (‖g‖ − target)² per row of D's input gradient g (WGAN-GP's target
//! 1 on interpolates, R1's 0 on reals), the interpolates themselves, and the penalty's gradient
//! with respect to g, which [`crate::nn::Net::input_grad_backward`] carries on to D's weights.
//! a, b, mixed, g, dg [rows, row_len]; t, norm, loss [rows]; only g[:, :dim] is penalised.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientPenalty {
    /// D's decisions: samples, or packs of samples with PacGAN.
    pub rows: usize,
    /// D's input features per row.
    pub row_len: usize,
    /// The leading features of a row that are penalised (the image, not label planes).
    pub dim: usize,
    pub weight: f32,
    /// The gradient norm aimed at: 1 for WGAN-GP, 0 for R1.
    pub target: f32,
}

impl GradientPenalty {
    pub fn check(&self, rows_by_len: usize, per_row: usize) -> Result<()> {
        if self.dim > self.row_len || !self.weight.is_finite() || !self.target.is_finite() {
            return Err(Error::shape(
                "gradient_penalty",
                format!("penalised features {} of rows of {}, weight {}", self.dim, self.row_len, self.weight),
            ));
        }
        expect("gradient_penalty", "g", rows_by_len, &[self.rows, self.row_len])?;
        expect("gradient_penalty", "per-row tensor", per_row, &[self.rows])
    }

    fn params(&self) -> GradientPenaltyParams {
        GradientPenaltyParams {
            rows: u(self.rows),
            row_len: u(self.row_len),
            dim: u(self.dim),
            weight: self.weight,
            target_norm: self.target,
        }
    }
}

params! {
    pub struct GradientPenaltyParams { rows: u32, row_len: u32, dim: u32, weight: f32, target_norm: f32 }
}

/// mixed = a + t · (b − a), one t per row.
pub fn interpolate<B: Backend>(
    b: &mut B,
    s: &GradientPenalty,
    real: &B::T,
    fake: &B::T,
    t: &B::T,
    mixed: &B::T,
) -> Result<()> {
    run(b, &PenaltyPass { s: *s, entry: Entry::Interpolate }, &[real, fake, t], &[mixed])
}

/// norm = ‖g[:, :dim]‖ and loss = weight · (norm − target)², per row.
pub fn forward<B: Backend>(b: &mut B, s: &GradientPenalty, g: &B::T, norm: &B::T, loss: &B::T) -> Result<()> {
    run(b, &PenaltyPass { s: *s, entry: Entry::Forward }, &[g], &[norm, loss])
}

/// dg = d mean(loss) / dg, from forward's norm.
pub fn backward<B: Backend>(b: &mut B, s: &GradientPenalty, g: &B::T, norm: &B::T, dg: &B::T) -> Result<()> {
    run(b, &PenaltyPass { s: *s, entry: Entry::Backward }, &[g, norm], &[dg])
}

#[derive(Clone, Copy, PartialEq)]
enum Entry {
    Interpolate,
    Forward,
    Backward,
}

/// Interpolate reads a, b, t and writes mixed; forward reads g and writes norm, loss; backward
/// reads g, norm and writes dg.
struct PenaltyPass {
    s: GradientPenalty,
    entry: Entry,
}

impl Pass for PenaltyPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let s = &self.s;
        match self.entry {
            Entry::Interpolate => {
                let ([a, b, t], [mixed]) = (all(reads), all(writes));
                s.check(a, t)?;
                expect("gradient_penalty", "fake", b, &[s.rows, s.row_len])?;
                expect("gradient_penalty", "mixed", mixed, &[s.rows, s.row_len])
            }
            Entry::Forward => {
                let ([g], [norm, loss]) = (all(reads), all(writes));
                s.check(g, norm)?;
                expect("gradient_penalty", "loss", loss, &[s.rows])
            }
            Entry::Backward => {
                let ([g, norm], [dg]) = (all(reads), all(writes));
                s.check(g, norm)?;
                expect("gradient_penalty", "dg", dg, &[s.rows, s.row_len])
            }
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let s = &self.s;
        match self.entry {
            Entry::Interpolate => {
                let ([a, b, t], [mixed]) = (all(reads), all_mut(writes));
                reference::gradient_penalty_interpolate(s, a, b, t, mixed);
            }
            Entry::Forward => {
                let ([g], [norm, loss]) = (all(reads), all_mut(writes));
                reference::gradient_penalty_forward(s, g, norm, loss);
            }
            Entry::Backward => {
                let ([g, norm], [dg]) = (all(reads), all_mut(writes));
                reference::gradient_penalty_backward(s, g, norm, dg);
            }
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let params = self.s.params();
        let items = self.s.rows * self.s.row_len;
        match self.entry {
            Entry::Interpolate => {
                let ([a, b, t], [mixed]) = (all(reads), all(writes));
                let bindings = [(1, a), (2, b), (3, t), (4, mixed)];
                g.dispatch_items("gradient_penalty", "interpolate", &params, &bindings, items)
            }
            Entry::Forward => {
                let ([grad], [norm, loss]) = (all(reads), all(writes));
                let bindings = [(1, grad), (5, norm), (6, loss)];
                g.dispatch("gradient_penalty", "forward", &params, &bindings, self.s.rows)
            }
            Entry::Backward => {
                let ([grad, norm], [dg]) = (all(reads), all(writes));
                let bindings = [(1, grad), (5, norm), (4, dg)];
                g.dispatch_items("gradient_penalty", "backward", &params, &bindings, items)
            }
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::GradientPenalty;
    use crate::reference::Float;

    fn f<F: Float>(x: f32) -> F {
        F::from(x).unwrap()
    }

    /// mixed[r, j] = a[r, j] + t[r] · (b[r, j] − a[r, j])
    pub fn gradient_penalty_interpolate<F: Float>(s: &GradientPenalty, a: &[F], b: &[F], t: &[F], mixed: &mut [F]) {
        for (i, m) in mixed.iter_mut().enumerate() {
            *m = a[i] + t[i / s.row_len] * (b[i] - a[i]);
        }
    }

    /// norm[r] = ‖g[r, :dim]‖, loss[r] = weight · (norm[r] − target)²
    pub fn gradient_penalty_forward<F: Float>(s: &GradientPenalty, g: &[F], norm: &mut [F], loss: &mut [F]) {
        for r in 0..s.rows {
            let row = &g[r * s.row_len..r * s.row_len + s.dim];
            let n = row.iter().fold(F::zero(), |acc, &v| acc + v * v).sqrt();
            norm[r] = n;
            loss[r] = f::<F>(s.weight) * (n - f(s.target)) * (n - f(s.target));
        }
    }

    /// dg[r, j] = 2 · weight · (norm[r] − target) / max(norm[r], tiny) · g[r, j] / rows, j < dim
    pub fn gradient_penalty_backward<F: Float>(s: &GradientPenalty, g: &[F], norm: &[F], dg: &mut [F]) {
        let rows = F::from(s.rows).unwrap();
        for (i, d) in dg.iter_mut().enumerate() {
            let n = norm[i / s.row_len];
            let coef = f::<F>(2.0 * s.weight) * (n - f(s.target)) / (n.max(f(1e-12)) * rows);
            *d = if i % s.row_len < s.dim { coef * g[i] } else { F::zero() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GradientPenalty;
    use super::reference::*;
    use crate::ops::activation::Activation;
    use crate::ops::activation::reference::{activation_backward, activation_forward};
    use crate::ops::conv2d::Conv2d;
    use crate::ops::conv2d::reference::{conv2d_backward, conv2d_forward};
    use crate::ops::linear::Linear;
    use crate::ops::linear::reference::{linear_backward, linear_forward};
    use crate::reference::gradcheck::{Rng, check};

    const N: usize = 2;
    const CONV: Conv2d = Conv2d { n: N, c: 2, h: 5, w: 5, k: 3, kh: 3, kw: 3, stride: 2, pad: 1 };
    const LINEAR: Linear = Linear { batch: N, in_features: 27, out_features: 1 };
    const LRELU: Activation = Activation::LeakyRelu(0.2);

    /// The parameters [conv w (54), conv b (3), linear w (27), linear b (1)].
    fn split(p: &[f64]) -> (&[f64], &[f64], &[f64], &[f64]) {
        (&p[..54], &p[54..57], &p[57..84], &p[84..85])
    }

    /// D = linear(lrelu(conv(x))), its input gradient by a backward of ones (f64, references),
    /// and the activations the double backward reads.
    fn input_grad(p: &[f64], x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (cw, cb, lw, lb) = split(p);
        let (mut pre, mut act, mut out) = (vec![0.0; N * 27], vec![0.0; N * 27], vec![0.0; N]);
        conv2d_forward(&CONV, x, cw, Some(cb), &mut pre);
        activation_forward(LRELU, &pre, &mut act);
        linear_forward(&LINEAR, &act, lw, Some(lb), &mut out);
        let (mut dact, mut dpre, mut dx) = (vec![0.0; N * 27], vec![0.0; N * 27], vec![0.0; x.len()]);
        linear_backward(&LINEAR, &act, lw, &[1.0; N], Some(&mut dact), None, None);
        activation_backward(LRELU, &act, &dact, &mut dpre);
        conv2d_backward(&CONV, x, cw, &dpre, Some(&mut dx), None, None);
        (dx, act.iter().chain(&dpre).copied().collect())
    }

    /// The whole penalty's gradient with respect to D's weights, in f64, against central
    /// differences: the double backward as `Net::input_grad_backward` runs it (each weighted
    /// layer's forward without bias on the adjoint, the activation's mask, and its weight
    /// gradient with the adjoint as input), on a conv and a linear layer.
    #[test]
    fn whole_penalty_gradient_in_f64() {
        let mut rng = Rng::new(41);
        let x: Vec<f64> = (0..N * 50).map(|_| rng.f(-1.0, 1.0)).collect();
        let p: Vec<f64> = (0..85).map(|_| rng.f(-0.6, 0.6)).collect();
        for (weight, target) in [(10.0, 1.0), (0.5, 0.0)] {
            let s = GradientPenalty { rows: N, row_len: 50, dim: 50, weight, target };
            let penalty = |p: &[f64]| {
                let (g, _) = input_grad(p, &x);
                let (mut norm, mut loss) = (vec![0.0; N], vec![0.0; N]);
                gradient_penalty_forward(&s, &g, &mut norm, &mut loss);
                vec![loss.iter().sum::<f64>() / N as f64]
            };
            let (g, saved) = input_grad(&p, &x);
            let (act, dpre) = saved.split_at(N * 27);
            let (mut norm, mut loss, mut e0) = (vec![0.0; N], vec![0.0; N], vec![0.0; g.len()]);
            gradient_penalty_forward(&s, &g, &mut norm, &mut loss);
            gradient_penalty_backward(&s, &g, &norm, &mut e0);
            let (cw, _, lw, _) = split(&p);
            let mut grad = vec![0.0; 85];
            let (e1, mut e2) = (&mut vec![0.0; N * 27], vec![0.0; N * 27]);
            conv2d_forward(&CONV, &e0, cw, None, e1);
            conv2d_backward(&CONV, &e0, cw, dpre, None, Some(&mut grad[..54]), None);
            activation_backward(LRELU, act, e1, &mut e2);
            linear_backward(&LINEAR, &e2, lw, &[1.0; N], None, Some(&mut grad[57..84]), None);
            check("whole penalty", &p, &[1.0], penalty, &grad);
        }
    }

    #[test]
    fn penalty_gradient() {
        let mut rng = Rng::new(21);
        for (target, weight) in [(1.0, 10.0), (0.0, 0.5)] {
            let s = GradientPenalty { rows: 3, row_len: 7, dim: 5, weight, target };
            let g: Vec<f64> = (0..21).map(|_| rng.f(-1.0, 1.0)).collect();
            let mean_loss = |g: &[f64]| {
                let (mut norm, mut loss) = (vec![0.0; 3], vec![0.0; 3]);
                gradient_penalty_forward(&s, g, &mut norm, &mut loss);
                vec![loss.iter().sum::<f64>() / 3.0]
            };
            let (mut norm, mut loss) = (vec![0.0; 3], vec![0.0; 3]);
            gradient_penalty_forward(&s, &g, &mut norm, &mut loss);
            let mut dg = vec![0.0; 21];
            gradient_penalty_backward(&s, &g, &norm, &mut dg);
            check("gradient_penalty", &g, &[1.0], mean_loss, &dg);
            // The label planes after the image get no gradient.
            assert!((0..3).all(|r| dg[r * 7 + 5] == 0.0 && dg[r * 7 + 6] == 0.0));
        }
    }
}
