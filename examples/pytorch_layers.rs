//! Runs every layer a GAN of ours is built from on random inputs, forward and backward, on the
//! GPU backend (the CPU reference where no adapter is found), and writes inputs and results to
//! a safetensors file that `scripts/check_against_pytorch.py` replays through PyTorch itself.
//! The test suite compares the GPU with our own CPU reference; this compares both with PyTorch's
//! semantics (padding, output_padding, weight layouts, batch norm's statistics, the losses).
//!
//!     cargo run --release --example pytorch_layers -- layers.safetensors

use std::collections::HashMap;
use std::path::PathBuf;

use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::gpu::{BackendChoice, GpuBackend, GpuContext};
use wgan_gpu::ops::Weighted;
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::ops::adam::AdamStep;
use wgan_gpu::ops::batch_norm::{BatchNorm, BatchNormState};
use wgan_gpu::ops::conv_transpose2d::ConvTranspose2d;
use wgan_gpu::ops::conv2d::Conv2d;
use wgan_gpu::ops::linear::Linear;
use wgan_gpu::ops::random::reference::uniform;
use wgan_gpu::ops::spectral_norm::{SpectralNorm, SpectralState};
use wgan_gpu::train::checkpoint::Checkpoint;
use wgan_gpu::{Backend, Grads, Result};

/// Collects named tensors (flat, shapes in the metadata) for one file.
struct Dump {
    tensors: Vec<(String, Vec<f32>)>,
    meta: HashMap<String, String>,
    draws: u64,
}

impl Dump {
    fn random(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        let mut v = vec![0.0; len];
        self.draws += 1;
        uniform(&mut v, 2026, self.draws << 32, lo, hi);
        v
    }
    fn put(&mut self, name: String, v: Vec<f32>) {
        self.tensors.push((name, v));
    }
}

/// The named tensors uploaded, the body run, and every tensor read back into the dump.
fn run_case<B: Backend>(
    b: &mut B,
    dump: &mut Dump,
    case: &str,
    params: serde_json::Value,
    inputs: Vec<(&str, Vec<f32>)>,
    body: impl FnOnce(&mut B, &[B::T]) -> Result<()>,
) -> Result<()> {
    let t: Vec<B::T> = inputs.iter().map(|(_, v)| b.upload(v)).collect::<Result<_>>()?;
    for (name, v) in &inputs {
        dump.put(format!("{case}.in.{name}"), v.clone());
    }
    body(b, &t)?;
    for ((name, _), x) in inputs.iter().zip(&t) {
        dump.put(format!("{case}.out.{name}"), b.read(x)?);
    }
    dump.meta.insert(format!("case.{case}"), params.to_string());
    Ok(())
}

/// A linear or convolution layer's forward (with bias) and its three gradients, on random x, w,
/// b and dy of the `sizes` [x, w, b, y].
fn weighted_case<B: Backend, S: Weighted>(
    b: &mut B,
    d: &mut Dump,
    case: &str,
    params: serde_json::Value,
    s: &S,
    [xn, wn, bn, yn]: [usize; 4],
) -> Result<()> {
    let inputs = vec![
        ("x", d.random(xn, -1.0, 1.0)),
        ("w", d.random(wn, -0.5, 0.5)),
        ("b", d.random(bn, -0.5, 0.5)),
        ("dy", d.random(yn, -1.0, 1.0)),
        ("y", vec![0.0; yn]),
        ("dx", vec![0.0; xn]),
        ("dw", vec![0.0; wn]),
        ("db", vec![0.0; bn]),
    ];
    run_case(b, d, case, params, inputs, |b, t| {
        wgan_gpu::ops::weighted::forward(b, s, &t[0], &t[1], Some(&t[2]), &t[4])?;
        let g = Grads { dx: Some(&t[5]), dw: Some(&t[6]), db: Some(&t[7]) };
        wgan_gpu::ops::weighted::backward(b, s, &t[0], &t[1], &t[3], g)
    })
}

fn cases<B: Backend>(b: &mut B, d: &mut Dump) -> Result<()> {
    // Linear.
    let s = Linear { batch: 5, in_features: 7, out_features: 3 };
    let p = serde_json::json!({"op": "linear", "n": 5, "in": 7, "out": 3});
    weighted_case(b, d, "linear", p, &s, [35, 21, 3, 15])?;

    // Convolutions as our models use them (4x4, stride 2, pad 1) and odd ones.
    for (i, &(c, h, w, k, kh, stride, pad)) in
        [(1, 28, 28, 4, 4, 2, 1), (3, 9, 8, 5, 3, 2, 1), (2, 7, 7, 3, 3, 1, 0)].iter().enumerate()
    {
        let n = 2;
        let s = Conv2d { n, c, h, w, k, kh, kw: kh, stride, pad };
        let (oh, ow) = ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kh) / stride + 1);
        let p = serde_json::json!({"op": "conv2d", "n": n, "c": c, "h": h, "w": w, "k": k, "kernel": kh,
            "stride": stride, "pad": pad});
        let sizes = [n * c * h * w, k * c * kh * kh, k, n * k * oh * ow];
        weighted_case(b, d, &format!("conv2d{i}"), p, &s, sizes)?;
    }
    for (i, &(c, h, w, k, kh, stride, pad, op)) in
        [(8, 7, 7, 4, 4, 2, 1, 0), (3, 5, 6, 2, 3, 2, 1, 1), (2, 4, 3, 3, 5, 3, 2, 2)].iter().enumerate()
    {
        let n = 2;
        let s = ConvTranspose2d { n, c, h, w, k, kh, kw: kh, stride, pad, output_padding: op };
        let (oh, ow) = s.out_hw();
        let p = serde_json::json!({"op": "conv_transpose2d", "n": n, "c": c, "h": h, "w": w, "k": k,
            "kernel": kh, "stride": stride, "pad": pad, "output_padding": op});
        let sizes = [n * c * h * w, c * k * kh * kh, k, n * k * oh * ow];
        weighted_case(b, d, &format!("conv_transpose2d{i}"), p, &s, sizes)?;
    }

    // Batch norm, 2-D (per channel) and 1-D (per feature), training then evaluation.
    for (name, n, c, spatial) in [("batch_norm2d", 4, 3, 25), ("batch_norm1d", 16, 6, 1)] {
        let s = BatchNorm { n, c, spatial, eps: 1e-5, momentum: 0.1 };
        let len = n * c * spatial;
        let mut running = d.random(c, -0.5, 0.5);
        running.extend(d.random(c, 0.5, 2.0));
        let inputs = vec![
            ("x", d.random(len, -2.0, 3.0)),
            ("gamma", d.random(c, 0.5, 1.5)),
            ("beta", d.random(c, -0.5, 0.5)),
            ("running", running),
            ("dy", d.random(len, -1.0, 1.0)),
            ("y", vec![0.0; len]),
            ("dx", vec![0.0; len]),
            ("dgamma", vec![0.0; c]),
            ("dbeta", vec![0.0; c]),
            ("y_eval", vec![0.0; len]),
            ("saved", vec![0.0; 2 * c]),
        ];
        let p = serde_json::json!({"op": "batch_norm", "n": n, "c": c, "spatial": spatial,
            "eps": 1e-5, "momentum": 0.1});
        run_case(b, d, name, p, inputs, |b, t| {
            let st = BatchNormState { gamma: &t[1], beta: &t[2], running: &t[3], saved: &t[10] };
            wgan_gpu::ops::batch_norm::forward(b, &s, &t[0], &st, &t[5], true)?;
            wgan_gpu::ops::batch_norm::backward(b, &s, &t[0], &t[1], &t[10], &t[4], (&t[6], &t[7], &t[8]))?;
            // Evaluation with the running statistics this training step left.
            wgan_gpu::ops::batch_norm::forward(b, &s, &t[0], &st, &t[9], false)
        })?;
    }

    // Activations.
    for (name, a) in [
        ("relu", Activation::Relu),
        ("leaky_relu", Activation::LeakyRelu(0.2)),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
    ] {
        let inputs = vec![
            ("x", d.random(50, -4.0, 4.0)),
            ("dy", d.random(50, -1.0, 1.0)),
            ("y", vec![0.0; 50]),
            ("dx", vec![0.0; 50]),
        ];
        run_case(b, d, name, serde_json::json!({"op": name, "slope": 0.2}), inputs, |b, t| {
            wgan_gpu::ops::activation::forward(b, a, &t[0], &t[2])?;
            wgan_gpu::ops::activation::backward(b, a, &t[2], &t[1], &t[3])
        })?;
    }

    // Losses: mean over the batch and its gradient.
    let n = 40;
    let mut targets = d.random(n, 0.0, 1.0);
    targets[..n / 2].iter_mut().for_each(|t| *t = t.round());
    for loss in ["bce_with_logits", "mse", "hinge"] {
        let inputs = vec![
            ("z", d.random(n, -3.0, 3.0)),
            ("t", if loss == "hinge" { targets.iter().map(|t| t.round()).collect() } else { targets.clone() }),
            ("loss", vec![0.0; n]),
            ("mean", vec![0.0]),
            ("dz", vec![0.0; n]),
        ];
        run_case(b, d, loss, serde_json::json!({"op": loss}), inputs, |b, t| {
            match loss {
                "bce_with_logits" => {
                    wgan_gpu::ops::bce_with_logits::LOSS.forward(b, &t[0], &t[1], &t[2])?;
                    wgan_gpu::ops::bce_with_logits::LOSS.backward(b, &t[0], &t[1], &t[4], 1.0)?;
                }
                "mse" => {
                    wgan_gpu::ops::mse::LOSS.forward(b, &t[0], &t[1], &t[2])?;
                    wgan_gpu::ops::mse::LOSS.backward(b, &t[0], &t[1], &t[4], 1.0)?;
                }
                _ => {
                    wgan_gpu::ops::hinge::LOSS.forward(b, &t[0], &t[1], &t[2])?;
                    wgan_gpu::ops::hinge::LOSS.backward(b, &t[0], &t[1], &t[4], 1.0)?;
                }
            }
            wgan_gpu::ops::reduce::sum(b, &t[2], &t[3], 1.0 / n as f32)
        })?;
    }

    // Spectral norm of a conv weight [8, 3, 4, 4]: one power iteration, w / σ, and the gradient.
    let (m, k) = (8, 48);
    let s = SpectralNorm::new(m, k);
    let mut u0 = d.random(m, -1.0, 1.0);
    let norm = u0.iter().map(|x| x * x).sum::<f32>().sqrt();
    u0.iter_mut().for_each(|x| *x /= norm);
    let inputs = vec![
        ("w", d.random(m * k, -0.5, 0.5)),
        ("u", u0),
        ("v", vec![0.0; k]),
        ("state", vec![0.0; 2]),
        ("w_sn", vec![0.0; m * k]),
        ("dw", d.random(m * k, -1.0, 1.0)),
    ];
    run_case(
        b,
        d,
        "spectral_norm",
        serde_json::json!({"op": "spectral_norm", "shape": [8, 3, 4, 4]}),
        inputs,
        |b, t| {
            let st = SpectralState { u: &t[1], v: &t[2], state: &t[3] };
            wgan_gpu::ops::spectral_norm::forward(b, &s, &t[0], &st, &t[4])?;
            wgan_gpu::ops::spectral_norm::backward(b, &s, &t[4], &st, &t[5])
        },
    )?;

    // Adam, three steps with a fresh gradient each.
    let inputs = vec![
        ("param", d.random(30, -1.0, 1.0)),
        ("m", vec![0.0; 30]),
        ("v", vec![0.0; 30]),
        ("g1", d.random(30, -1.0, 1.0)),
        ("g2", d.random(30, -1.0, 1.0)),
        ("g3", d.random(30, -1.0, 1.0)),
    ];
    let p = serde_json::json!({"op": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "eps": 1e-8});
    run_case(b, d, "adam", p, inputs, |b, t| {
        for step in 1..=3u64 {
            let s = AdamStep::dcgan(step);
            wgan_gpu::ops::adam::step(b, &s, &t[0], &t[2 + step as usize], &t[1], &t[2])?;
        }
        Ok(())
    })
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "layers.safetensors".into()));
    let mut dump = Dump { tensors: Vec::new(), meta: HashMap::new(), draws: 0 };
    let ran = match GpuContext::new(BackendChoice::Auto, &wgan_gpu::gpu::DeviceSettings::from_env())
        .and_then(GpuBackend::new)
    {
        Ok(mut g) => {
            let name = g.describe();
            cases(&mut g, &mut dump).map(|_| name)
        }
        Err(e) => {
            eprintln!("no adapter ({e}): the CPU reference runs instead");
            cases(&mut CpuBackend, &mut dump).map(|_| "CPU reference".to_string())
        }
    };
    match ran {
        Ok(name) => {
            dump.meta.insert("adapter".into(), name.clone());
            Checkpoint { tensors: dump.tensors, meta: dump.meta, ..Checkpoint::default() }
                .save(&out)
                .expect("writable output");
            eprintln!("every layer on {name} -> {}", out.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
