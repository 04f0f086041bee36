//! Blocks built from the public API: a residual block (upsampling main path, 1×1 shortcut), a
//! residual block with the identity shortcut, a blend of two paths, upsampling and pooling,
//! progressive growing's pixel norm and minibatch stddev. Their gradients against central
//! differences (CPU reference), and whole forward and backward passes GPU against CPU, with and
//! without spectral norm, at several blend weights; the layers a gradient penalty refuses.

mod common;

use common::{Rng, assert_close, gpu};
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::nn::{BlendSpec, LayerSpec, Net, NetSpec, ResidualSpec, Shape, Upsampling};
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::{Backend, Tensor};

fn conv(out: usize, kernel: usize) -> LayerSpec {
    LayerSpec::Conv2d { out, kernel, stride: 1, pad: kernel / 2, bias: true }
}

fn act(f: Activation) -> LayerSpec {
    LayerSpec::Activation { f }
}

/// [3, 5, 4] → a conv, a residual up-block, a blend of a pooled-and-upsampled path with a conv,
/// an identity residual, a pooling and a linear head.
fn spec(f: Activation) -> NetSpec {
    spec_with(f, LayerSpec::Linear { out: 2, bias: true })
}

/// [`spec`] with a projection discriminator's head (a logit, told one of 3 classes) for the linear.
fn projection_spec(f: Activation) -> NetSpec {
    spec_with(f, LayerSpec::Projection { classes: 3 })
}

/// Each sample's class, written to the network's label input where it has one.
fn write_labels<B: Backend>(b: &mut B, net: &Net<B>) {
    if let Some(labels) = net.labels() {
        let l: Vec<f32> = (0..net.batch).map(|i| ((i * 2) % 3) as f32).collect();
        b.write(labels, &l).unwrap();
    }
}

/// Progressive growing's layers in one small network: z-like flat input [6] → pixel norm → a
/// linear layer → (4, 3, 3) → pixel norm → nearest 2× → conv → pixel norm → minibatch stddev
/// (5, 6, 6) → conv → pooling → a linear head.
fn progan_spec(f: Activation) -> NetSpec {
    let pixel_norm = LayerSpec::PixelNorm { eps: 1e-8 };
    NetSpec {
        input: Shape(6, 1, 1),
        layers: vec![
            pixel_norm.clone(),
            LayerSpec::Linear { out: 36, bias: true },
            act(f),
            LayerSpec::Reshape { to: Shape(4, 3, 3) },
            pixel_norm.clone(),
            LayerSpec::Upsample { mode: Upsampling::Nearest },
            conv(4, 3),
            act(f),
            pixel_norm,
            LayerSpec::MinibatchStddev,
            conv(3, 3),
            act(f),
            LayerSpec::AvgPool,
            LayerSpec::Linear { out: 2, bias: true },
        ],
        spectral_norm: false,
    }
}

fn spec_with(f: Activation, head: LayerSpec) -> NetSpec {
    let up = ResidualSpec {
        main: vec![conv(4, 3), act(f), LayerSpec::Upsample { mode: Upsampling::Nearest }, conv(5, 3)],
        shortcut: vec![LayerSpec::Upsample { mode: Upsampling::Bilinear }, conv(5, 1)],
    };
    let blend = BlendSpec {
        a: vec![LayerSpec::AvgPool, LayerSpec::Upsample { mode: Upsampling::Bilinear }],
        b: vec![conv(5, 3), act(f)],
    };
    let identity = ResidualSpec { main: vec![act(f), conv(5, 3)], shortcut: vec![] };
    NetSpec {
        input: Shape(3, 5, 4),
        layers: vec![
            conv(4, 3),
            act(f),
            LayerSpec::Residual(up),
            LayerSpec::Blend(blend),
            LayerSpec::Residual(identity),
            LayerSpec::AvgPool,
            act(f),
            head,
        ],
        spectral_norm: false,
    }
}

#[test]
fn blocks_have_shapes_and_path_names() {
    let s = spec(Activation::Tanh);
    let shapes = s.shapes().unwrap();
    assert_eq!(shapes[2], Shape(5, 10, 8));
    assert_eq!(s.output().unwrap(), Shape(2, 1, 1));
    let mut b = CpuBackend;
    let net = Net::new(&mut b, &s, 2).unwrap();
    let names: Vec<_> = net.named_tensors().into_iter().map(|(n, shape, _)| (n, shape)).collect();
    for (name, shape) in [
        ("2.main.0.weight", vec![4, 4, 3, 3]),
        ("2.shortcut.1.weight", vec![5, 4, 1, 1]),
        ("3.b.0.bias", vec![5]),
        ("4.main.1.weight", vec![5, 5, 3, 3]),
        ("7.weight", vec![2, 5 * 5 * 4]),
    ] {
        assert!(names.contains(&(name.to_string(), shape.clone())), "no {name} {shape:?} in {names:?}");
    }
    let mismatched = ResidualSpec { main: vec![conv(6, 3)], shortcut: vec![] };
    let bad = NetSpec { input: Shape(3, 4, 4), layers: vec![LayerSpec::Residual(mismatched)], spectral_norm: false };
    let err = bad.shapes().unwrap_err().to_string();
    assert!(err.contains("residual block 0"), "{err}");
}

/// Σ r · D(x) and its gradients with respect to every parameter and to x.
fn loss_and_grads(b: &mut CpuBackend, net: &mut Net<CpuBackend>, x: &[f32], r: &[f32]) -> (f32, Vec<f32>, Vec<f32>) {
    let x = b.upload(x).unwrap();
    let dx = b.alloc(x.len()).unwrap();
    write_labels(b, net);
    net.forward(b, &x, true, 3, 0).unwrap();
    let out = b.read(net.output()).unwrap();
    let loss = out.iter().zip(r).map(|(o, r)| o * r).sum();
    let dout = net.output_grad().clone();
    b.write(&dout, r).unwrap();
    b.zero(&net.grads).unwrap();
    net.backward(b, &x, Some(&dx), true).unwrap();
    (loss, b.read(&net.grads).unwrap(), b.read(&dx).unwrap())
}

#[test]
fn block_gradients_match_finite_differences() {
    for s in [spec(Activation::Tanh), projection_spec(Activation::Tanh)] {
        gradients_match_finite_differences(&s, 2);
    }
}

#[test]
fn pixel_norm_and_minibatch_stddev_gradients_match_finite_differences() {
    let s = progan_spec(Activation::Tanh);
    assert_eq!(s.shapes().unwrap()[9], Shape(5, 6, 6));
    // Three samples: with two, a feature's deviation is |a − b| / 2, whose kink a step of the
    // finite differences could straddle.
    gradients_match_finite_differences(&s, 3);
}

#[test]
fn pixel_norm_and_minibatch_stddev_refuse_a_gradient_penalty() {
    let mut b = CpuBackend;
    let lrelu = act(Activation::LeakyRelu(0.2));
    let stddev = NetSpec {
        input: Shape(2, 3, 3),
        layers: vec![conv(3, 3), lrelu, LayerSpec::MinibatchStddev, LayerSpec::Linear { out: 1, bias: true }],
        spectral_norm: false,
    };
    for (s, name) in [(progan_spec(Activation::LeakyRelu(0.2)), "pixel norm"), (stddev, "minibatch stddev")] {
        let mut net = Net::new(&mut b, &s, 3).unwrap();
        let err = net.enable_input_grad_backward(&mut b).expect_err("refused").to_string();
        assert!(err.contains(name) && err.contains("gradient penalty"), "{err}");
    }
}

fn gradients_match_finite_differences(s: &NetSpec, n: usize) {
    let mut b = CpuBackend;
    let outputs = s.output().unwrap().size();
    let mut net = Net::new(&mut b, s, n).unwrap();
    net.init(&mut b, 7).unwrap();
    net.set_blend(0.3);
    let mut rng = Rng::new(3);
    let x = rng.vec(n * s.input.size(), -1.0, 1.0);
    let r = rng.vec(n * outputs, -1.0, 1.0);
    let (_, grads, dx) = loss_and_grads(&mut b, &mut net, &x, &r);
    let base = b.read(&net.params).unwrap();
    let params = net.params.clone();
    let h = 1e-2;
    let close = |what: &str, numeric: f32, analytic: f32| {
        let tol = 2e-4 + 2e-2 * numeric.abs().max(analytic.abs());
        assert!((numeric - analytic).abs() <= tol, "{what}: numeric {numeric:e}, analytic {analytic:e}");
    };
    for info in net.param_infos.clone() {
        for k in [0, info.len / 2, info.len - 1] {
            let i = info.offset + k;
            let mut p = base.clone();
            p[i] += h;
            b.write(&params, &p).unwrap();
            let up = loss_and_grads(&mut b, &mut net, &x, &r).0;
            p[i] -= 2.0 * h;
            b.write(&params, &p).unwrap();
            let down = loss_and_grads(&mut b, &mut net, &x, &r).0;
            close(&format!("{}[{k}]", info.name), (up - down) / (2.0 * h), grads[i]);
        }
    }
    b.write(&params, &base).unwrap();
    for i in [0, 17, x.len() / 2, x.len() - 1] {
        let mut q = x.clone();
        q[i] += h;
        let up = loss_and_grads(&mut b, &mut net, &q, &r).0;
        q[i] -= 2.0 * h;
        let down = loss_and_grads(&mut b, &mut net, &q, &r).0;
        close(&format!("x[{i}]"), (up - down) / (2.0 * h), dx[i]);
    }
}

/// Output, input gradient, parameter gradients and spectral-norm state after a forward and
/// backward pass on backend `b`.
fn pass<B: Backend>(b: &mut B, s: &NetSpec, alpha: f32, x: &[f32], r: &[f32]) -> Vec<(&'static str, Vec<f32>)> {
    let mut net = Net::new(b, s, 3).unwrap();
    net.init(b, 11).unwrap();
    net.set_blend(alpha);
    let xt = b.upload(x).unwrap();
    let dx = b.alloc(x.len()).unwrap();
    write_labels(b, &net);
    net.normalise_weights(b).unwrap();
    net.forward(b, &xt, true, 5, 0).unwrap();
    let dout = net.output_grad().clone();
    b.write(&dout, r).unwrap();
    net.backward(b, &xt, Some(&dx), true).unwrap();
    net.spectral_backward(b).unwrap();
    vec![
        ("output", b.read(net.output()).unwrap()),
        ("dx", b.read(&dx).unwrap()),
        ("grads", b.read(&net.grads).unwrap()),
        ("spectral", b.read(&net.spectral_state).unwrap()),
    ]
}

#[test]
fn blocks_on_the_gpu_equal_the_cpu() {
    let Some(mut g) = gpu() else { return };
    let mut rng = Rng::new(5);
    let lrelu = Activation::LeakyRelu(0.2);
    for (spectral_norm, alpha, s) in [
        (false, 0.0, spec(lrelu)),
        (false, 0.6, spec(lrelu)),
        (true, 1.0, spec(lrelu)),
        (true, 0.4, projection_spec(lrelu)),
        (false, 0.0, progan_spec(lrelu)),
        (true, 0.0, progan_spec(lrelu)),
    ] {
        let s = NetSpec { spectral_norm, ..s };
        let x = rng.vec(3 * s.input.size(), -1.0, 1.0);
        let r = rng.vec(3 * s.output().unwrap().size(), -1.0, 1.0);
        let want = pass(&mut CpuBackend, &s, alpha, &x, &r);
        let got = pass(&mut g, &s, alpha, &x, &r);
        for ((what, got), (_, want)) in got.iter().zip(&want) {
            assert_close(&format!("sn {spectral_norm} alpha {alpha}: {what}"), got, want, 1e-5, 1e-4);
        }
    }
}
