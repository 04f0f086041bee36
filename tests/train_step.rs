//! Whole training iterations (D steps on real and fake batches, G step, both optimizer updates)
//! on the GPU equal the CPU reference: losses, logits, parameters and running statistics.

mod common;

use common::{Rng, assert_close, gpu};
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::gan::models::{
    DcganOptions, GUpsample, dcgan_discriminator, dcgan_generator, mlp_discriminator, mlp_generator,
};
use wgan_gpu::gan::{Gan, GanConfig, LossKind, OptConfig, OptKind, UnrollGrad};
use wgan_gpu::nn::{LayerSpec, NetSpec, Shape};
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::{Backend, Tensor};

struct Snapshot {
    stats: Vec<Vec<f32>>,
    tensors: Vec<(String, Vec<f32>)>,
}

fn run<B: Backend>(b: &mut B, cfg: &GanConfig, g: &NetSpec, d: &NetSpec, iters: usize) -> Snapshot {
    let mut gan = Gan::new(b, cfg.clone(), g, d).unwrap();
    let mut rng = Rng::new(cfg.seed);
    let img = gan.g.output_shape().size();
    let mut stats = Vec::new();
    for _ in 0..iters {
        let (reals, labels) = common::iteration_inputs(b, &mut rng, cfg, img);
        gan.iteration(b, &reals, &labels).unwrap();
        stats.push(b.read(&gan.stats).unwrap());
    }
    let mut tensors = vec![
        ("g.params".to_string(), b.read(&gan.g.params).unwrap()),
        ("d.params".to_string(), b.read(&gan.d.params).unwrap()),
        ("g.adam_m".to_string(), b.read(&gan.opt_g.m).unwrap()),
        ("d.adam_v".to_string(), b.read(&gan.opt_d.v).unwrap()),
    ];
    if gan.g.running.len() > 1 {
        tensors.push(("g.running".to_string(), b.read(&gan.g.running).unwrap()));
    }
    if gan.d.spec.spectral_norm {
        tensors.push(("d.spectral".to_string(), b.read(&gan.d.spectral_state).unwrap()));
    }
    if let Some(q) = &gan.q {
        tensors.push(("q.params".to_string(), b.read(&q.net.params).unwrap()));
    }
    if gan.g_ema.is_some() {
        gan.refresh_ema_statistics(b).unwrap();
        let ema = gan.g_ema.as_ref().unwrap();
        tensors.push(("g_ema.params".to_string(), b.read(&ema.params).unwrap()));
        tensors.push(("g_ema.running".to_string(), b.read(&ema.running).unwrap()));
    }
    Snapshot { stats, tensors }
}

fn compare(what: &str, cfg: &GanConfig, g: &NetSpec, d: &NetSpec) {
    let Some(mut gpu) = gpu() else { return };
    let want = run(&mut CpuBackend, cfg, g, d, 3);
    let got = run(&mut gpu, cfg, g, d, 3);
    for (i, (g, w)) in got.stats.iter().zip(&want.stats).enumerate() {
        assert_close(&format!("{what}: stats after iteration {}", i + 1), g, w, 1e-4, 1e-3);
    }
    // Adam divides by √v, so parameters whose gradient is ~0 can move by up to lr·(steps) on
    // rounding alone; the tolerance is a small multiple of one step.
    let atol = 3.0 * cfg.opt_d.lr.max(cfg.opt_g.lr);
    for ((name, g), (_, w)) in got.tensors.iter().zip(&want.tensors) {
        assert_close(&format!("{what}: {name}"), g, w, atol, 1e-3);
    }
}

fn config(loss: LossKind, batch: usize, d_steps: usize, kind: OptKind) -> GanConfig {
    let opt = OptConfig { kind, lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, momentum: 0.9, weight_decay: 0.0 };
    GanConfig {
        loss,
        batch,
        d_steps,
        z_dim: 8,
        clip: 0.05,
        real_label: 0.9,
        opt_g: opt,
        opt_d: OptConfig { lr: 4e-4, ..opt },
        seed: 17,
        ..GanConfig::default()
    }
}

#[test]
fn mlp_iterations_equal_reference_for_every_loss() {
    let img = Shape(1, 6, 5);
    let g = mlp_generator(8, &[16, 24], img, true);
    let d = mlp_discriminator(img, &[20, 12], 0.3);
    for (loss, kind) in [
        (LossKind::Bce, OptKind::Adam),
        (LossKind::Minimax, OptKind::Sgd),
        (LossKind::Lsgan, OptKind::Adam),
        (LossKind::Wgan, OptKind::Adam),
    ] {
        let d_steps = if loss == LossKind::Wgan { 2 } else { 1 };
        compare(&format!("mlp {loss:?}"), &config(loss, 7, d_steps, kind), &g, &d);
    }
    // A generator step on 4 of the 7 fakes (the mlp-zeros preset's smaller G batch).
    let cfg = GanConfig { g_batch: 4, ..config(LossKind::Bce, 7, 1, OptKind::Sgd) };
    compare("mlp g_batch 4 of 7", &cfg, &g, &d);
    // It changes G's update and not D's (one iteration: D steps before G does).
    let all = run(&mut CpuBackend, &GanConfig { g_batch: 0, ..cfg.clone() }, &g, &d, 1);
    let four = run(&mut CpuBackend, &cfg, &g, &d, 1);
    assert_ne!(all.tensors[0].1, four.tensors[0].1, "g_batch must change G's update");
    assert_eq!(all.tensors[1].1, four.tensors[1].1, "g_batch must not change D's update");
    // Unrolled (Metz et al.): G steps against D two look-ahead steps on, D goes back.
    let cfg = GanConfig { unroll: 3, ..config(LossKind::Bce, 7, 1, OptKind::Adam) };
    compare("mlp unroll 3", &cfg, &g, &d);
    // The look-ahead changes G's update and not D's (whose look-ahead is undone).
    let plain = run(&mut CpuBackend, &GanConfig { unroll: 0, ..cfg.clone() }, &g, &d, 1);
    let mut rng = Rng::new(cfg.seed);
    let mut gan = Gan::new(&mut CpuBackend, cfg.clone(), &g, &d).unwrap();
    let (reals, labels) = common::iteration_inputs(&mut CpuBackend, &mut rng, &cfg, 30);
    gan.iteration(&mut CpuBackend, &reals, &labels).unwrap();
    let d_after = CpuBackend.read(&gan.d.params).unwrap();
    let g_after = CpuBackend.read(&gan.g.params).unwrap();
    assert_eq!(d_after, plain.tensors[1].1, "the look-ahead is undone: D as after its kept step");
    assert_ne!(g_after, plain.tensors[0].1, "G learns from the D ahead of it");
    assert_eq!(gan.opt_d.t, 1, "D's optimizer counts its kept step only");
    // The full variant: G's gradient also goes back through the look-ahead updates.
    let cfg = GanConfig { unroll: 3, unroll_grad: UnrollGrad::Full, ..config(LossKind::Hinge, 7, 1, OptKind::Adam) };
    compare("mlp unroll 3 full", &cfg, &g, &mlp_discriminator(img, &[20, 12], 0.0));
    // PacGAN: D judges 3 of the 12 rows at once (a table's G, without tanh).
    let (row, packed) = (Shape(5, 1, 1), Shape(15, 1, 1));
    let cfg = GanConfig { pac: 3, ..config(LossKind::Hinge, 12, 1, OptKind::Adam) };
    compare("mlp pac 3", &cfg, &mlp_generator(8, &[16], row, false), &mlp_discriminator(packed, &[12], 0.0));
}

#[test]
fn dcgan_iterations_equal_reference() {
    let o = DcganOptions { width: 4, d_batch_norm: true, d_dropout: 0.2, ..DcganOptions::default() };
    let img = Shape(1, 28, 28);
    let (g, d) = (dcgan_generator(8, img, o), dcgan_discriminator(img, o));
    compare("dcgan bce", &config(LossKind::Bce, 5, 1, OptKind::Adam), &g, &d);
    // 32×32 RGB: three levels from a 4×4 base, G doubling by nearest 2× and a 3×3 conv.
    let o = DcganOptions { width: 2, g_upsample: GUpsample::Nearest, ..DcganOptions::default() };
    let img = Shape(3, 32, 32);
    let (g, d) = (dcgan_generator(8, img, o), dcgan_discriminator(img, o));
    compare("dcgan 3x32x32", &config(LossKind::Lsgan, 3, 1, OptKind::Adam), &g, &d);
}

/// The recipe's pieces together: hinge loss, spectral norm on every layer of D (conv and
/// linear, two convolutions per level), G's moving average with its batch-norm statistics
/// recomputed.
#[test]
fn hinge_spectral_norm_and_ema_iterations_equal_reference() {
    let o = DcganOptions { width: 4, d_depth: 2, ..DcganOptions::default() };
    let img = Shape(1, 28, 28);
    let (g, mut d) = (dcgan_generator(8, img, o), dcgan_discriminator(img, o));
    d.spectral_norm = true;
    let cfg = GanConfig { g_ema: 0.99, ..config(LossKind::Hinge, 5, 1, OptKind::Adam) };
    compare("dcgan hinge + spectral norm + ema", &cfg, &g, &d);
    let mlp =
        (mlp_generator(8, &[16], img, true), NetSpec { spectral_norm: true, ..mlp_discriminator(img, &[12], 0.0) });
    compare("mlp bce + spectral norm", &config(LossKind::Bce, 7, 2, OptKind::Adam), &mlp.0, &mlp.1);

    // The EMA lags the live weights, and its statistics are its own.
    let mut b = CpuBackend;
    let mut gan = Gan::new(&mut b, cfg.clone(), &g, &d).unwrap();
    let reals = vec![b.upload(&vec![0.5; 5 * 784]).unwrap()];
    for _ in 0..3 {
        gan.iteration(&mut b, &reals, &[]).unwrap();
    }
    gan.refresh_ema_statistics(&mut b).unwrap();
    let ema = gan.g_ema.as_ref().unwrap();
    assert_ne!(b.read(&ema.params).unwrap(), b.read(&gan.g.params).unwrap());
    assert_ne!(b.read(&ema.running).unwrap(), b.read(&gan.g.running).unwrap());
}

#[test]
fn conditional_iterations_with_instance_noise_equal_reference() {
    use wgan_gpu::gan::models::{class_norms, conditional};
    let mut cfg = config(LossKind::Bce, 6, 2, OptKind::Adam);
    (cfg.classes, cfg.instance_noise, cfg.noise_anneal_steps) = (3, 0.2, 4);
    // Conv D: label planes; MLP D: label features.
    let o = DcganOptions { width: 3, ..DcganOptions::default() };
    let img = Shape(1, 8, 8);
    let (g, d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, false);
    assert_eq!(d.input, Shape(4, 8, 8));
    compare("conditional dcgan", &cfg, &g, &d);
    let (g, d) = conditional(mlp_generator(8, &[12], img, true), mlp_discriminator(img, &[10], 0.0), 3, false);
    assert_eq!(d.input, Shape(67, 1, 1));
    compare("conditional mlp", &cfg, &g, &d);
    // Projection discriminators: the image alone in, the label read by the head.
    let (g, mut d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, true);
    assert_eq!(d.input, img);
    d.spectral_norm = true;
    compare("projection dcgan + spectral norm", &GanConfig { loss: LossKind::Hinge, ..cfg.clone() }, &g, &d);
    let (g, d) = conditional(mlp_generator(8, &[12], img, true), mlp_discriminator(img, &[10], 0.0), 3, true);
    compare("projection mlp", &cfg, &g, &d);
    // Conditional batch norm in G (--g-label norm), with the moving average, whose recomputed
    // statistics need the labels too.
    let (g, d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, true);
    let g = class_norms(g, 3).unwrap();
    assert!(g.layers.iter().any(|l| matches!(l, LayerSpec::ConditionalBatchNorm { classes: 3, .. })));
    compare("conditional batch norm + ema", &GanConfig { g_ema: 0.9, ..cfg.clone() }, &g, &d);
    let g = conditional(mlp_generator(8, &[12], img, true), mlp_discriminator(img, &[10], 0.0), 3, true).0;
    assert!(class_norms(g, 3).is_err(), "the MLP's G has no batch norm to make conditional");
    // AC-GAN's auxiliary classifier beside the projection head: Q learns the real labels, G
    // its fakes' (two D steps, so Q learns twice per iteration).
    let (g, d) = conditional(dcgan_generator(8, img, o), dcgan_discriminator(img, o), 3, true);
    let aux = GanConfig { aux_weight: 0.7, loss: LossKind::Hinge, ..cfg.clone() };
    compare("projection dcgan + auxiliary classifier", &aux, &g, &d);
    let mut gan = Gan::new(&mut CpuBackend, aux.clone(), &g, &d).unwrap();
    assert_eq!(gan.q.as_ref().map(|q| q.net.output_shape().size()), Some(3), "one logit per class");
    let (reals, labels) = common::iteration_inputs(&mut CpuBackend, &mut Rng::new(2), &aux, img.size());
    gan.iteration(&mut CpuBackend, &reals, &labels).unwrap();
    assert_eq!(gan.q.as_ref().map(|q| q.opt.t), Some(2), "Q steps with D");
    let plain = run(&mut CpuBackend, &GanConfig { aux_weight: 0.0, ..aux.clone() }, &g, &d, 1);
    let with = run(&mut CpuBackend, &aux, &g, &d, 1);
    assert_ne!(plain.tensors[0].1, with.tensors[0].1, "the classifier's loss changes G's update");
}

/// The wiring the GAN step relies on: G's parameter gradient of mean BCE(D(G(z)), 1), taken
/// through D into G's output gradient, equals central differences (CPU backend, f32). Also D's
/// own gradient. Covers every layer kind, batch norm included.
#[test]
fn network_gradients_match_finite_differences() {
    use wgan_gpu::nn::Net;
    let mut b = CpuBackend;
    let o = DcganOptions { width: 2, d_batch_norm: true, ..DcganOptions::default() };
    let img = Shape(1, 28, 28);
    let (gs, ds) = (dcgan_generator(3, img, o), dcgan_discriminator(img, o));
    let mlp = (mlp_generator(3, &[5], Shape(1, 28, 28), true), mlp_discriminator(Shape(1, 28, 28), &[4], 0.0));
    // Conditional batch norm in G: per-class gains and shifts, two classes among three samples.
    let cg = wgan_gpu::gan::models::conditional(gs.clone(), ds.clone(), 2, false).0;
    let class_norm = (wgan_gpu::gan::models::class_norms(cg, 2).unwrap(), ds.clone());
    // Piecewise-linear activations become tanh: central differences across a ReLU kink are
    // wrong by design, and this test is about the wiring, not the kinks (gradcheck.rs has those).
    let smooth = |mut s: NetSpec| {
        for l in &mut s.layers {
            if let LayerSpec::Activation { f: Activation::Relu | Activation::LeakyRelu(_) } = l {
                *l = LayerSpec::Activation { f: Activation::Tanh };
            }
        }
        s
    };
    for (gs, ds) in [(gs, ds), mlp, class_norm] {
        let (gs, ds) = (smooth(gs), smooth(ds));
        let n = 3;
        let mut g = Net::new(&mut b, &gs, n).unwrap();
        let mut d = Net::new(&mut b, &ds, n).unwrap();
        g.init(&mut b, 1).unwrap();
        d.init(&mut b, 2).unwrap();
        let mut rng = Rng::new(5);
        let z = b.upload(&rng.vec(n * gs.input.size(), -1.0, 1.0)).unwrap();
        if let Some(labels) = g.labels() {
            b.write(labels, &[1.0, 0.0, 1.0]).unwrap();
        }
        let ones = b.upload(&vec![1.0; n]).unwrap();
        let (per, mean) = (b.alloc(n).unwrap(), b.alloc(1).unwrap());
        let loss = |b: &mut CpuBackend, g: &mut Net<CpuBackend>, d: &mut Net<CpuBackend>| {
            g.forward(b, &z, true, 0, 0).unwrap();
            let fake = g.output().clone();
            d.forward(b, &fake, true, 0, 0).unwrap();
            wgan_gpu::ops::bce_with_logits::LOSS.forward(b, d.output(), &ones, &per).unwrap();
            wgan_gpu::ops::reduce::sum(b, &per, &mean, 1.0 / n as f32).unwrap();
            b.read(&mean).unwrap()[0]
        };
        loss(&mut b, &mut g, &mut d);
        let (dz, out) = (d.output_grad().clone(), d.output().clone());
        wgan_gpu::ops::bce_with_logits::LOSS.backward(&mut b, &out, &ones, &dz, 1.0).unwrap();
        let fake = g.output().clone();
        d.backward(&mut b, &fake, Some(g.output_grad()), true).unwrap();
        g.backward(&mut b, &z, None, true).unwrap();
        for (name, net_is_g) in [("G", true), ("D", false)] {
            let (params, grads, infos) = if net_is_g {
                (g.params.clone(), b.read(&g.grads).unwrap(), g.param_infos.clone())
            } else {
                (d.params.clone(), b.read(&d.grads).unwrap(), d.param_infos.clone())
            };
            let base = b.read(&params).unwrap();
            // A few entries of every parameter tensor.
            for info in &infos {
                for k in [0, info.len / 2, info.len - 1] {
                    let i = info.offset + k;
                    let h = 1e-2;
                    let mut p = base.clone();
                    p[i] += h;
                    b.write(&params, &p).unwrap();
                    let up = loss(&mut b, &mut g, &mut d);
                    p[i] -= 2.0 * h;
                    b.write(&params, &p).unwrap();
                    let down = loss(&mut b, &mut g, &mut d);
                    b.write(&params, &base).unwrap();
                    let numeric = (up - down) / (2.0 * h);
                    let tol = 2e-4 + 3e-2 * numeric.abs().max(grads[i].abs());
                    assert!(
                        (numeric - grads[i]).abs() <= tol,
                        "{name} {}[{k}]: numeric {numeric:e}, analytic {:e}",
                        info.name,
                        grads[i]
                    );
                }
            }
        }
    }
}

/// InfoGAN: a categorical and two continuous codes, Q on D's features, its loss through D into G
/// and into D's body, Q's own Adam; on a conv D and an MLP D with dropout.
#[test]
fn infogan_iterations_equal_reference() {
    let mut cfg = config(LossKind::Hinge, 6, 1, OptKind::Adam);
    (cfg.info_cat, cfg.info_cont, cfg.info_weight) = (3, 2, 0.7);
    let o = DcganOptions { width: 3, ..DcganOptions::default() };
    let img = Shape(1, 8, 8);
    let mut g = dcgan_generator(8, img, o);
    g.input = Shape(8 + 3, 1, 1);
    compare("infogan dcgan", &cfg, &g, &dcgan_discriminator(img, o));
    let mut g = mlp_generator(8, &[12], img, true);
    g.input = Shape(8 + 3, 1, 1);
    let cfg = GanConfig { info_cat: 0, d_steps: 2, ..cfg };
    let mut g0 = g.clone();
    g0.input = Shape(8, 1, 1);
    compare("infogan mlp, continuous codes only", &cfg, &g0, &mlp_discriminator(img, &[10], 0.3));
    let cfg = GanConfig { info_cat: 3, info_weight: 1.0, ..cfg };
    // Unrolled: Q looks ahead with D (two D steps kept, two more ahead) and goes back with it.
    let (unrolled, d) = (GanConfig { unroll: 3, ..cfg.clone() }, mlp_discriminator(img, &[10], 0.0));
    compare("infogan mlp unroll 3", &unrolled, &g, &d);
    let mut gan = Gan::new(&mut CpuBackend, unrolled.clone(), &g, &d).unwrap();
    let (reals, labels) = common::iteration_inputs(&mut CpuBackend, &mut Rng::new(1), &unrolled, 64);
    gan.iteration(&mut CpuBackend, &reals, &labels).unwrap();
    assert_eq!((gan.opt_d.t, gan.q.as_ref().map(|q| q.opt.t)), (2, Some(2)), "both count their kept steps only");
    // Q learns: its loss falls over a few iterations on the CPU.
    let mut b = CpuBackend;
    let mut gan = Gan::new(&mut b, cfg.clone(), &g, &mlp_discriminator(img, &[10], 0.0)).unwrap();
    let reals: Vec<_> = (0..2).map(|_| b.upload(&vec![0.2; 6 * 64]).unwrap()).collect();
    let mut info = Vec::new();
    for _ in 0..60 {
        gan.iteration(&mut b, &reals, &[]).unwrap();
        info.push(gan.summarise(&b.read(&gan.stats).unwrap()).info);
    }
    let early: f32 = info[..10].iter().sum::<f32>() / 10.0;
    let late: f32 = info[50..].iter().sum::<f32>() / 10.0;
    assert!(late < early, "Q's loss should fall: {early} -> {late}");
}

/// The residual models (up-blocks in G, down-blocks in D with spectral norm) and DiffAugment's
/// translation and cutout on every image D sees, G learning through them: whole iterations
/// GPU = CPU, plain, conditional (label planes after the augmentation) and with R1 on the
/// augmented reals.
#[test]
fn resnet_and_augmented_iterations_equal_reference() {
    use wgan_gpu::gan::models::conditional;
    use wgan_gpu::gan::resnet::{resnet_discriminator, resnet_generator};
    use wgan_gpu::ops::augment::{Policy, Probability};
    let img = Shape(3, 16, 16);
    let (g, mut d) = (resnet_generator(8, img, 2), resnet_discriminator(img, 2));
    d.spectral_norm = true;
    let cfg = GanConfig { g_ema: 0.99, ..config(LossKind::Hinge, 4, 1, OptKind::Adam) };
    compare("resnet hinge + spectral norm + ema", &cfg, &g, &d);
    let augment = Policy { color: true, translation: true, cutout: true };
    // Without the moving average: its recomputed batch-norm statistics magnify the last bits
    // that colour's per-sample sums differ by (the plain run above checks them).
    let augmented = GanConfig { augment, g_ema: 0.0, ..cfg.clone() };
    compare("resnet + translation + cutout", &augmented, &g, &d);
    let (plain, aug) = (run(&mut CpuBackend, &cfg, &g, &d, 2), run(&mut CpuBackend, &augmented, &g, &d, 2));
    assert_ne!(plain.stats, aug.stats, "D sees other images when augmented");
    // ADA's p, moved by D's real logits after every D step (the stats compared hold it).
    let ada = GanConfig { augment_p: Probability::Auto { target: 0.6 }, d_steps: 2, ..augmented.clone() };
    compare("resnet + augment-p auto", &ada, &g, &d);
    let mut gan = Gan::new(&mut CpuBackend, ada.clone(), &g, &d).unwrap();
    let (reals, labels) = common::iteration_inputs(&mut CpuBackend, &mut Rng::new(3), &ada, img.size());
    gan.iteration(&mut CpuBackend, &reals, &labels).unwrap();
    let p = gan.summarise(&CpuBackend.read(&gan.stats).unwrap()).augment_p.expect("p is logged");
    assert!([0.0, 4.0 / 20_000.0, 8.0 / 20_000.0].iter().any(|&q| (p - q).abs() < 1e-9), "two steps of 4/20000: {p}");
    let translation = Policy { translation: true, ..Policy::default() };
    let cfg = GanConfig { augment: translation, classes: 3, ..config(LossKind::Bce, 6, 2, OptKind::Adam) };
    let (cg, cd) = conditional(g.clone(), d.clone(), 3, false);
    compare("conditional resnet + translation", &cfg, &cg, &cd);
    let (cg, cd) = conditional(g.clone(), d.clone(), 3, true);
    compare("projection resnet + translation", &cfg, &cg, &cd);
    let cg = wgan_gpu::gan::models::class_norms(cg, 3).unwrap();
    compare("resnet with conditional batch norm + translation", &cfg, &cg, &cd);
    d.spectral_norm = false;
    let cfg = GanConfig { augment, r1: 1.0, ..config(LossKind::Hinge, 4, 1, OptKind::Adam) };
    compare("resnet + augment + r1", &cfg, &g, &d);
}

/// Progressive growing: a fade-in's networks, once they take over the last phase's training
/// state, draw and judge as that phase's did at α = 0, and as the next phase's will at α = 1;
/// whole iterations in the middle of a fade (α = 0.4), with spectral norm in D, the moving
/// average, pixel norm in G, the minibatch deviation in D and equalised learning rates (the
/// optimizer stepping each weight tensor at its own rate), GPU = CPU.
#[test]
fn progan_phases_hand_over_and_iterate_equal_reference() {
    use wgan_gpu::gan::progan::{Phase, PhaseNets, carry_over};
    let img = Shape(3, 16, 16);
    let cfg = GanConfig { g_ema: 0.9, equalized_lr: true, ..config(LossKind::Hinge, 4, 1, OptKind::Adam) };
    let nets = |level, fading, alpha| {
        let mut n = PhaseNets::new(8, img, 2, Phase { level, fading, alpha });
        n.d.spec.spectral_norm = true;
        n
    };
    let (stable1, fade2, stable2) = (nets(1, false, 1.0), nets(2, true, 0.0), nets(2, false, 1.0));
    let mut b = CpuBackend;
    let mut rng = Rng::new(9);
    let train = |gan: &mut Gan<CpuBackend>, rng: &mut Rng| {
        for _ in 0..2 {
            let (reals, labels) = common::iteration_inputs(&mut CpuBackend, rng, &cfg, img.size());
            gan.iteration(&mut CpuBackend, &reals, &labels).unwrap();
        }
    };
    let z = b.upload(&rng.vec(4 * 8, -1.0, 1.0)).unwrap();
    let x = b.upload(&rng.vec(4 * img.size(), -1.0, 1.0)).unwrap();
    let outputs = |gan: &mut Gan<CpuBackend>| {
        let mut b = CpuBackend;
        let (ema, live) =
            (gan.generate(&mut b, &z, None, false).unwrap(), gan.generate(&mut b, &z, None, true).unwrap());
        gan.d.normalise_weights(&mut b).unwrap();
        gan.d.forward(&mut b, &x, false, 0, 0).unwrap();
        [ema, live, b.read(gan.d.output()).unwrap()]
    };
    let mut old = Gan::new(&mut b, cfg.clone(), &stable1.g.spec, &stable1.d.spec).unwrap();
    train(&mut old, &mut rng);
    let mut fade = Gan::new(&mut b, cfg.clone(), &fade2.g.spec, &fade2.d.spec).unwrap();
    carry_over(&mut b, (&old, &stable1), (&mut fade, &fade2)).unwrap();
    fade.set_blend(0.0);
    assert_eq!((fade.step, fade.opt_g.t, fade.opt_d.t), (old.step, old.opt_g.t, old.opt_d.t));
    assert_eq!(fade.ema_since, old.step, "the moving average warms up again with the new layers");
    for (what, (got, want)) in ["G's average", "G", "D"].iter().zip(outputs(&mut fade).iter().zip(&outputs(&mut old))) {
        assert_close(&format!("{what} at the start of a fade"), got, want, 1e-6, 1e-5);
    }
    train(&mut fade, &mut rng);
    fade.set_blend(1.0);
    let mut new = Gan::new(&mut b, cfg.clone(), &stable2.g.spec, &stable2.d.spec).unwrap();
    carry_over(&mut b, (&fade, &fade2), (&mut new, &stable2)).unwrap();
    for (what, (got, want)) in ["G's average", "G", "D"].iter().zip(outputs(&mut new).iter().zip(&outputs(&mut fade))) {
        assert_close(&format!("{what} at the end of a fade"), got, want, 1e-6, 1e-5);
    }

    let Some(mut gpu) = gpu() else { return };
    let mut run_on = |use_gpu: bool| {
        let mut rng = Rng::new(10);
        macro_rules! go {
            ($b:expr) => {{
                let b = $b;
                let mut gan = Gan::new(b, cfg.clone(), &fade2.g.spec, &fade2.d.spec).unwrap();
                gan.set_blend(0.4);
                let mut stats = Vec::new();
                for _ in 0..3 {
                    let (reals, labels) = common::iteration_inputs(b, &mut rng, &cfg, img.size());
                    gan.iteration(b, &reals, &labels).unwrap();
                    stats.push(b.read(&gan.stats).unwrap());
                }
                let ema = gan.g_ema.as_ref().unwrap();
                vec![
                    ("stats".to_string(), stats.concat()),
                    ("g.params".to_string(), b.read(&gan.g.params).unwrap()),
                    ("d.params".to_string(), b.read(&gan.d.params).unwrap()),
                    ("d.spectral".to_string(), b.read(&gan.d.spectral_state).unwrap()),
                    ("g_ema.params".to_string(), b.read(&ema.params).unwrap()),
                ]
            }};
        }
        if use_gpu { go!(&mut gpu) } else { go!(&mut CpuBackend) }
    };
    let (want, got) = (run_on(false), run_on(true));
    for ((name, g), (_, w)) in got.iter().zip(&want) {
        assert_close(&format!("progan fade at 0.4: {name}"), g, w, 3.0 * cfg.opt_d.lr, 1e-3);
    }
}

/// The full unrolled gradient is the gradient of Metz et al.'s surrogate loss (G's loss against
/// D after K look-ahead steps, as a function of G's weights through the fakes of every step):
/// central finite differences of that loss, on the CPU reference, for a tiny MLP GAN with
/// smooth activations (so that the differences do not cross kinks). The first-order gradient,
/// which takes the look-ahead D as constant, misses it by far on the same model.
#[test]
fn full_unrolled_gradient_is_the_surrogate_losss() {
    let img = Shape(1, 2, 2);
    let tanh = || LayerSpec::Activation { f: Activation::Tanh };
    let linear = |out| LayerSpec::Linear { out, bias: true };
    let g = NetSpec {
        input: Shape(3, 1, 1),
        layers: vec![linear(6), tanh(), linear(img.size()), tanh(), LayerSpec::Reshape { to: img }],
        spectral_norm: false,
    };
    let d = NetSpec { input: img, layers: vec![linear(5), tanh(), linear(1)], spectral_norm: false };
    let opt = OptConfig {
        kind: OptKind::Adam,
        lr: 0.05,
        beta1: 0.0,
        beta2: 0.9,
        eps: 1e-8,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    let cfg = GanConfig {
        loss: LossKind::Bce,
        batch: 6,
        z_dim: 3,
        unroll: 4,
        unroll_grad: UnrollGrad::Full,
        opt_g: opt,
        opt_d: opt,
        seed: 5,
        ..GanConfig::default()
    };
    let mut b = CpuBackend;
    let mut gan = Gan::new(&mut b, cfg.clone(), &g, &d).unwrap();
    let mut rng = Rng::new(3);
    for _ in 0..3 {
        let (reals, labels) = common::iteration_inputs(&mut b, &mut rng, &cfg, img.size());
        gan.iteration(&mut b, &reals, &labels).unwrap();
    }
    let (reals, _) = common::iteration_inputs(&mut b, &mut rng, &cfg, img.size());
    let look_ahead = &reals[..3];
    let gradient = |gan: &mut Gan<CpuBackend>, b: &mut CpuBackend| {
        gan.unrolled_g_loss(b, look_ahead, &[]).unwrap();
        b.read(&gan.g.grads).unwrap()
    };
    let full = gradient(&mut gan, &mut b);
    let params = b.read(&gan.g.params).unwrap();
    let h = 1e-3;
    let mut finite = Vec::new();
    for i in 0..params.len() {
        let mut at = |x: f32| {
            let mut p = params.clone();
            p[i] = x;
            b.write(&gan.g.params, &p).unwrap();
            gan.unrolled_g_loss(&mut b, look_ahead, &[]).unwrap() as f64
        };
        finite.push(((at(params[i] + h) - at(params[i] - h)) / (2.0 * h as f64)) as f32);
    }
    b.write(&gan.g.params, &params).unwrap();
    let error = |got: &[f32]| {
        let diff: f32 = got.iter().zip(&finite).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        diff / finite.iter().map(|x| x * x).sum::<f32>().sqrt()
    };
    gan.cfg.unroll_grad = UnrollGrad::FirstOrder;
    let first_order = gradient(&mut gan, &mut b);
    let (full_error, first_error) = (error(&full), error(&first_order));
    eprintln!("relative error against finite differences: full {full_error}, first order {first_error}");
    assert!(full_error < 0.01, "full unrolled gradient vs finite differences: relative error {full_error}");
    assert!(first_error > 5.0 * full_error, "first order {first_error} should miss where full ({full_error}) does not");
}

/// Equalised learning rates as learning-rate groups (He's initialisation and Adam at
/// √2/√fan_in times the rate on each weight tensor) train as Karras et al.'s runtime scaling
/// does: Adam at the base rate on w' = w/c, whose gradient is c times w's, the network
/// computing with c·w'. Three steps of random gradients, compared tensor by tensor on the CPU.
#[test]
fn equalized_lr_groups_train_as_runtime_scaled_weights() {
    use wgan_gpu::gan::Optimizer;
    use wgan_gpu::nn::{InitScheme, Net};
    use wgan_gpu::ops::adam::AdamStep;
    let mut b = CpuBackend;
    let spec = mlp_generator(5, &[7, 9], Shape(1, 3, 4), true);
    let mut net = Net::new(&mut b, &spec, 2).unwrap();
    net.init_with(&mut b, 3, InitScheme::He).unwrap();
    let groups = net.equalized_lr_groups();
    let n = net.params.len();
    assert_eq!((groups[0].0, groups.iter().map(|g| g.1).sum::<usize>()), (0, n), "the groups cover the buffer");
    assert!(groups.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0), "in order, without gaps");
    let cfg = OptConfig {
        kind: OptKind::Adam,
        lr: 1e-2,
        beta1: 0.0,
        beta2: 0.99,
        eps: 1e-8,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    let mut opt = Optimizer::new(&mut b, cfg, n).unwrap();
    opt.groups = groups;
    let start = b.read(&net.params).unwrap();
    let mut rng = Rng::new(8);
    let grads: Vec<Vec<f32>> = (0..3).map(|_| rng.vec(n, -1.0, 1.0)).collect();
    for g in &grads {
        let g = b.upload(g).unwrap();
        opt.step(&mut b, &net.params, &g).unwrap();
    }
    let got = b.read(&net.params).unwrap();
    for info in &net.param_infos {
        let c = match info.init_bound {
            Some(bound) if info.name.ends_with("weight") => std::f32::consts::SQRT_2 * bound,
            _ => 1.0,
        };
        let range = info.offset..info.offset + info.len;
        let w: Vec<f32> = start[range.clone()].iter().map(|x| x / c).collect();
        let (w, m, v) = (b.upload(&w).unwrap(), b.alloc(info.len).unwrap(), b.alloc(info.len).unwrap());
        for (t, g) in grads.iter().enumerate() {
            let g: Vec<f32> = g[range.clone()].iter().map(|x| c * x).collect();
            let s = AdamStep {
                lr: 1e-2,
                beta1: 0.0,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled: false,
                t: t as u64 + 1,
            };
            let g = b.upload(&g).unwrap();
            wgan_gpu::ops::adam::step(&mut b, &s, &w, &g, &m, &v).unwrap();
        }
        let want: Vec<f32> = b.read(&w).unwrap().iter().map(|x| c * x).collect();
        assert_close(&format!("{}: c = {c}", info.name), &got[range], &want, 1e-6, 1e-4);
    }
}
