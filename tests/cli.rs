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

/// A fresh temporary folder for a test that needs a GPU, or None (the test skips) without one.
fn gpu_tmp(name: &str) -> Option<PathBuf> {
    common::gpu()?;
    Some(tmp(name))
}

/// A small MLP (16 hidden units in G and D), for tests that need any short run.
const SMALL_MLP: &[&str] = &["--model", "mlp", "--g-hidden", "16", "--d-hidden", "16"];

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
    let Some(full) = gpu_tmp("full") else { return };
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
    for key in
        ["\"d_loss\"", "\"g_loss\"", "\"d_real\"", "\"d_fake\"", "\"acc_real\"", "\"acc_fake\"", "\"images_per_s\""]
    {
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

/// The same for a DCGAN with the moving-average generator (batch norm, so its statistics are
/// recomputed), hinge loss and spectral norm: their state is in the checkpoint and resume is
/// exact; `sample` draws from the average unless --raw.
#[test]
fn resume_is_exact_with_ema_and_spectral_norm() {
    if common::gpu().is_none() {
        return;
    }
    let run = |dir: &Path, epochs: &str| {
        let d = dir.display().to_string();
        ok(&[
            "train",
            "--width",
            "4",
            "--limit",
            "64",
            "--batch-size",
            "16",
            "--log-every",
            "1",
            "--g-ema",
            "0.99",
            "--loss",
            "hinge",
            "--d-spectral-norm",
            "--epochs",
            epochs,
            "--out",
            &d,
        ]);
    };
    let (full, split) = (tmp("ema-full"), tmp("ema-split"));
    run(&full, "2");
    run(&split, "1");
    ok(&["train", "--resume", split.to_str().unwrap(), "--epochs", "2"]);
    let a = Checkpoint::load(&full.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&split.join("checkpoint.safetensors")).unwrap();
    for name in ["g_ema.0.weight", "g_ema.1.running_var", "d.spectral"] {
        assert!(a.has(name), "the checkpoint lacks {name}");
    }
    // G's tensors by PyTorch's names and shapes: the indices of an nn.Sequential of G's layers
    // (linear, batch norm, ReLU, unflatten, transposed conv, batch norm, ReLU, transposed conv, tanh).
    let mut g: Vec<(String, Vec<usize>)> = a
        .tensors
        .iter()
        .filter_map(|(n, v)| {
            n.strip_prefix("g.").map(|k| (k.to_string(), a.shapes.get(n).cloned().unwrap_or(vec![v.len()])))
        })
        .collect();
    g.sort();
    let bn =
        |i: usize, c: usize| ["bias", "running_mean", "running_var", "weight"].map(|k| (format!("{i}.{k}"), vec![c]));
    let mut want = vec![("0.weight".to_string(), vec![392, 100])];
    want.extend(bn(1, 392));
    want.push(("4.weight".into(), vec![8, 4, 4, 4]));
    want.extend(bn(5, 4));
    want.extend([("7.bias".into(), vec![1]), ("7.weight".into(), vec![4, 1, 4, 4])]);
    assert_eq!(g, want, "G's tensors in the checkpoint");
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, x) in &a.tensors {
        let y = b.tensor(name, Path::new("split")).unwrap();
        assert!(x[..] == y[..], "{name} differs between the resumed and the uninterrupted run");
    }
    let ck = full.to_str().unwrap();
    let npy = |raw: bool| {
        let out = full.join(format!("s{raw}.npy"));
        let o = out.display().to_string();
        let mut a = vec!["sample", "--checkpoint", ck, "--n", "4", "--format", "npy", "--out", &o];
        if raw {
            a.push("--raw");
        }
        ok(&a);
        std::fs::read(&out).unwrap()
    };
    assert_ne!(npy(false), npy(true), "--raw must draw from the live generator");
    // Given latent vectors: float32 [n, z_dim]; n replaces --n, the same z gives the same images.
    let z_file = |name: &str, rows: usize, cols: usize| {
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend((0..rows * cols).flat_map(|i| ((i % 7) as f32 / 3.0 - 1.0).to_le_bytes()));
        let path = full.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let z = z_file("z.npy", 3, 100);
    let from_z = |out: &str| {
        let o = full.join(out).display().to_string();
        ok(&["sample", "--checkpoint", ck, "--z", &z, "--format", "npy", "--out", &o]);
        std::fs::read(full.join(out)).unwrap()
    };
    let (first, again) = (from_z("z1.npy"), from_z("z2.npy"));
    assert!(first == again && first.len() > 3 * 784 && first.len() < 4 * 784, "3 samples from z.npy");
    let wrong = z_file("z_wrong.npy", 3, 99);
    assert_one_line_error(&["sample", "--checkpoint", ck, "--z", &wrong, "--out", "x.png"], "z_wrong.npy");
    // More samples than memory holds, or than a grid can show: refused, not an aborted allocation.
    let huge = ["sample", "--checkpoint", ck, "--n", "10000000000", "--format", "npy", "--out", "x.npy"];
    assert_one_line_error(&huge, "do not fit");
    assert_one_line_error(&["sample", "--checkpoint", ck, "--n", "20000", "--out", "x.png"], "grid");
    for d in [full, split] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A run killed (SIGKILL) at random moments, resumed after each kill from whatever checkpoint
/// it left, ends with the weights and the logged losses of an uninterrupted run; every
/// checkpoint a kill leaves loads, and no temporary file survives the resume.
#[test]
fn a_run_killed_at_random_moments_resumes_to_the_same_weights() {
    if common::gpu().is_none() {
        return;
    }
    // The default recipe, small: 40 iterations an epoch, a checkpoint every 3.
    let flags = |dir: &Path| {
        let d = dir.display().to_string();
        ["train", "--width", "8", "--limit", "1280", "--batch-size", "32", "--epochs", "2"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--log-every", "1", "--checkpoint-every", "3", "--out"].map(String::from))
            .chain([d])
            .collect::<Vec<_>>()
    };
    let (whole, killed) = (tmp("kill-whole"), tmp("kill-killed"));
    ok(&args(&flags(&whole)));
    let checkpoint = killed.join("checkpoint.safetensors");
    let command = |dir: &Path| match checkpoint.exists() {
        true => vec!["train".to_string(), "--resume".into(), dir.display().to_string()],
        false => flags(dir),
    };
    let mut rng = common::Rng::new(7);
    let (mut kills, mut resumes) = (0, 0);
    for _ in 0..6 {
        resumes += checkpoint.exists() as usize;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wgan-gpu"))
            .args(command(&killed))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawns");
        // The first run is killed soon after its first checkpoint (however slow the machine:
        // tests run side by side), so that every later one resumes; those at random moments.
        if resumes == 0 {
            let started = std::time::Instant::now();
            while !checkpoint.exists() && started.elapsed().as_secs() < 300 {
                if child.try_wait().expect("waits").is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.int(0, 2500) as u64));
        if child.try_wait().expect("waits").is_some() {
            break;
        }
        child.kill().expect("kills");
        child.wait().expect("reaped");
        kills += 1;
        if checkpoint.exists() {
            Checkpoint::load(&checkpoint).expect("a kill never leaves an unreadable checkpoint");
        }
    }
    assert!(kills > 0 && resumes > 0, "{kills} kills, {resumes} resumes: make the run longer");
    ok(&args(&command(&killed)));
    let a = Checkpoint::load(&whole.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&checkpoint).unwrap();
    for (name, x) in &a.tensors {
        let y = b.tensor(name, Path::new("killed")).unwrap();
        assert!(x[..] == y[..], "{name} differs after {kills} kills and resumes");
    }
    let losses = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        text.lines().map(|l| l.split(",\"images_per_s\"").next().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(losses(&whole), losses(&killed), "metrics.jsonl repeats or loses steps after resumes");
    for dir in [killed.clone(), killed.join("samples")] {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
    for d in [whole, killed] {
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
fn a_closed_stdout_ends_the_program_without_a_panic() {
    // `wgan-gpu eval ... | head`: the reader is gone before the first line is written.
    let mixed = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/examples/mixed.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wgan-gpu"))
        .args(["eval", "--table", mixed, "--samples", mixed, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    assert_one_line_error(&["sample", "--checkpoint", "/nonexistent/ck.safetensors", "--out", "x.png"], "/nonexistent");
    assert_one_line_error(
        &["sample", "--checkpoint", junk.to_str().unwrap(), "--out", "x.png"],
        "not a wgan-gpu checkpoint",
    );
    assert_one_line_error(&["train", "--resume", dir.to_str().unwrap()], "checkpoint.safetensors");
    assert_one_line_error(&["train", "--batch-size", "0", "--out", dir.to_str().unwrap()], "--batch-size");
    // Every number is checked before anything runs or is written.
    for (flag, value) in [("--lr-g", "nan"), ("--lr-d", "-1"), ("--beta1", "1"), ("--g-ema", "inf"), ("--clip", "0")] {
        let arg = format!("{flag}={value}");
        assert_one_line_error(&["train", &arg, "--out", dir.to_str().unwrap()], flag);
    }
    assert_one_line_error(&["train", "--digits", "x", "--out", dir.to_str().unwrap()], "--digits");
    let out = dir.to_str().unwrap();
    assert_one_line_error(&["train", "--gp-weight=-1", "--out", out], "--gp-weight");
    assert_one_line_error(&["train", "--r1", "1", "--d-batch-norm", "--out", out], "batch norm");
    assert_one_line_error(&["train", "--r1", "1", "--loss", "wgan-gp", "--out", out], "choose one");
    assert_one_line_error(&["train", "--info-cat", "3", "--conditional", "--out", out], "--info-cat");
    assert_one_line_error(&["train", "--info-cont", "101", "--out", out], "--info-cat");
    assert_one_line_error(&["train", "--aux-weight", "1", "--out", out], "--conditional");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn infogan_codes_pick_what_is_drawn() {
    let Some(dir) = gpu_tmp("infogan") else { return };
    let mut a = tiny(&dir, "1");
    a.extend(["--info-cat", "4", "--info-cont", "2"].map(String::from));
    ok(&args(&a));
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(metrics.lines().all(|l| l.contains("\"info\"")), "Q's loss is logged");
    let ck = dir.display().to_string();
    let png = |name: &str| dir.join(name).display().to_string();
    // The code changes the samples; the other noise is the same.
    let (c0, c1) = (png("c0.npy"), png("c1.npy"));
    for (code, out) in [("0", &c0), ("1", &c1)] {
        ok(&["sample", "--checkpoint", &ck, "--code", code, "--n", "8", "--format", "npy", "--out", out]);
    }
    assert_ne!(std::fs::read(&c0).unwrap(), std::fs::read(&c1).unwrap());
    ok(&["interpolate", "--checkpoint", &ck, "--code-grid", "--steps", "5", "--out", &png("grid.png")]);
    let grid = image::open(png("grid.png")).unwrap();
    assert!(grid.height() > 3 * grid.width() / 5, "4 rows of 5: {}x{}", grid.width(), grid.height());
    let out = ok(&["eval", "--checkpoint", &ck, "--n", "600", "--no-reference"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("code 3:") && text.contains("error"), "{text}");
    assert_one_line_error(&["sample", "--checkpoint", &ck, "--code", "4", "--out", &png("x.png")], "--code 4");
    assert_one_line_error(
        &["interpolate", "--checkpoint", &ck, "--code-grid", "--code-axis", "2", "--out", &png("x.png")],
        "--code-grid",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn trains_with_gradient_penalties() {
    if common::gpu().is_none() {
        return;
    }
    for (name, extra) in
        [("gp", &["--loss", "wgan-gp", "--d-steps", "2"][..]), ("r1", &["--r1", "5", "--r1-every", "2"][..])]
    {
        let dir = tmp(name);
        let mut a = tiny(&dir, "1");
        a.extend(extra.iter().map(|s| s.to_string()));
        ok(&args(&a));
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
        let penalty = first["penalty"].as_f64().unwrap_or(0.0);
        assert!(penalty > 0.0 && penalty.is_finite(), "{name}: penalty {penalty} in {first}");
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
        if name == "gp" {
            // Gulrajani et al.'s β and no spectral norm, unless given.
            assert!(config.contains("\"beta2\": 0.9") && config.contains("\"d_spectral_norm\": false"), "{config}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn divergence_stops_the_run_without_a_checkpoint() {
    let Some(dir) = gpu_tmp("diverge") else { return };
    let d = dir.to_str().unwrap();
    let tail =
        ["--limit", "64", "--batch-size", "32", "--opt-d", "sgd", "--lr-d", "1e30", "--log-every", "1", "--out", d];
    let run = [&["train"], SMALL_MLP, &tail].concat();
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
    let Some(dir) = gpu_tmp("idx") else { return };
    let (img, lab) = write_idx_pair(&dir);
    let out = dir.join("run");
    let (i, l, o) = (img.to_str().unwrap(), lab.to_str().unwrap(), out.to_str().unwrap());
    let data = ["train", "--data", i, "--labels", l, "--digits", "1,2,3,4,5"];
    ok(&[&data, SMALL_MLP, &["--batch-size", "8", "--epochs", "1", "--out", o]].concat());
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
    // Dimensions whose product overflows.
    let huge = dir.join("huge.idx");
    std::fs::write(&huge, [0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0]).unwrap();
    assert_one_line_error(&["train", "--data", huge.to_str().unwrap(), "--out", o], "truncated");
    assert_one_line_error(&["train", "--digits", "300", "--out", o], "--digits 300: this data's labels are 0 to 9");
    assert!(!dir.join("run").exists(), "refused runs leave no run folder");
    let _ = (lab, std::fs::remove_dir_all(dir));
}

/// A folder of 32×32 RGB images in two class subfolders ("cats": reddish PNGs, "dogs": bluish
/// JPEGs), 16 each.
fn write_image_folder(dir: &Path) {
    let mut rng = common::Rng::new(8);
    for (class, ext, tint) in [("cats", "png", [200u8, 40, 40]), ("dogs", "jpg", [40, 40, 200])] {
        let sub = dir.join(class);
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..16 {
            let img = image::RgbImage::from_fn(40, 36, |x, y| {
                let v = ((x + y) as u64 * 3 + rng.next_u64() % 40) as u8;
                image::Rgb([tint[0].saturating_add(v), tint[1].saturating_add(v), tint[2].saturating_add(v)])
            });
            img.save(sub.join(format!("{i:02}.{ext}"))).unwrap();
        }
    }
    std::fs::write(dir.join("README.txt"), "not an image, ignored").unwrap();
}

#[test]
fn trains_a_conditional_dcgan_on_a_folder_of_rgb_images() {
    let Some(dir) = gpu_tmp("folder") else { return };
    let data = dir.join("pets");
    write_image_folder(&data);
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    // PyTorch's init and no batch norm: after 4 iterations a 4-channel G with N(0, 0.02) weights
    // and barely warmed-up running statistics still outputs ~0 for every label.
    let run = [
        "train",
        "--data",
        d,
        "--image-size",
        "32",
        "--conditional",
        "--width",
        "4",
        "--batch-size",
        "8",
        "--init",
        "pytorch",
        "--no-g-batch-norm",
        "--epochs",
        "1",
        "--instance-noise",
        "0.1",
        "--out",
        o,
    ];
    ok(&run);
    let grid = image::open(out.join("samples/epoch_001.png")).unwrap();
    assert!(matches!(grid, image::DynamicImage::ImageRgb8(_)), "an RGB data set gives RGB grids");
    // One row per class: 2 rows of 32-pixel images with 2-pixel borders.
    assert_eq!(grid.height(), 2 * 34 + 2);

    // Samples of one label differ from another's with the same noise; labels go by name too.
    let s = |f: &str| dir.join(f).display().to_string();
    ok(&["sample", "--checkpoint", o, "--n", "4", "--format", "npy", "--label", "cats", "--out", &s("a.npy")]);
    ok(&["sample", "--checkpoint", o, "--n", "4", "--format", "npy", "--label", "1", "--out", &s("b.npy")]);
    let (a, b) = (std::fs::read(s("a.npy")).unwrap(), std::fs::read(s("b.npy")).unwrap());
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 4 * 32 * 32 * 3, "npy of [4, 32, 32, 3]");
    assert_ne!(a, b, "label 'cats' and label 1 ('dogs') gave the same images");
    ok(&["sample", "--checkpoint", o, "--n", "2", "--format", "png", "--label", "dogs", "--out", &s("pngs")]);
    let png = image::open(dir.join("pngs/000001.png")).unwrap();
    assert_eq!((png.width(), png.height(), png.color().channel_count()), (32, 32, 3));
    assert_one_line_error(&["sample", "--checkpoint", o, "--label", "birds", "--out", &s("x.png")], "cats, dogs");
    export_matches_sample(o, &dir, 1, 2);
    for path in ["plane", "slerp"] {
        let png = s(&format!("{path}.png"));
        ok(&["interpolate", "--checkpoint", o, "--path", path, "--steps", "3", "--rows", "2", "--out", &png]);
        let img = image::open(png).unwrap();
        assert_eq!(img.width(), 3 * 34 + 2);
    }

    // --init-d starts D from this run's D; --freeze-d then leaves it unchanged.
    let frozen = dir.join("frozen");
    let f = frozen.to_str().unwrap();
    ok(&[&run[..run.len() - 1], &[f, "--init-d", o, "--freeze-d"]].concat());
    let before = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    let after = Checkpoint::load(&frozen.join("checkpoint.safetensors")).unwrap();
    let d = |c: &Checkpoint| {
        let mut t: Vec<_> =
            c.tensors.iter().filter(|(n, _)| n.starts_with("d.") && n != "d.spectral").cloned().collect();
        t.sort_by(|a, b| a.0.cmp(&b.0));
        t
    };
    assert!(!d(&before).is_empty() && d(&before) == d(&after), "a frozen D changed");
    let _ = std::fs::remove_dir_all(dir);
}

/// `text` written to `dir/name` (creating `dir`), and the folder a run trained on it writes to.
fn table_in(dir: &Path, name: &str, text: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let csv = dir.join(name);
    std::fs::write(&csv, text).unwrap();
    (csv, dir.join("run"))
}

/// `n` rows sampled from a table run's checkpoint into the CSV file `to`, read back.
fn sample_table(checkpoint: &str, n: &str, to: &Path) -> wgan_gpu::data::table::Table {
    ok(&["sample", "--checkpoint", checkpoint, "--n", n, "--out", to.to_str().unwrap()]);
    wgan_gpu::data::table::read_csv(to).unwrap()
}

#[test]
fn trains_on_a_csv_table_and_samples_rows_in_its_units() {
    let Some(dir) = gpu_tmp("csv") else { return };
    let mut rng = common::Rng::new(4);
    let mut text = String::from("height_cm,weight_kg,age,team\n");
    for _ in 0..256 {
        let h = 150.5 + (rng.next_u64() % 50) as f64;
        let w = 0.9 * h - 90.0 + (rng.next_u64() % 10) as f64;
        let team = ["red", "blue", "green"][(rng.next_u64() % 3) as usize];
        text += &format!("{h},{w},{},{team}\n", 20 + rng.next_u64() % 50);
    }
    let (csv, out) = table_in(&dir, "people.csv", &text);
    let (c, o) = (csv.to_str().unwrap(), out.to_str().unwrap());
    ok(&[
        "train",
        "--data",
        c,
        "--g-hidden",
        "32",
        "--d-hidden",
        "32",
        "--batch-size",
        "32",
        "--epochs",
        "2",
        "--out",
        o,
    ]);
    let report = std::fs::read_to_string(out.join("report.txt")).unwrap();
    for needle in ["height_cm", "weight_kg", "age", "correlation", "team shares", "KS"] {
        assert!(report.contains(needle), "report lacks {needle}:\n{report}");
    }
    // The table recipe's defaults.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        (
            &config["info_cat"],
            &config["d_dropout"],
            &config["loss"],
            &config["table_transform"],
            &config["table_calibrate"]
        ),
        (&16.into(), &0.0.into(), &"hinge".into(), &"quantile".into(), &true.into())
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["columns"][3]["kind"], "categorical");
    let rows = wgan_gpu::data::table::read_csv(&out.join("samples/epoch_002.csv")).unwrap();
    assert!(out.join("samples/epoch_002.png").is_file() && out.join("progress.gif").is_file());
    assert_eq!(rows.columns, ["height_cm", "weight_kg", "age", "team"]);
    let sampled = dir.join("sampled.csv");
    let t = sample_table(o, "20", &sampled);
    let text = std::fs::read_to_string(&sampled).unwrap();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert!(cells[2].parse::<u32>().is_ok(), "age comes back whole: {line}");
        assert!(["red", "blue", "green"].contains(&cells[3]), "team comes back a team: {line}");
    }
    assert_eq!((t.rows, t.columns.len()), (20, 4));
    // The live G decodes through Φ: the calibration was fitted on its moving average.
    let raw = dir.join("raw.csv");
    ok(&["sample", "--checkpoint", o, "--raw", "--n", "20", "--out", raw.to_str().unwrap()]);
    assert_eq!(wgan_gpu::data::table::read_csv(&raw).unwrap().rows, 20);
    // In the table's units (heights near 150..200 cm), inside the data's range.
    let heights = t.values.iter().step_by(4);
    assert!(heights.clone().all(|h| (150.5..=199.5).contains(h)), "{text}");
    let report = String::from_utf8(ok(&["eval", "--table", c, "--samples", sampled.to_str().unwrap()]).stdout).unwrap();
    assert!(report.contains("rows: real 256, generated 20") && report.contains("team shares"), "{report}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A known mixture: `peaks` is 30% N(−3, 0.5) and 70% N(2, 1), `linked` = peaks/2 + N(0, 0.5).
/// The default table recipe must keep both peaks in proportion, the spread and the correlation.
#[test]
fn learns_a_two_peaked_table_within_bounds() {
    let Some(dir) = gpu_tmp("mixture") else { return };
    let mut rng = common::Rng::new(11);
    let mut gauss = || {
        let (u, v) = (rng.f(1e-12, 1.0), rng.f(0.0, 1.0));
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut text = String::from("peaks,linked\n");
    let mut values = Vec::new();
    for i in 0..2000 {
        let peak = if i % 10 < 3 { -3.0 + 0.5 * gauss() } else { 2.0 + gauss() };
        let linked = peak / 2.0 + 0.5 * gauss();
        text += &format!("{peak:.5},{linked:.5}\n");
        values.extend([peak, linked]);
    }
    let (csv, out) = table_in(&dir, "mixture.csv", &text);
    let (c, o) = (csv.to_str().unwrap(), out.to_str().unwrap());
    ok(&["train", "--data", c, "--epochs", "30", "--out", o]);
    let t = sample_table(o, "2000", &dir.join("sampled.csv"));
    let kinds = [wgan_gpu::data::table::ColumnKind::Real, wgan_gpu::data::table::ColumnKind::Real];
    let report = wgan_gpu::data::table::report::TableReport::new(&t.columns, &kinds, &values, &t.values);
    let low = t.values.iter().step_by(2).filter(|&&v| v < -0.5).count() as f64 / t.rows as f64;
    let summary = format!("{}\nlow peak {low:.3}", report.text());
    assert!((0.25..=0.35).contains(&low), "the low peak's share: {summary}");
    // Issue 19's targets (this seed: mean gaps 0.03, std ratios 0.99, KS 0.02, correlation gap
    // 0.05, low peak 0.29).
    for col in &report.columns {
        assert!(col.mean_gap_std <= 0.1 && (0.85..=1.15).contains(&col.std_ratio) && col.ks <= 0.06, "{summary}");
    }
    assert!(report.correlation_max_gap <= 0.1, "{summary}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_folders_and_tables_are_one_line_errors() {
    let dir = tmp("baddata");
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "no images here").unwrap();
    assert_one_line_error(&["train", "--data", empty.to_str().unwrap(), "--out", o], "no PNG or JPEG");

    let corrupt = dir.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    image::GrayImage::new(28, 28).save(corrupt.join("a.png")).unwrap();
    std::fs::write(corrupt.join("b.png"), b"\x89PNG garbage").unwrap();
    assert_one_line_error(&["train", "--data", corrupt.to_str().unwrap(), "--out", o], "b.png");

    let mixed = dir.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    image::GrayImage::new(28, 28).save(mixed.join("a.png")).unwrap();
    image::RgbImage::new(28, 28).save(mixed.join("b.png")).unwrap();
    assert_one_line_error(&["train", "--data", mixed.to_str().unwrap(), "--out", o], "--channels");

    for (name, body, needle) in [
        ("text.csv", "a,b\n1,2\n3,x\n4,5\n", "line 3, column 'b'"),
        ("missing.csv", "a,b\n1,2\n3,4\n5,\n", "line 4, column 'b': missing value"),
        ("ragged.csv", "a,b\n1,2\n3\n", "line 3"),
        ("empty.csv", "", "empty"),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        assert_one_line_error(&["train", "--data", p.to_str().unwrap(), "--out", o], needle);
    }
    assert_one_line_error(
        &["train", "--conditional", "--data", mixed.to_str().unwrap(), "--channels", "1", "--out", o],
        "labels",
    );
    assert_one_line_error(&["train", "--backend", "foo", "--out", o], "foo");
    let table = dir.join("two.csv");
    std::fs::write(&table, "a,b\n1,2\n3,4\n").unwrap();
    let t = table.to_str().unwrap();
    assert_one_line_error(&["eval", "--table", t, "--samples", t, "--modes", "3"], "--modes 3");
    assert_one_line_error(&["eval", "--checkpoint", t, "--modes", "3"], "--modes");
    assert_one_line_error(&["train", "--augment-p", "auto", "--out", o], "--augment-p");
    assert_one_line_error(&["train", "--augment", "cutout", "--augment-p", "1.5", "--out", o], "1.5");
    assert_one_line_error(&["train", "--g-label", "norm", "--out", o], "--conditional");
    assert_one_line_error(&["train", "--model", "progan", "--phase-images", "0", "--out", o], "--phase-images");
    assert_one_line_error(&["train", "--model", "progan", "--loss", "wgan-gp", "--out", o], "minibatch stddev");
    let full = ["train", "--unroll", "3", "--unroll-grad", "full", "--loss", "wgan-gp", "--out", o];
    assert_one_line_error(&full, "--unroll-grad first-order");
    let flat = ["train", "--conditional", "--g-label", "norm", "--no-g-batch-norm", "--out", o];
    assert_one_line_error(&flat, "--no-g-batch-norm");
    assert!(!dir.join("run").exists(), "a refused run leaves no run folder");
    let _ = std::fs::remove_dir_all(dir);
}

/// A folder with an unreadable file trains with --skip-bad (mirrored, padded to square), and
/// `eval --real` scores the run's samples against the folder.
#[test]
fn a_folder_with_a_bad_file_trains_with_skip_bad_and_eval_real_scores_it() {
    let Some(dir) = gpu_tmp("skipbad") else { return };
    let data = dir.join("pets");
    write_image_folder(&data);
    std::fs::write(data.join("cats/zz.png"), b"\x89PNG\r\n\x1a\ntruncated").unwrap();
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let run = ["train", "--data", d, "--image-size", "32", "--width", "4", "--batch-size", "8", "--epochs", "1"];
    assert_one_line_error(&[&run[..], &["--out", o]].concat(), "zz.png");
    assert!(!out.exists(), "the refused run left no folder");
    let flags = ["--skip-bad", "--mirror", "--crop", "pad", "--eval-every", "2", "--out", o];
    let trained = ok(&[&run[..], &flags].concat());
    let stderr = String::from_utf8_lossy(&trained.stderr);
    assert!(stderr.contains("skipped 1 unreadable images (--skip-bad): cats/zz.png"), "{stderr}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!((&config["mirror"], &config["crop"], &config["skip_bad"]), (&true.into(), &"pad".into(), &true.into()));
    let eval = ok(&["eval", "--real", d, "--checkpoint", o, "--n", "40", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let accuracy = report["two_sample_accuracy"].as_f64().unwrap();
    // Four iterations of a 4-channel G: its samples are told apart from the pets.
    assert!((0.5..=1.0).contains(&accuracy), "{report}");
    assert_eq!((report["real"].as_u64(), report["samples"].as_u64()), (Some(32), Some(40)));
    assert_eq!(report["real_mean"].as_array().map(Vec::len), Some(3));
    let _ = std::fs::remove_dir_all(dir);
}

/// `--flag` → the `[default: V]` that `train --help` prints for it.
fn help_defaults() -> Vec<(String, String)> {
    let help = String::from_utf8(ok(&["train", "--help"]).stdout).unwrap();
    let mut flag = None;
    let mut out = Vec::new();
    for line in help.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("--") {
            flag = rest.split([' ', '[', '<']).next().map(|f| f.replace('-', "_"));
        }
        if let (Some(f), Some(v)) = (&flag, line.strip_prefix("[default: ").and_then(|l| l.strip_suffix(']'))) {
            out.push((f.clone(), v.to_string()));
        }
    }
    out
}

/// Every default `train --help` prints is the value a run of each model is configured with
/// (config.json); defaults that differ by model are named in the help text instead.
#[test]
fn help_prints_the_defaults_runs_use() {
    let Some(dir) = gpu_tmp("helpdefaults") else { return };
    let defaults = help_defaults();
    assert!(defaults.len() > 30, "{defaults:?}");
    for model in ["dcgan", "mlp", "keras"] {
        let out = dir.join(model);
        let o = out.to_str().unwrap();
        ok(&["train", "--model", model, "--limit", "64", "--max-steps", "1", "--out", o]);
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        for (flag, printed) in
            defaults.iter().filter(|(f, _)| !["model", "limit", "max_steps", "out"].contains(&f.as_str()))
        {
            let value = &config[flag.as_str()];
            let saved = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            let same = match (saved.parse::<f64>(), printed.parse::<f64>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => &saved == printed,
            };
            assert!(same, "--{flag} for --model {model}: help says {printed}, the run used {saved}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_preset_starts_and_runs() {
    let Some(dir) = gpu_tmp("presets") else { return };
    for (preset, extra) in [
        ("goodfellow2014", &["--limit", "200"][..]),
        ("mlp-zeros", &["--limit", "64"][..]),
        // Smaller batches than the originals keep the test short; the flag given wins.
        ("radford2015", &["--limit", "32", "--batch-size", "16", "--width", "8"][..]),
        ("dcgan-keras", &["--limit", "16", "--batch-size", "8"][..]),
    ] {
        let out = dir.join(preset);
        let o = out.to_str().unwrap();
        ok(&[&["train", "--preset", preset, "--epochs", "1", "--out", o][..], extra].concat());
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        let expect = |key: &str, v: serde_json::Value| assert_eq!(config[key], v, "{preset}: {key}");
        match preset {
            "goodfellow2014" => (expect("opt_d", "sgd".into()), expect("batch_size", 100.into())),
            "mlp-zeros" => (expect("digits", "0".into()), expect("g_batch", 16.into())),
            "radford2015" => (expect("d_batch_norm", true.into()), expect("batch_size", 16.into())),
            _ => (expect("model", "keras".into()), expect("batch_size", 8.into())),
        };
        assert!(out.join("samples/epoch_001.png").is_file(), "{preset}");
        // Presets are the published setups: no moving average, no spectral norm.
        expect("g_ema", 0.0.into());
        expect("d_spectral_norm", false.into());
    }
    // Without a preset, the DCGAN's measured recipe; flags given still win.
    let config_of = |args: &[&str]| {
        let out = dir.join("default");
        let o = out.to_str().unwrap();
        ok(&[&["train", "--limit", "32", "--batch-size", "8", "--width", "4", "--out", o][..], args].concat());
        let text = std::fs::read_to_string(out.join("config.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let c = config_of(&[]);
    assert_eq!(c["batch_size"], serde_json::Value::from(8), "--batch-size given wins over the recipe's 16");
    // The adapter and the kernels chosen for it are saved with the settings.
    assert!(c["adapter"]["name"].is_string() && c["kernels"]["gemm"].is_string(), "{c}");
    assert!(c["kernels"]["tiled"].is_boolean(), "{c}");
    assert_eq!((&c["loss"], &c["d_spectral_norm"], &c["g_ema"]), (&"hinge".into(), &true.into(), &0.999.into()));
    assert_eq!((&c["lr_g"], &c["lr_d"], &c["beta1"]), (&0.001.into(), &0.001.into(), &0.0.into()));
    let c = config_of(&["--loss", "bce", "--d-spectral-norm", "false", "--lr-g", "2e-4", "--g-ema", "0"]);
    assert_eq!((&c["loss"], &c["d_spectral_norm"], &c["g_ema"]), (&"bce".into(), &false.into(), &0.0.into()));
    assert_eq!((&c["lr_g"], &c["lr_d"]), (&0.0002.into(), &0.001.into()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn eval_scores_checkpoints_and_image_files() {
    let Some(dir) = gpu_tmp("eval") else { return };
    let run = dir.join("run");
    // --eval-every scores G during training (2 epochs of 4 iterations: at steps 2, 4, 6, 8),
    // keeping the best-scoring state; --keep 1 keeps the last epoch's checkpoint.
    ok(&[&args(&tiny(&run, "2"))[..], &["--eval-every", "2", "--keep", "1"]].concat());
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().filter(|l| l.contains("\"eval\"")).count(), 4, "{metrics}");
    assert!(run.join("eval.png").is_file());
    let best = Checkpoint::load(&run.join("best.safetensors")).expect("best.safetensors");
    let best_fd: f64 = best.meta["eval_fd"].parse().unwrap();
    let fds: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["eval"]["fd"].as_f64())
        .collect();
    assert_eq!(best_fd, fds.iter().cloned().fold(f64::INFINITY, f64::min), "best.safetensors holds the lowest FD");
    let kept: Vec<_> = std::fs::read_dir(run.join("checkpoints")).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(kept.len(), 1, "--keep 1");
    assert!(run.join("checkpoints/epoch_002.safetensors").is_file());
    let b = run.join("best.safetensors");
    ok(&["sample", "--checkpoint", b.to_str().unwrap(), "--n", "4", "--out", dir.join("best.png").to_str().unwrap()]);
    let r = run.to_str().unwrap();
    let out = ok(&["eval", "--checkpoint", r, "--n", "600", "--json", "--no-reference"]);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["fd", "kid_x1000", "score", "precision", "recall", "classes"] {
        assert!(line.get(key).is_some(), "eval JSON lacks {key}: {line}");
    }
    // Files another tool wrote: an npy and a grid PNG of this run's samples.
    let npy = dir.join("s.npy");
    ok(&["sample", "--checkpoint", r, "--n", "30", "--format", "npy", "--out", npy.to_str().unwrap()]);
    let grid = dir.join("g.png");
    ok(&["sample", "--checkpoint", r, "--n", "30", "--out", grid.to_str().unwrap()]);
    for f in [&npy, &grid] {
        let out = ok(&["eval", "--images", f.to_str().unwrap(), "--no-reference"]);
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("KIDx1000") && table.contains(" 30 "), "{table}");
    }
    let junk = dir.join("junk.npy");
    std::fs::write(&junk, b"\x93NUMPY junk").unwrap();
    assert_one_line_error(&["eval", "--images", junk.to_str().unwrap()], "npy");
    // A float array with a NaN, and one far outside any pixel range.
    for (name, bad) in [("nan.npy", f32::NAN), ("huge.npy", 1e6)] {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 784), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend((0..784).flat_map(|i| if i == 5 { bad } else { 0.5f32 }.to_le_bytes()));
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        assert_one_line_error(&["eval", "--images", file.to_str().unwrap()], name);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `export --format onnx` of run `run` (a conditional model of `classes` classes when
/// `classes` > 0), run by tract on the latent vectors given to `sample --z` with `--label`
/// `label`, draws the same images up to the last bit of the 8-bit pixels.
fn export_matches_sample(run: &str, dir: &Path, label: usize, classes: usize) {
    use tract_onnx::prelude::*;
    let (onnx, z_file, images) = (dir.join("g.onnx"), dir.join("z.npy"), dir.join("from_z.npy"));
    ok(&["export", "--checkpoint", run, "--format", "onnx", "--out", onnx.to_str().unwrap()]);
    let (n, z_dim) = (6, 100);
    let z = common::Rng::new(5).vec(n * z_dim, -2.0, 2.0);
    wgan_gpu::data::npy::write_f32(&z_file, &[n, z_dim], &z).unwrap();
    let mut args = vec!["sample", "--checkpoint", run, "--z", z_file.to_str().unwrap(), "--format", "npy"];
    let label_s = label.to_string();
    if classes > 0 {
        args.extend(["--label", &label_s]);
    }
    ok(&[&args[..], &["--out", images.to_str().unwrap()]].concat());
    let sampled = wgan_gpu::data::npy::read(&images).unwrap();

    let mut model = tract_onnx::onnx().model_for_path(&onnx).unwrap();
    model = model.with_input_fact(0, f32::fact([n, z_dim]).into()).unwrap();
    let mut inputs: TVec<TValue> = tvec![Tensor::from_shape(&[n, z_dim], &z).unwrap().into()];
    if classes > 0 {
        model = model.with_input_fact(1, f32::fact([n, classes]).into()).unwrap();
        let one_hot: Vec<f32> = (0..n * classes).map(|i| (i % classes == label) as u8 as f32).collect();
        inputs.push(Tensor::from_shape(&[n, classes], &one_hot).unwrap().into());
    }
    let out = model.into_optimized().unwrap().into_runnable().unwrap().run(inputs).unwrap();
    let view = out[0].to_plain_array_view::<f32>().unwrap();
    let shape = view.shape().to_vec();
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    assert_eq!(shape[0], n);
    // sample's .npy is [n, h, w, c] (c > 1) or [n, h, w]; the export's [n, c, h, w].
    let mut worst = 0i32;
    for (i, &px) in sampled.data.iter().enumerate() {
        let (img, p, ch) =
            if c > 1 { (i / (h * w * c), i / c % (h * w), i % c) } else { (i / (h * w), i % (h * w), 0) };
        let onnx_px = wgan_gpu::train::outputs::to_u8(view[[img, ch, p / w, p % w]]);
        worst = worst.max((onnx_px as i32 - px as i32).abs());
    }
    assert_eq!(sampled.data.len(), n * c * h * w);
    assert!(worst <= 1, "ONNX export and `sample --z` differ by {worst} levels of 255");
}

#[test]
fn bench_times_the_default_recipe() {
    if common::gpu().is_none() {
        return;
    }
    let out =
        ok(&["bench", "--model", "default", "--batch", "3", "--no-ops", "--iters", "1", "--warmup", "0", "--json"]);
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let iter = rows.iter().find(|r| r["bench"] == "gan_train_iter").expect("an iteration row");
    assert_eq!(
        (iter["model"].as_str(), iter["batch"].as_u64(), iter["loss"].as_str()),
        (Some("default"), Some(3), Some("Hinge"))
    );
    assert!(iter["ms_per_iter_median"].as_f64().unwrap() > 0.0);
}

/// A run folder written by the code of 2026-12-07 (tests/fixtures/tiny_run: a DCGAN stopped at
/// step 3 by --max-steps) resumes, samples and exports with today's code.
#[test]
fn a_run_of_2026_12_07_resumes_samples_and_exports() {
    let Some(dir) = gpu_tmp("old-run") else { return };
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_run");
    for f in ["config.json", "checkpoint.safetensors"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    let d = dir.to_str().unwrap();
    ok(&["train", "--resume", d, "--max-steps", "5"]);
    let ckpt = Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta("step", &dir).unwrap(), "5");
    let out = |f: &str| dir.join(f).display().to_string();
    ok(&["sample", "--checkpoint", d, "--n", "4", "--out", &out("grid.png")]);
    ok(&["export", "--checkpoint", d, "--format", "onnx", "--out", &out("g.onnx")]);
    let _ = std::fs::remove_dir_all(dir);
}

/// The residual models with DiffAugment on a folder of RGB pictures, stopped by --max-minutes
/// (with a checkpoint that resumes), then sampled, interpolated, scored and exported.
#[test]
fn trains_the_residual_models_with_augmentation_on_a_folder_for_a_set_time() {
    let Some(dir) = gpu_tmp("resnet") else { return };
    let data = dir.join("pets");
    write_image_folder(&data);
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let run = ["train", "--data", d, "--image-size", "32", "--model", "resnet", "--width", "4"];
    let flags = ["--augment", "translation,cutout", "--batch-size", "8", "--max-minutes", "0.0001", "--out", o];
    let text = String::from_utf8(ok(&[&run[..], &flags[..]].concat()).stderr).unwrap();
    assert!(text.contains("--max-minutes"), "{text}");
    let ckpt = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta("step", &out).unwrap(), "1", "stopped after the first iteration");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["augment"], serde_json::json!(["translation", "cutout"]));
    assert_eq!(config["loss"], "hinge");
    ok(&["train", "--resume", o, "--max-steps", "3"]);
    let s = |f: &str| dir.join(f).display().to_string();
    ok(&["sample", "--checkpoint", o, "--n", "4", "--out", &s("grid.png")]);
    ok(&["interpolate", "--checkpoint", o, "--out", &s("walk.png")]);
    ok(&["eval", "--real", d, "--checkpoint", o, "--crop", "center"]);
    ok(&["export", "--checkpoint", o, "--format", "onnx", "--out", &s("g.onnx")]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Progressive growing on a folder: every phase's grid is drawn, a run stopped in the middle of
/// a fade-in resumes to the uninterrupted run's exact weights, and its checkpoint samples,
/// interpolates and scores; the export waits for the fade-in to end.
#[test]
fn grows_a_progan_through_its_fade_ins_and_resumes_mid_phase() {
    let Some(dir) = gpu_tmp("progan") else { return };
    let data = dir.join("pets");
    write_image_folder(&data);
    let (full, split) = (dir.join("full"), dir.join("split"));
    let d = data.to_str().unwrap();
    let run = |out: &Path, steps: &str| {
        let o = out.to_str().unwrap();
        let flags = ["--model", "progan", "--width", "2", "--image-size", "16", "--batch-size", "8"];
        let more = ["--phase-images", "16", "--epochs", "3", "--max-steps", steps, "--g-ema", "0.9", "--out", o];
        ok(&[&["train", "--data", d][..], &flags[..], &more[..]].concat());
    };
    run(&full, "9");
    run(&split, "4");
    let o = split.to_str().unwrap();
    let mid = Checkpoint::load(&split.join("checkpoint.safetensors")).unwrap();
    assert_eq!(mid.meta("blend_alpha", &split).unwrap(), "0.5", "stopped half way into 8x8");
    let s = |f: &str| dir.join(f).display().to_string();
    ok(&["sample", "--checkpoint", o, "--n", "4", "--out", &s("grid.png")]);
    ok(&["interpolate", "--checkpoint", o, "--out", &s("walk.png")]);
    ok(&["eval", "--real", d, "--checkpoint", o]);
    assert_one_line_error(&["export", "--checkpoint", o, "--format", "onnx", "--out", &s("g.onnx")], "fade-in");
    ok(&["train", "--resume", o, "--max-steps", "9"]);
    let a = Checkpoint::load(&full.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&split.join("checkpoint.safetensors")).unwrap();
    assert_eq!(a.meta("g_spec", &full).unwrap(), b.meta("g_spec", &split).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, x) in &a.tensors {
        let y = b.tensor(name, &split).unwrap();
        assert!(x[..] == y[..], "{name} differs between the resumed and the uninterrupted run");
    }
    for grid in ["grow_004px.png", "grow_008px_fade.png", "grow_008px.png", "grow_016px_fade.png"] {
        assert!(full.join("samples").join(grid).exists(), "{grid}");
    }
    ok(&["export", "--checkpoint", full.to_str().unwrap(), "--format", "onnx", "--out", &s("g.onnx")]);
    let _ = std::fs::remove_dir_all(dir);
}
