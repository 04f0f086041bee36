//! Whole training runs on the CPU reference backend, through the same `resolve` and `train_on`
//! the CLI runs on the GPU: the loop writes its outputs, and a resumed run ends with exactly the
//! weights, optimizer state and losses of an uninterrupted one, also from a checkpoint written
//! in the middle of an epoch. No adapter needed.

use std::path::Path;

use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::train::checkpoint::Checkpoint;
use wgan_gpu::train::{resolve_flags, train_on};

/// `wgan-gpu train FLAGS` on the CPU reference, resolved as the CLI resolves it.
fn train<S: AsRef<str>>(flags: &[S]) {
    let flags: Vec<&str> = flags.iter().map(AsRef::as_ref).collect();
    train_on(&mut CpuBackend, resolve_flags(&flags).expect("resolves")).expect("trains");
}

/// The loss columns of metrics.jsonl (images/s, which varies, left out).
fn losses(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines().map(|l| l.split(",\"images_per_s\"").next().unwrap_or(l).to_string()).collect()
}

#[test]
fn default_recipe_trains_on_the_cpu_and_resumes_exactly_mid_epoch() {
    resumes_exactly("default", &[], &["g_ema", "d.spectral"]);
    // Random flips drawn from the seed, the epoch and the position flip the same images again;
    // the learning rates' decay is a function of the step.
    resumes_exactly("mirror", &["--mirror", "--lr-decay", "0.5"], &[]);
    // A projection discriminator reads each batch's labels.
    resumes_exactly("projection", &["--conditional", "--d-label", "projection"], &[]);
    // The auxiliary classifier's head and optimizer are in the checkpoint.
    resumes_exactly("aux", &["--conditional", "--aux-weight", "1"], &["q", "opt_q.m"]);
}

/// WGAN-GP's interpolation weights and InfoGAN's Q head, its optimizer and codes (also when Q
/// looks ahead with an unrolled D), and the full unrolled gradient.
#[test]
fn gradient_penalty_and_infogan_runs_resume_exactly_mid_epoch() {
    resumes_exactly("wgan-gp", &["--loss", "wgan-gp", "--d-steps", "1"], &[]);
    resumes_exactly("r1", &["--r1", "2", "--r1-every", "2"], &[]);
    resumes_exactly("infogan", &["--info-cat", "3", "--info-cont", "2"], &["q", "opt_q.m"]);
    resumes_exactly("unroll", &["--unroll", "3", "--info-cat", "3"], &["q", "opt_q.m"]);
    resumes_exactly("unroll-full", &["--unroll", "3", "--unroll-grad", "full"], &[]);
}

/// The residual models with DiffAugment (the augmentation drawn from the step, so a resumed
/// run draws the same transforms), and ADA's p, which the checkpoint keeps.
#[test]
fn resnet_with_augmentation_resumes_exactly_mid_epoch() {
    resumes_exactly("resnet", &["--model", "resnet", "--augment", "translation,cutout"], &["g_ema", "d.spectral"]);
    resumes_exactly("ada", &["--augment", "color,translation", "--augment-p", "auto"], &["augment.p"]);
}

/// A whole run of `extra` flags equals the same run stopped mid-epoch and resumed; the
/// checkpoint holds `saved` (networks or tensors).
fn resumes_exactly(tag: &str, extra: &[&str], saved: &[&str]) {
    let tmp = std::env::temp_dir().join(format!("wgan-train-cpu-{}-{tag}", std::process::id()));
    let (whole, half) = (tmp.join("whole"), tmp.join("half"));
    // A tiny DCGAN with the default recipe (hinge loss, spectral norm, G's moving average):
    // batch 16 and 4 iterations an epoch (64 images, or 64 per real batch an iteration reads).
    let unroll = extra.iter().position(|&f| f == "--unroll").map_or(1, |i| extra[i + 1].parse().unwrap());
    let limit = (64 * unroll).to_string();
    let common = ["--width", "4", "--limit", &limit, "--batch-size", "16", "--log-every", "1", "--out"];
    let flags = |dir: &Path, epochs: &'static str| {
        let mut f: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        f.extend([dir.display().to_string(), "--epochs".into(), epochs.into()]);
        f.extend(extra.iter().map(|s| s.to_string()));
        f
    };
    train(&flags(&whole, "2"));
    for file in ["config.json", "losses.png", "progress.gif", "samples/epoch_001.png", "samples/epoch_002.png"] {
        assert!(whole.join(file).is_file(), "{file} written");
    }
    // Stopped in the middle of the second epoch (as by a crash after the checkpoint at step 6),
    // then resumed from that mid-epoch checkpoint.
    let mut stopped = flags(&half, "2");
    stopped.extend(["--max-steps".into(), "6".into()]);
    train(&stopped);
    let mid = Checkpoint::load(&half.join("checkpoint.safetensors")).expect("checkpoint");
    assert_eq!((mid.meta["step"].as_str(), mid.meta["epoch_iteration"].as_str()), ("6", "2"));
    train(&["--resume", half.to_str().expect("utf-8 path"), "--epochs", "2"]);

    let load = |dir: &Path| Checkpoint::load(&dir.join("checkpoint.safetensors")).expect("checkpoint");
    let (a, b) = (load(&whole), load(&half));
    for name in saved {
        assert!(a.has_net(name) || a.has(name), "{tag}: {name} is saved");
    }
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, values) in &a.tensors {
        let other = b.tensor(name, Path::new("half")).expect("same tensors");
        assert!(
            values.iter().zip(other).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{tag}: {name} differs after resume"
        );
    }
    for key in ["step", "epoch", "opt_g.t", "opt_d.t"] {
        assert_eq!(a.meta(key, &whole).unwrap(), b.meta(key, &half).unwrap(), "{tag}: {key}");
    }
    assert_eq!(losses(&whole), losses(&half), "{tag}: the resumed run logs the same losses");
    std::fs::remove_dir_all(&tmp).ok();
}
