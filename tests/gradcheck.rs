//! The CPU reference's gradients against central finite differences, in f64, on small shapes.
//! For each op, L(p) = Σ r ⊙ forward(p) for a fixed random r, and backward(dy = r) must give dL/dp.

mod common;

use common::Rng;
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::ops::batch_norm::BatchNorm;
use wgan_gpu::ops::conv_transpose2d::ConvTranspose2d;
use wgan_gpu::ops::conv2d::Conv2d;
use wgan_gpu::ops::linear::Linear;
use wgan_gpu::reference::activation::{activation_backward, activation_forward};
use wgan_gpu::reference::batch_norm::{batch_norm_backward, batch_norm_forward};
use wgan_gpu::reference::bce_with_logits::{bce_with_logits_backward, bce_with_logits_forward};
use wgan_gpu::reference::conv_transpose2d::{conv_transpose2d_backward, conv_transpose2d_forward};
use wgan_gpu::reference::conv2d::{conv2d_backward, conv2d_forward};
use wgan_gpu::reference::hinge::{hinge_backward, hinge_forward};
use wgan_gpu::reference::linear::{linear_backward, linear_forward};
use wgan_gpu::reference::mse::{mse_backward, mse_forward};
use wgan_gpu::reference::softmax_cross_entropy::{
    softmax_cross_entropy_backward, softmax_cross_entropy_forward,
};

/// Compares `analytic` with the central difference of p ↦ Σ r·forward(p) at every coordinate.
fn check(what: &str, p: &[f64], r: &[f64], forward: impl Fn(&[f64]) -> Vec<f64>, analytic: &[f64]) {
    assert_eq!(p.len(), analytic.len(), "{what}: gradient length");
    let loss = |q: &[f64]| forward(q).iter().zip(r).map(|(y, r)| y * r).sum::<f64>();
    let h = 1e-5;
    let mut worst = (0.0f64, 0usize, 0.0, 0.0);
    for i in 0..p.len() {
        let mut q = p.to_vec();
        q[i] = p[i] + h;
        let up = loss(&q);
        q[i] = p[i] - h;
        let down = loss(&q);
        let numeric = (up - down) / (2.0 * h);
        // Rounding in the difference quotient is ~eps·|L|/h ≈ 1e-10, so tiny entries are
        // judged by an absolute floor rather than relatively.
        let err = (numeric - analytic[i]).abs() / (1e-4 + numeric.abs().max(analytic[i].abs()));
        if err > worst.0 {
            worst = (err, i, numeric, analytic[i]);
        }
    }
    let (err, i, numeric, analytic) = worst;
    assert!(
        err < 1e-5,
        "{what}: worst relative error {err:e} at [{i}]: numeric {numeric:e}, analytic {analytic:e}"
    );
}

fn vecf(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.f(-1.0, 1.0)).collect()
}

#[test]
fn linear_gradients() {
    let mut rng = Rng::new(11);
    let s = Linear { batch: 3, in_features: 4, out_features: 5 };
    let (nx, nw, nb, ny) = (12, 20, 5, 15);
    let p = vecf(&mut rng, nx + nw + nb);
    let r = vecf(&mut rng, ny);
    let forward = |p: &[f64]| {
        let mut y = vec![0.0; ny];
        linear_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
        y
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
    linear_backward(&s, &p[..nx], &p[nx..nx + nw], &r, Some(&mut dx), Some(&mut dw), Some(&mut db));
    check("linear", &p, &r, forward, &[dx, dw, db].concat());
}

#[test]
fn conv2d_gradients() {
    let mut rng = Rng::new(12);
    for s in [
        Conv2d { n: 2, c: 2, h: 5, w: 6, k: 3, kh: 3, kw: 2, stride: 2, pad: 1 },
        Conv2d { n: 1, c: 3, h: 4, w: 4, k: 2, kh: 4, kw: 4, stride: 2, pad: 1 },
    ] {
        let (oh, ow) = s.out_hw();
        let (nx, nw, nb, ny) = (s.n * s.c * s.h * s.w, s.k * s.c * s.kh * s.kw, s.k, s.n * s.k * oh * ow);
        let p = vecf(&mut rng, nx + nw + nb);
        let r = vecf(&mut rng, ny);
        let forward = |p: &[f64]| {
            let mut y = vec![0.0; ny];
            conv2d_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
            y
        };
        let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
        conv2d_backward(&s, &p[..nx], &p[nx..nx + nw], &r, Some(&mut dx), Some(&mut dw), Some(&mut db));
        check(&format!("conv2d {s:?}"), &p, &r, forward, &[dx, dw, db].concat());
    }
}

#[test]
fn conv_transpose2d_gradients() {
    let mut rng = Rng::new(13);
    for s in [
        ConvTranspose2d { n: 2, c: 2, h: 3, w: 4, k: 3, kh: 3, kw: 3, stride: 2, pad: 1, output_padding: 1 },
        ConvTranspose2d { n: 1, c: 3, h: 3, w: 3, k: 2, kh: 4, kw: 4, stride: 2, pad: 1, output_padding: 0 },
    ] {
        let (oh, ow) = s.out_hw();
        let (nx, nw, nb, ny) = (s.n * s.c * s.h * s.w, s.c * s.k * s.kh * s.kw, s.k, s.n * s.k * oh * ow);
        let p = vecf(&mut rng, nx + nw + nb);
        let r = vecf(&mut rng, ny);
        let forward = |p: &[f64]| {
            let mut y = vec![0.0; ny];
            conv_transpose2d_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
            y
        };
        let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
        conv_transpose2d_backward(
            &s,
            &p[..nx],
            &p[nx..nx + nw],
            &r,
            Some(&mut dx),
            Some(&mut dw),
            Some(&mut db),
        );
        check(&format!("conv_transpose2d {s:?}"), &p, &r, forward, &[dx, dw, db].concat());
    }
}

#[test]
fn activation_gradients() {
    let mut rng = Rng::new(14);
    for a in [Activation::Relu, Activation::LeakyRelu(0.2), Activation::Sigmoid, Activation::Tanh] {
        let x = rng.vec_away_from_zero(40, 0.01, 4.0);
        let r = vecf(&mut rng, 40);
        let forward = |x: &[f64]| {
            let mut y = vec![0.0; x.len()];
            activation_forward(a, x, &mut y);
            y
        };
        let y = forward(&x);
        let mut dx = vec![0.0; 40];
        activation_backward(a, &y, &r, &mut dx);
        check(&format!("activation {a:?}"), &x, &r, forward, &dx);
    }
}

#[test]
fn loss_gradients() {
    let mut rng = Rng::new(15);
    let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
    let t: Vec<f64> = (0..12).map(|_| rng.f(0.0, 1.0)).collect();
    let mean = |l: Vec<f64>| vec![l.iter().sum::<f64>() / l.len() as f64];
    let mut dz = vec![0.0; 12];
    bce_with_logits_backward(&z, &t, &mut dz, 1.0);
    let forward = |z: &[f64]| {
        let mut l = vec![0.0; z.len()];
        bce_with_logits_forward(z, &t, &mut l);
        mean(l)
    };
    check("bce_with_logits", &z, &[1.0], forward, &dz);
    mse_backward(&z, &t, &mut dz, 1.0);
    let forward = |z: &[f64]| {
        let mut l = vec![0.0; z.len()];
        mse_forward(z, &t, &mut l);
        mean(l)
    };
    check("mse", &z, &[1.0], forward, &dz);
    // Targets 1 and 0 (real, fake), logits away from the hinge's kink at ±1.
    let t: Vec<f64> = (0..12).map(|i| (i % 2) as f64).collect();
    let z: Vec<f64> = z.iter().map(|&v| if (v.abs() - 1.0).abs() < 0.1 { v + 0.3 } else { v }).collect();
    hinge_backward(&z, &t, &mut dz, 1.0);
    let forward = |z: &[f64]| {
        let mut l = vec![0.0; z.len()];
        hinge_forward(z, &t, &mut l);
        mean(l)
    };
    check("hinge", &z, &[1.0], forward, &dz);

    // 4 samples of 3 classes.
    let label = [2.0, 0.0, 1.0, 2.0];
    softmax_cross_entropy_backward(&z, &label, 3, &mut dz, 1.0);
    let forward = |z: &[f64]| {
        let mut l = vec![0.0; 4];
        softmax_cross_entropy_forward(z, &label, 3, &mut l);
        mean(l)
    };
    check("softmax_cross_entropy", &z, &[1.0], forward, &dz);
}

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
            batch_norm_forward(
                &s,
                &p[..len],
                &p[len..len + c],
                &p[len + c..],
                &mut running,
                saved,
                &mut y,
                true,
            );
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

/// Spectral norm: after a power iteration, w ↦ w / (uᵀ w v) with u, v held (PyTorch's
/// semantics), whose gradient goes through σ as well; and the power iteration finds σ₁.
#[test]
fn spectral_norm_gradient_and_sigma() {
    use wgan_gpu::ops::spectral_norm::SpectralNorm;
    use wgan_gpu::reference::spectral_norm::{
        spectral_norm_backward, spectral_norm_power, spectral_norm_scale,
    };
    let mut rng = Rng::new(31);
    let (m, k) = (5, 7);
    let s = SpectralNorm::new(m, k);
    let w = vecf(&mut rng, m * k);
    let r = vecf(&mut rng, m * k);
    let (mut u, mut v, mut state) = (vecf(&mut rng, m), vec![0.0; k], vec![0.0; 2]);
    spectral_norm_power(&s, &w, &mut u, &mut v, &mut state);
    let mut w_sn = vec![0.0; m * k];
    spectral_norm_scale(&w, &state, &mut w_sn);
    let mut dw = r.clone();
    spectral_norm_backward(&s, &w_sn, &u, &v, &mut state, &mut dw);
    let forward = |q: &[f64]| {
        let sigma: f64 = (0..m).map(|i| u[i] * (0..k).map(|j| q[i * k + j] * v[j]).sum::<f64>()).sum();
        q.iter().map(|x| x / sigma).collect()
    };
    check("spectral_norm", &w, &r, forward, &dw);

    // Many iterations converge to the largest singular value.
    for _ in 0..200 {
        spectral_norm_power(&s, &w, &mut u, &mut v, &mut state);
    }
    let sv = nalgebra::DMatrix::from_row_slice(m, k, &w).singular_values();
    let top = sv.iter().cloned().fold(0.0, f64::max);
    assert!((state[0] - top).abs() < 1e-9 * top, "sigma {} vs largest singular value {top}", state[0]);
}
