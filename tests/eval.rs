//! The evaluation with the bundled classifier: its features are the same on the GPU and the CPU
//! reference, real data scores near the ideal, collapsed samples and noise score as such, and the
//! `eval` command reads checkpoints and image files.

mod common;

use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::data::mnist;
use wgan_gpu::eval::Reference;
use wgan_gpu::eval::classifier::{Classifier, FEATURES, to_signed};

#[test]
fn classifier_features_equal_on_gpu_and_cpu() {
    let Some(mut gpu) = common::gpu() else { return };
    let test = mnist::test().unwrap();
    let images = to_signed(&test, 20);
    let mut on_gpu = Classifier::bundled(&mut gpu, 8).unwrap();
    let mut cpu = CpuBackend;
    let mut on_cpu = Classifier::bundled(&mut cpu, 8).unwrap();
    let (g, c) = (on_gpu.score(&mut gpu, &images).unwrap(), on_cpu.score(&mut cpu, &images).unwrap());
    assert_eq!((g.n, c.n), (20, 20));
    common::assert_close("classifier features", &g.features, &c.features, 1e-4, 1e-3);
    common::assert_close("classifier probabilities", &g.probs, &c.probs, 1e-5, 1e-3);
    assert_eq!(g.features.len(), 20 * FEATURES);
}

#[test]
fn real_data_scores_near_ideal_and_collapse_and_noise_do_not() {
    let Some(mut b) = common::gpu() else { return };
    let mut clf = Classifier::bundled(&mut b, 500).unwrap();
    assert!(clf.accuracy.unwrap() >= 0.99, "the bundled classifier must reach 99% test accuracy");
    let reference = Reference::new(&mut b, &mut clf).unwrap();

    let train = mnist::train().unwrap();
    let real = clf.score(&mut b, &to_signed(&train, 10000)).unwrap();
    let real = reference.score("real", &real, None, 0).unwrap();
    assert_eq!(real.classes.covered, 10);
    assert!(real.score > 9.0, "score {}", real.score);
    // Train vs test differ a little (FD 2.8 with the bundled classifier; a one-epoch DCGAN is ~240).
    assert!(real.fd.unwrap() < 10.0 && real.kid_x1000.abs() < 5.0, "{real:?}");
    assert!(real.precision > 0.6 && real.recall > 0.6, "{real:?}");
    assert!(real.collapse_warning(None).is_none());

    // 10000 copies of one digit: one class, score 1, a warning.
    let one = &to_signed(&train, 1)[..];
    let copies: Vec<f32> = one.iter().copied().cycle().take(10000 * 784).collect();
    let copies = clf.score(&mut b, &copies).unwrap();
    let collapsed = reference.score("copies", &copies, None, 0).unwrap();
    assert_eq!(collapsed.classes.covered, 1);
    assert!((collapsed.score - 1.0).abs() < 1e-3, "score {}", collapsed.score);
    assert!(collapsed.fd.unwrap() > 20.0 * real.fd.unwrap());
    assert!(collapsed.collapse_warning(None).unwrap().contains("mode collapse"));

    // Uniform noise: far from digits on every count.
    let mut rng = common::Rng::new(1);
    let noise = clf.score(&mut b, &rng.vec(2000 * 784, -1.0, 1.0)).unwrap();
    let noise = reference.score("noise", &noise, None, 0).unwrap();
    assert!(noise.fd.unwrap() > 50.0 * real.fd.unwrap(), "{noise:?}");
    assert!(noise.precision < 0.05, "{noise:?}");
}
