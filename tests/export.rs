//! `wgan-gpu export --format onnx`: the exported graph, run by tract (an independent
//! implementation of every ONNX operator), draws what our generator draws from the same z.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{Rng, assert_close};
use tract_onnx::prelude::*;
use wgan_gpu::Backend;
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::nn::{LayerSpec as L, Net, NetSpec, Shape};
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::train::checkpoint::Checkpoint;
use wgan_gpu::train::data::DataInfo;
use wgan_gpu::train::onnx_model;

/// Runs ONNX `bytes` on `inputs` ([n, dim] each) and returns its first output, flat.
fn run_onnx(bytes: &[u8], inputs: &[(&[f32], usize)], n: usize) -> Vec<f32> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).expect("tract reads the export");
    for (i, (_, dim)) in inputs.iter().enumerate() {
        model = model.with_input_fact(i, f32::fact([n, *dim]).into()).expect("input fact");
    }
    let plan = model.into_optimized().expect("optimise").into_runnable().expect("runnable");
    let tensors: TVec<TValue> =
        inputs.iter().map(|(v, dim)| Tensor::from_shape(&[n, *dim], v).expect("shape").into()).collect();
    let out = plan.run(tensors).expect("tract runs the export");
    out[0].to_plain_array_view::<f32>().expect("f32 output").iter().copied().collect()
}

/// Every parameter and running statistic of `net` set to random values (variances positive),
/// so a swapped tensor cannot go unnoticed.
fn randomise(b: &mut CpuBackend, net: &Net<CpuBackend>, rng: &mut Rng) {
    for (name, shape, t) in net.named_tensors() {
        let len = shape.iter().product();
        let v = if name.ends_with("running_var") { rng.vec(len, 0.5, 2.0) } else { rng.vec(len, -0.6, 0.6) };
        b.write(&t, &v).unwrap();
    }
}

/// A checkpoint holding G (`g`) and a different moving average (`g_ema`); returns it and the
/// moving average's network.
fn checkpoint(spec: &NetSpec, info: &DataInfo, rng: &mut Rng) -> (Checkpoint, Net<CpuBackend>, Net<CpuBackend>) {
    let mut b = CpuBackend;
    let mut ckpt = Checkpoint { tensors: vec![], meta: HashMap::new(), shapes: HashMap::new() };
    ckpt.meta.insert("g_spec".into(), serde_json::to_string(spec).unwrap());
    ckpt.meta.insert("data".into(), serde_json::to_string(info).unwrap());
    let (live, ema) = (Net::new(&mut b, spec, 5).unwrap(), Net::new(&mut b, spec, 5).unwrap());
    randomise(&mut b, &live, rng);
    randomise(&mut b, &ema, rng);
    ckpt.add_net(&mut b, "g", &live).unwrap();
    ckpt.add_net(&mut b, "g_ema", &ema).unwrap();
    (ckpt, live, ema)
}

fn forward(net: &mut Net<CpuBackend>, x: &[f32]) -> Vec<f32> {
    labelled_forward(net, x, &[])
}

/// [`forward`] of a network that reads class labels (conditional batch norm).
fn labelled_forward(net: &mut Net<CpuBackend>, x: &[f32], labels: &[f32]) -> Vec<f32> {
    let mut b = CpuBackend;
    if let Some(to) = net.labels() {
        b.write(to, labels).unwrap();
    }
    let x = b.upload(x).unwrap();
    net.forward(&mut b, &x, false, 0, 0).unwrap();
    b.read(net.output()).unwrap()
}

#[test]
fn conditional_generator_with_every_layer_kind_matches() {
    // z 4 + 3 classes → Linear → BatchNorm1d → ReLU → (4, 3, 3) → ConvT with output padding →
    // BatchNorm2d → LeakyReLU → dropout → Conv 3×3 → tanh: (2, 6, 6).
    let (z_dim, classes) = (4, 3);
    let spec = NetSpec {
        input: Shape(z_dim + classes, 1, 1),
        layers: vec![
            L::Linear { out: 36, bias: true },
            L::BatchNorm { momentum: 0.1, eps: 1e-5 },
            L::Activation { f: Activation::Relu },
            L::Reshape { to: Shape(4, 3, 3) },
            L::ConvTranspose2d { out: 3, kernel: 3, stride: 2, pad: 1, output_padding: 1, bias: false },
            L::BatchNorm { momentum: 0.1, eps: 1e-3 },
            L::Activation { f: Activation::LeakyRelu(0.2) },
            L::Dropout { prob: 0.3 },
            L::Conv2d { out: 2, kernel: 3, stride: 1, pad: 1, bias: true },
            L::Activation { f: Activation::Tanh },
        ],
        spectral_norm: false,
    };
    let info = DataInfo { classes: vec!["a".into(), "b".into(), "c".into()], ..Default::default() };
    let mut rng = Rng::new(11);
    // And with every batch norm conditional on the class (--g-label norm).
    for spec in [spec.clone(), wgan_gpu::gan::models::class_norms(spec, classes).unwrap()] {
        conditional_generator_matches(&spec, &info, &mut rng);
    }
}

fn conditional_generator_matches(spec: &NetSpec, info: &DataInfo, rng: &mut Rng) {
    let (z_dim, classes, n) = (4, 3, 5);
    let (ckpt, mut live, mut ema) = checkpoint(spec, info, rng);
    let z = rng.vec(n * z_dim, -2.0, 2.0);
    let labels = [0usize, 2, 1, 1, 0];
    let label_values: Vec<f32> = labels.iter().map(|&c| c as f32).collect();
    let one_hot: Vec<f32> = labels.iter().flat_map(|&c| (0..classes).map(move |k| (k == c) as u8 as f32)).collect();
    let x: Vec<f32> = (0..n)
        .flat_map(|i| z[i * z_dim..(i + 1) * z_dim].iter().chain(&one_hot[i * classes..(i + 1) * classes]))
        .copied()
        .collect();
    let path = Path::new("test.safetensors");
    for (raw, net) in [(false, &mut ema), (true, &mut live)] {
        let bytes = onnx_model(&ckpt, path, raw).unwrap();
        let got = run_onnx(&bytes, &[(&z, z_dim), (&one_hot, classes)], n);
        let want = labelled_forward(net, &x, &label_values);
        assert_close(&format!("ONNX vs CPU (raw {raw}, {:?})", spec.layers[1]), &got, &want, 1e-5, 1e-4);
    }
}

#[test]
fn sigmoid_generator_starting_with_a_transposed_convolution_draws_in_minus_one_one() {
    // PyTorch's DCGAN shape: z as a 1×1 image into a ConvT, and a [0, 1] output mapped to [−1, 1].
    let (z_dim, n) = (5, 5);
    let spec = NetSpec {
        input: Shape(z_dim, 1, 1),
        layers: vec![
            L::ConvTranspose2d { out: 4, kernel: 3, stride: 1, pad: 0, output_padding: 0, bias: false },
            L::BatchNorm { momentum: 0.1, eps: 1e-5 },
            L::Activation { f: Activation::Relu },
            L::ConvTranspose2d { out: 1, kernel: 4, stride: 2, pad: 1, output_padding: 0, bias: true },
            L::Activation { f: Activation::Sigmoid },
        ],
        spectral_norm: false,
    };
    let mut rng = Rng::new(12);
    let (ckpt, _, mut ema) = checkpoint(&spec, &DataInfo::default(), &mut rng);
    let z = rng.vec(n * z_dim, -2.0, 2.0);
    let got = run_onnx(&onnx_model(&ckpt, Path::new("t"), false).unwrap(), &[(&z, z_dim)], n);
    let want: Vec<f32> = forward(&mut ema, &z).iter().map(|v| 2.0 * v - 1.0).collect();
    assert_eq!(got.len(), n * 36);
    assert_close("ONNX vs CPU, sigmoid mapped to [-1, 1]", &got, &want, 1e-5, 1e-4);
}

#[test]
fn residual_generator_with_upsampling_and_pooling_matches() {
    // z → Linear → (3, 2, 2) → a residual up-block (main: nearest 2×, conv, BN, ReLU, conv;
    // shortcut: bilinear 2×, 1×1 conv) → an identity residual → average pool → bilinear 2× →
    // conv → tanh: (2, 4, 4).
    use wgan_gpu::nn::{ResidualSpec, Upsampling};
    let conv = |out, kernel: usize| L::Conv2d { out, kernel, stride: 1, pad: kernel / 2, bias: true };
    let up = ResidualSpec {
        main: vec![
            L::Upsample { mode: Upsampling::Nearest },
            conv(4, 3),
            L::BatchNorm { momentum: 0.1, eps: 1e-5 },
            L::Activation { f: Activation::Relu },
            conv(4, 3),
        ],
        shortcut: vec![L::Upsample { mode: Upsampling::Bilinear }, conv(4, 1)],
    };
    let identity = ResidualSpec { main: vec![L::Activation { f: Activation::Relu }, conv(4, 3)], shortcut: vec![] };
    let (z_dim, n) = (6, 5);
    let spec = NetSpec {
        input: Shape(z_dim, 1, 1),
        layers: vec![
            L::Linear { out: 12, bias: true },
            L::Reshape { to: Shape(3, 2, 2) },
            L::Residual(up),
            L::Residual(identity),
            L::AvgPool,
            L::Upsample { mode: Upsampling::Bilinear },
            conv(2, 3),
            L::Activation { f: Activation::Tanh },
        ],
        spectral_norm: false,
    };
    let mut rng = Rng::new(13);
    let (ckpt, _, mut ema) = checkpoint(&spec, &DataInfo::default(), &mut rng);
    let z = rng.vec(n * z_dim, -2.0, 2.0);
    let got = run_onnx(&onnx_model(&ckpt, Path::new("t"), false).unwrap(), &[(&z, z_dim)], n);
    assert_eq!(got.len(), n * 2 * 4 * 4);
    assert_close("ONNX vs CPU, residual blocks", &got, &forward(&mut ema, &z), 1e-5, 1e-4);
}

#[test]
fn pixel_norm_generator_matches() {
    // ProGAN's G in small: z → pixel norm → Linear → pixel norm (flat) → LeakyReLU → (3, 4, 4) →
    // nearest 2× → conv → LeakyReLU → pixel norm → 1×1 conv: (2, 8, 8).
    use wgan_gpu::nn::Upsampling;
    let pixel_norm = L::PixelNorm { eps: 1e-8 };
    let lrelu = L::Activation { f: Activation::LeakyRelu(0.2) };
    let (z_dim, n) = (6, 5);
    let spec = NetSpec {
        input: Shape(z_dim, 1, 1),
        layers: vec![
            pixel_norm.clone(),
            L::Linear { out: 48, bias: true },
            pixel_norm.clone(),
            lrelu.clone(),
            L::Reshape { to: Shape(3, 4, 4) },
            L::Upsample { mode: Upsampling::Nearest },
            L::Conv2d { out: 4, kernel: 3, stride: 1, pad: 1, bias: true },
            lrelu,
            pixel_norm,
            L::Conv2d { out: 2, kernel: 1, stride: 1, pad: 0, bias: true },
        ],
        spectral_norm: false,
    };
    let mut rng = Rng::new(14);
    let (ckpt, _, mut ema) = checkpoint(&spec, &DataInfo::default(), &mut rng);
    let z = rng.vec(n * z_dim, -2.0, 2.0);
    let got = run_onnx(&onnx_model(&ckpt, Path::new("t"), false).unwrap(), &[(&z, z_dim)], n);
    assert_eq!(got.len(), n * 2 * 8 * 8);
    assert_close("ONNX vs CPU, pixel norm", &got, &forward(&mut ema, &z), 1e-5, 1e-4);

    // D's minibatch stddev has no ONNX nodes: refused by name.
    let stddev = NetSpec { input: Shape(2, 2, 2), layers: vec![L::MinibatchStddev], spectral_norm: false };
    let (ckpt, _, _) = checkpoint(&stddev, &DataInfo::default(), &mut rng);
    let err = onnx_model(&ckpt, Path::new("t"), false).expect_err("refused").to_string();
    assert!(err.contains("MinibatchStddev"), "{err}");
}
