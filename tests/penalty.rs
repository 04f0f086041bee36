//! Gradient penalties (WGAN-GP, R1): the double backward through D equals central differences
//! of the penalty (CPU backend), and whole iterations with a penalty on the GPU equal the CPU.

mod common;

use common::{Rng, assert_close, gpu};
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::gan::models::{DcganOptions, conditional, dcgan_discriminator, dcgan_generator};
use wgan_gpu::gan::models::{mlp_discriminator, mlp_generator};
use wgan_gpu::gan::{Gan, GanConfig, LossKind, OptConfig, OptKind};
use wgan_gpu::nn::{Net, NetSpec, Shape};
use wgan_gpu::ops::gradient_penalty::GradientPenalty;
use wgan_gpu::{Backend, Tensor};

/// The mean penalty of D's input gradient at x, and (when `grads`) its parameter gradient
/// accumulated into D's gradient buffer.
fn penalty(b: &mut CpuBackend, d: &mut Net<CpuBackend>, x: &[f32], s: &GradientPenalty, grads: bool) -> f32 {
    let x = b.upload(x).unwrap();
    let (input_grad, adjoint) = (b.alloc(x.len()).unwrap(), b.alloc(x.len()).unwrap());
    let (norm, loss, mean) = (b.alloc(s.rows).unwrap(), b.alloc(s.rows).unwrap(), b.alloc(1).unwrap());
    d.forward(b, &x, true, 9, 0).unwrap();
    let ones = d.output_grad().clone();
    b.write(&ones, &vec![1.0; s.rows]).unwrap();
    d.backward(b, &x, Some(&input_grad), false).unwrap();
    wgan_gpu::ops::gradient_penalty::forward(b, s, &input_grad, &norm, &loss).unwrap();
    wgan_gpu::ops::reduce::sum(b, &loss, &mean, 1.0 / s.rows as f32).unwrap();
    if grads {
        wgan_gpu::ops::gradient_penalty::backward(b, s, &input_grad, &norm, &adjoint).unwrap();
        d.input_grad_backward(b, &adjoint).unwrap();
    }
    b.read(&mean).unwrap()[0]
}

/// Every parameter tensor of D (conv, linear, biases; dropout in the MLP) at a few entries: the
/// analytic gradient of WGAN-GP's and R1's penalty against central differences. D's
/// LeakyReLUs make the penalty piecewise smooth: an entry whose differences at two step sizes
/// disagree straddles a kink and is skipped, and most entries must not.
#[test]
fn penalty_gradients_match_finite_differences() {
    let o = DcganOptions { width: 3, g_batch_norm: false, ..DcganOptions::default() };
    let dcgan = dcgan_discriminator(Shape(2, 8, 8), o);
    let mlp = mlp_discriminator(Shape(2, 3, 4), &[9, 7], 0.25);
    // A projection discriminator: the DCGAN's D with a class embedding beside its linear head.
    let mut projection = dcgan.clone();
    *projection.layers.last_mut().unwrap() = wgan_gpu::nn::LayerSpec::Projection { classes: 3 };
    let mut b = CpuBackend;
    let (mut checked, mut skipped) = (0, 0);
    // The blocks' D starts with larger weights: PyTorch's initial scale leaves its input gradient
    // (and so the penalty's parameter gradient) too small to check through pooling and blends.
    for (spec, dim, gain) in
        [(dcgan, 100, 1.0), (mlp, 20, 1.0), (blocks_discriminator(), 100, 3.0), (projection, 100, 1.0)]
    {
        let n = 3;
        let mut d = Net::new(&mut b, &spec, n).unwrap();
        if let Some(labels) = d.labels() {
            b.write(labels, &[2.0, 0.0, 2.0]).unwrap();
        }
        d.init(&mut b, 4).unwrap();
        let scaled: Vec<f32> = b.read(&d.params).unwrap().iter().map(|p| p * gain).collect();
        b.write(&d.params, &scaled).unwrap();
        d.set_blend(0.4);
        d.enable_input_grad_backward(&mut b).unwrap();
        let row_len = spec.input.size();
        let x = Rng::new(8).vec(n * row_len, -1.0, 1.0);
        // WGAN-GP's target 1, and R1's 0; `dim` < row_len leaves trailing features unpenalised,
        // as label planes are.
        for (weight, target) in [(1.0, 1.0), (0.5, 0.0)] {
            let s = GradientPenalty { rows: n, row_len, dim, weight, target };
            b.zero(&d.grads).unwrap();
            penalty(&mut b, &mut d, &x, &s, true);
            let grads = b.read(&d.grads).unwrap();
            let largest = grads.iter().fold(0.0f32, |m, g| m.max(g.abs()));
            assert!(largest > 1e-3, "a penalty gradient that is not all zero: {largest}");
            let base = b.read(&d.params).unwrap();
            let params = d.params.clone();
            let numeric = |b: &mut CpuBackend, d: &mut Net<CpuBackend>, i: usize, h: f32| {
                let mut p = base.clone();
                p[i] += h;
                b.write(&params, &p).unwrap();
                let up = penalty(b, d, &x, &s, false);
                p[i] -= 2.0 * h;
                b.write(&params, &p).unwrap();
                let down = penalty(b, d, &x, &s, false);
                b.write(&params, &base).unwrap();
                (up - down) / (2.0 * h)
            };
            for info in d.param_infos.clone() {
                for k in [0, info.len / 3, info.len / 2, info.len - 1] {
                    let i = info.offset + k;
                    let (coarse, fine) = (numeric(&mut b, &mut d, i, 2e-3), numeric(&mut b, &mut d, i, 1e-3));
                    if (coarse - fine).abs() > 1e-3 + 0.05 * fine.abs() {
                        skipped += 1;
                        continue;
                    }
                    checked += 1;
                    let tol = 1e-3 + 3e-2 * fine.abs().max(grads[i].abs());
                    assert!(
                        (fine - grads[i]).abs() <= tol,
                        "{:?} target {target}: {}[{k}]: numeric {fine:e}, analytic {:e}",
                        spec.layers[0],
                        info.name,
                        grads[i]
                    );
                }
            }
        }
    }
    assert!(skipped * 5 <= checked, "{skipped} entries at kinks, {checked} checked");
}

/// A D of blocks: a residual down-block with a 1×1 shortcut, a blend of two paths (α 0.4), an
/// identity residual, and a linear head.
fn blocks_discriminator() -> NetSpec {
    use wgan_gpu::nn::{BlendSpec, LayerSpec, ResidualSpec, Upsampling};
    let conv = |out, kernel: usize| LayerSpec::Conv2d { out, kernel, stride: 1, pad: kernel / 2, bias: true };
    let lrelu = LayerSpec::Activation { f: wgan_gpu::ops::activation::Activation::LeakyRelu(0.2) };
    let down = ResidualSpec {
        main: vec![conv(3, 3), lrelu.clone(), conv(4, 3), LayerSpec::AvgPool],
        shortcut: vec![conv(4, 1), LayerSpec::AvgPool],
    };
    let blend = BlendSpec {
        a: vec![LayerSpec::AvgPool, LayerSpec::Upsample { mode: Upsampling::Bilinear }],
        b: vec![lrelu.clone(), conv(4, 3)],
    };
    let identity = ResidualSpec { main: vec![lrelu.clone(), conv(4, 3)], shortcut: vec![] };
    NetSpec {
        input: Shape(2, 8, 8),
        layers: vec![
            LayerSpec::Residual(down),
            LayerSpec::Blend(blend),
            LayerSpec::Residual(identity),
            lrelu,
            LayerSpec::Linear { out: 1, bias: true },
        ],
        spectral_norm: false,
    }
}

fn config(loss: LossKind, batch: usize, d_steps: usize) -> GanConfig {
    let opt = OptConfig {
        kind: OptKind::Adam,
        lr: 2e-4,
        beta1: 0.0,
        beta2: 0.9,
        eps: 1e-8,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    GanConfig {
        loss,
        batch,
        d_steps,
        z_dim: 8,
        opt_g: opt,
        opt_d: OptConfig { lr: 4e-4, ..opt },
        seed: 23,
        ..GanConfig::default()
    }
}

/// Stats after each of three iterations, then D's parameters.
fn run<B: Backend>(b: &mut B, cfg: &GanConfig, g: &NetSpec, d: &NetSpec) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut gan = Gan::new(b, cfg.clone(), g, d).unwrap();
    let mut rng = Rng::new(cfg.seed);
    let img = gan.g.output_shape().size();
    let mut stats = Vec::new();
    for _ in 0..3 {
        let (reals, labels) = common::iteration_inputs(b, &mut rng, cfg, img);
        gan.iteration(b, &reals, &labels).unwrap();
        let s = b.read(&gan.stats).unwrap();
        assert!(gan.summarise(&s).penalty > 0.0, "the penalty is computed and reported");
        stats.push(s);
    }
    (stats, b.read(&gan.d.params).unwrap())
}

fn compare(what: &str, cfg: &GanConfig, g: &NetSpec, d: &NetSpec) {
    let want = run(&mut CpuBackend, cfg, g, d);
    let Some(mut gpu) = gpu() else { return };
    let got = run(&mut gpu, cfg, g, d);
    for (i, (g, w)) in got.0.iter().zip(&want.0).enumerate() {
        assert_close(&format!("{what}: stats after iteration {}", i + 1), g, w, 1e-4, 2e-3);
    }
    assert_close(&format!("{what}: d.params"), &got.1, &want.1, 3.0 * cfg.opt_d.lr, 1e-3);
}

#[test]
fn penalised_iterations_equal_reference() {
    let o = DcganOptions { width: 3, d_dropout: 0.2, ..DcganOptions::default() };
    let img = Shape(1, 8, 8);
    let (g, mut d) = (dcgan_generator(8, img, o), dcgan_discriminator(img, o));
    compare("dcgan wgan-gp", &config(LossKind::WganGp, 5, 2), &g, &d);
    // R1 with hinge loss through a spectrally normalised D.
    d.spectral_norm = true;
    let cfg = GanConfig { r1: 2.0, ..config(LossKind::Hinge, 5, 1) };
    compare("dcgan hinge + spectral norm + r1", &cfg, &g, &d);
    // Label planes (not penalised) and instance noise; an MLP D with dropout.
    let mut cfg = GanConfig { r1: 1.0, ..config(LossKind::Bce, 6, 1) };
    (cfg.classes, cfg.instance_noise, cfg.noise_anneal_steps) = (3, 0.1, 4);
    let (g, d) = conditional(mlp_generator(8, &[12], img, true), mlp_discriminator(img, &[10], 0.3), 3, false);
    compare("conditional mlp bce + r1 + noise", &cfg, &g, &d);
    let (g, d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, false);
    let cfg = GanConfig { classes: 3, ..config(LossKind::WganGp, 4, 1) };
    compare("conditional dcgan wgan-gp", &cfg, &g, &d);
    // A projection discriminator, spectrally normalised (its embedding too), with R1.
    let (g, mut d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, true);
    d.spectral_norm = true;
    let cfg = GanConfig { classes: 3, r1: 2.0, ..config(LossKind::Hinge, 4, 1) };
    compare("projection dcgan hinge + spectral norm + r1", &cfg, &g, &d);
    // A D of blocks (residual, blend, pooling, upsampling).
    let g = dcgan_generator(8, Shape(2, 8, 8), o);
    compare("blocks d wgan-gp", &config(LossKind::WganGp, 4, 1), &g, &blocks_discriminator());
}

#[test]
fn penalties_refuse_batch_norm_in_d() {
    let o = DcganOptions { width: 2, d_batch_norm: true, ..DcganOptions::default() };
    let img = Shape(1, 28, 28);
    let (g, d) = (dcgan_generator(8, img, o), dcgan_discriminator(img, o));
    let err = Gan::new(&mut CpuBackend, config(LossKind::WganGp, 4, 1), &g, &d).err().expect("refused");
    assert!(err.to_string().contains("batch norm"), "{err}");
}
