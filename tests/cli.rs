//! The binary as a user runs it: a short training run writes every output, resuming equals an
//! uninterrupted run, `sample` writes every format, and bad input is a one-line error, exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wgan_gpu::train::checkpoint::Checkpoint;

fn wgan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgan-gpu")).args(args).output().expect("runs")
}

fn ok(args: &[&str]) -> Output {
    let out = wgan(args);
    assert!(out.status.success(), "wgan-gpu {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgan-gpu-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tiny MLP run: 128 images, batch 32, so an epoch is 4 iterations.
fn tiny(out: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--model",
        "mlp",
        "--g-hidden",
        "32",
        "--d-hidden",
        "32",
        "--d-dropout",
        "0.2",
        "--limit",
        "128",
        "--batch-size",
        "32",
        "--log-every",
        "1",
        "--epochs",
        epochs,
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn short_run_writes_every_output_and_resume_is_exact() {
    if common::gpu().is_none() {
        return;
    }
    let full = tmp("full");
    ok(&args(&tiny(&full, "2")));
    for f in [
        "config.json",
        "metrics.jsonl",
        "losses.png",
        "checkpoint.safetensors",
        "samples/epoch_001.png",
        "samples/epoch_002.png",
        "progress.gif",
    ] {
        assert!(full.join(f).is_file(), "missing {f}");
    }
    let metrics = std::fs::read_to_string(full.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 8, "one line per iteration with --log-every 1");
    for key in [
        "\"d_loss\"",
        "\"g_loss\"",
        "\"d_real\"",
        "\"d_fake\"",
        "\"acc_real\"",
        "\"acc_fake\"",
        "\"images_per_s\"",
    ] {
        assert!(metrics.lines().next().unwrap().contains(key), "metrics lack {key}");
    }

    let split = tmp("split");
    ok(&args(&tiny(&split, "1")));
    ok(&["train", "--resume", split.to_str().unwrap(), "--epochs", "2"]);
    let a = Checkpoint::load(&full.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&split.join("checkpoint.safetensors")).unwrap();
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, x) in &a.tensors {
        let y = b.tensor(name, Path::new("split")).unwrap();
        assert!(x[..] == y[..], "{name} differs between the resumed and the uninterrupted run");
    }
    let last = |d: &Path| {
        let text = std::fs::read_to_string(d.join("metrics.jsonl")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("images_per_s");
        v
    };
    assert_eq!(last(&full), last(&split), "losses differ after resume");

    // Every sample format, from the run folder or the file.
    let samples = tmp("samples");
    let ck = full.to_str().unwrap();
    let s = |f: &str| samples.join(f).display().to_string();
    ok(&["sample", "--checkpoint", ck, "--n", "10", "--out", &s("grid.png")]);
    ok(&["sample", "--checkpoint", ck, "--n", "3", "--format", "png", "--out", &s("pngs")]);
    ok(&["sample", "--checkpoint", ck, "--n", "5", "--format", "npy", "--out", &s("x.npy")]);
    ok(&["sample", "--checkpoint", ck, "--n", "5", "--format", "idx", "--out", &s("x.idx")]);
    let png = image::open(samples.join("pngs/000002.png")).unwrap().to_luma8();
    assert_eq!(png.dimensions(), (28, 28));
    let npy = std::fs::read(samples.join("x.npy")).unwrap();
    assert!(npy.starts_with(b"\x93NUMPY") && npy.len() > 5 * 784 && (npy.len() - 5 * 784).is_multiple_of(64));
    let idx = wgan_gpu::data::idx::read(&samples.join("x.idx")).unwrap();
    assert_eq!(idx.dims, vec![5, 28, 28]);
    for d in [full, split, samples] {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn assert_one_line_error(args: &[&str], needle: &str) {
    let out = wgan(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "wgan-gpu {args:?}: {err}");
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(ours.len(), 1, "expected one error line, got:\n{err}");
    assert!(ours[0].contains(needle), "'{}' does not mention '{needle}'", ours[0]);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    assert_one_line_error(
        &["sample", "--checkpoint", "/nonexistent/ck.safetensors", "--out", "x.png"],
        "/nonexistent",
    );
    assert_one_line_error(
        &["sample", "--checkpoint", junk.to_str().unwrap(), "--out", "x.png"],
        "not a wgan-gpu checkpoint",
    );
    assert_one_line_error(&["train", "--resume", dir.to_str().unwrap()], "checkpoint.safetensors");
    assert_one_line_error(&["train", "--batch-size", "0", "--out", dir.to_str().unwrap()], "--batch-size");
    assert_one_line_error(&["train", "--digits", "x", "--out", dir.to_str().unwrap()], "--digits");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn divergence_stops_the_run_without_a_checkpoint() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("diverge");
    let d = dir.to_str().unwrap();
    let run = [
        "train",
        "--model",
        "mlp",
        "--g-hidden",
        "16",
        "--d-hidden",
        "16",
        "--limit",
        "64",
        "--batch-size",
        "32",
        "--opt-d",
        "sgd",
        "--lr-d",
        "1e30",
        "--log-every",
        "1",
        "--out",
        d,
    ];
    assert_one_line_error(&run, "diverged");
    assert!(!dir.join("checkpoint.safetensors").exists(), "a diverged run must not write a checkpoint");
    let _ = std::fs::remove_dir_all(dir);
}

/// 64 images of 10×12 and their labels, as IDX files (the images gzipped).
fn write_idx_pair(dir: &Path) -> (PathBuf, PathBuf) {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = common::Rng::new(3);
    let pixels: Vec<u8> = (0..64 * 120).map(|_| (rng.next_u64() % 256) as u8).collect();
    let labels: Vec<u8> = (0..64).map(|i| (i % 10) as u8).collect();
    let (img, lab) = (dir.join("imgs.idx.gz"), dir.join("labels.idx"));
    let raw = dir.join("raw.idx");
    wgan_gpu::data::idx::write(&raw, &[64, 10, 12], &pixels).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&raw).unwrap()).unwrap();
    std::fs::write(&img, gz.finish().unwrap()).unwrap();
    wgan_gpu::data::idx::write(&lab, &[64], &labels).unwrap();
    (img, lab)
}

#[test]
fn trains_on_user_idx_files() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("idx");
    let (img, lab) = write_idx_pair(&dir);
    let out = dir.join("run");
    let (i, l, o) = (img.to_str().unwrap(), lab.to_str().unwrap(), out.to_str().unwrap());
    ok(&[
        "train",
        "--data",
        i,
        "--labels",
        l,
        "--digits",
        "1,2,3,4,5",
        "--model",
        "mlp",
        "--g-hidden",
        "16",
        "--d-hidden",
        "16",
        "--batch-size",
        "8",
        "--epochs",
        "1",
        "--out",
        o,
    ]);
    let grid = image::open(out.join("samples/epoch_001.png")).unwrap();
    assert!(grid.width() > 2 * 12, "grid of 12-pixel-wide images");
    assert_one_line_error(&["train", "--data", i, "--model", "dcgan", "--out", o], "--model mlp");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_idx_files_are_one_line_errors() {
    let dir = tmp("badidx");
    let (img, lab) = write_idx_pair(&dir);
    let bytes = std::fs::read(dir.join("raw.idx")).unwrap();
    let truncated = dir.join("truncated.idx");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let magic = dir.join("magic.idx");
    std::fs::write(&magic, [&[1u8, 2, 3, 4][..], &bytes[4..]].concat()).unwrap();
    let short_labels = dir.join("short.idx");
    wgan_gpu::data::idx::write(&short_labels, &[63], &[0; 63]).unwrap();
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    assert_one_line_error(&["train", "--data", truncated.to_str().unwrap(), "--out", o], "truncated");
    assert_one_line_error(&["train", "--data", magic.to_str().unwrap(), "--out", o], "magic");
    let (i, s) = (img.to_str().unwrap(), short_labels.to_str().unwrap());
    assert_one_line_error(&["train", "--data", i, "--labels", s, "--out", o], "labels");
    assert_one_line_error(&["train", "--data", "/no/such.idx", "--out", o], "/no/such.idx");
    let _ = (lab, std::fs::remove_dir_all(dir));
}
