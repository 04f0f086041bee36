//! Every op, forward and every gradient: GPU against the CPU reference on random shapes (several
//! not multiples of the workgroup size), |gpu − cpu| <= atol + rtol·|cpu|, worst elements printed.
//! Also: optimizer steps, determinism, and the errors bad shapes and oversized buffers give.
// gpu_vs_cpu! runs its body inside a closure so that the body can use `?`.
#![allow(clippy::redundant_closure_call)]

mod common;

use common::{Rng, assert_close, gpu};
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::ops::Weighted;
use wgan_gpu::ops::activation::Activation;
use wgan_gpu::ops::adam::AdamStep;
use wgan_gpu::ops::batch_norm::{BatchNorm, BatchNormState};
use wgan_gpu::ops::conv_transpose2d::ConvTranspose2d;
use wgan_gpu::ops::conv2d::Conv2d;
use wgan_gpu::ops::dropout::Dropout;
use wgan_gpu::ops::linear::Linear;
use wgan_gpu::ops::random::Distribution;
use wgan_gpu::ops::reduce::ChannelSum;
use wgan_gpu::ops::sgd::SgdStep;
use wgan_gpu::{Backend, Error, Grads, Tensor};

/// Uploads the named tensors to the CPU reference and to the GPU, runs the same body on each,
/// then compares every tensor (outputs, and inputs that must be left unchanged). `kernel`, where
/// given and Some, selects the GPU's GEMM kernel.
macro_rules! gpu_vs_cpu {
    ($what:expr, $tol:expr, $tensors:expr, |$b:ident, $t:ident| $body:block $(, kernel = $kernel:expr)?) => {{
        let what: String = $what.into();
        let tensors: Vec<(&str, Vec<f32>)> = $tensors;
        let (atol, rtol): (f32, f32) = $tol;
        let want = {
            let mut cpu = CpuBackend;
            let $b = &mut cpu;
            let $t: Vec<_> = tensors.iter().map(|(_, v)| $b.upload(v).unwrap()).collect();
            let r: wgan_gpu::Result<()> = (|| $body)();
            r.unwrap_or_else(|e| panic!("{what} on CPU: {e}"));
            $t.iter().map(|x| $b.read(x).unwrap()).collect::<Vec<_>>()
        };
        if let Some(mut gpu) = gpu() {
            let $b = &mut gpu;
            $(if let Some(kernel) = $kernel {
                $b.set_gemm_kernel(kernel);
            })?
            let $t: Vec<_> = tensors.iter().map(|(_, v)| $b.upload(v).unwrap()).collect();
            let r: wgan_gpu::Result<()> = (|| $body)();
            r.unwrap_or_else(|e| panic!("{what} on GPU: {e}"));
            for (i, x) in $t.iter().enumerate() {
                let got = $b.read(x).unwrap();
                assert_close(&format!("{what}: {}", tensors[i].0), &got, &want[i], atol, rtol);
            }
        }
    }};
}

#[test]
fn linear_forward_and_gradients() {
    let mut rng = Rng::new(1);
    let mut shapes = vec![(1, 1, 1), (64, 100, 1), (37, 257, 65)];
    for _ in 0..3 {
        shapes.push((rng.int(1, 70), rng.int(1, 300), rng.int(1, 90)));
    }
    for (i, &(batch, in_features, out_features)) in shapes.iter().enumerate() {
        let s = Linear { batch, in_features, out_features };
        let with_bias = i % 3 != 1;
        let sizes = [batch * in_features, out_features * in_features, out_features, batch * out_features];
        weighted_vs_cpu("linear", &s, sizes, with_bias, 1e-5, None, &mut rng);
    }
}

/// A weighted op's forward and its three gradients (the bias and db only `with_bias`), GPU
/// against CPU with `sizes` = the lengths of x, w, b and y, under `kernel` where given.
fn weighted_vs_cpu<S: Weighted + std::fmt::Debug>(
    name: &str,
    s: &S,
    [xn, wn, bn, yn]: [usize; 4],
    with_bias: bool,
    atol: f32,
    kernel: Option<wgan_gpu::gpu::GemmKernel>,
    rng: &mut Rng,
) {
    let on = kernel.map_or(String::new(), |k| format!(" {k:?}"));
    gpu_vs_cpu!(
        format!("{name} {s:?} bias={with_bias}{on}"),
        (atol, 1e-4),
        vec![
            ("x", rng.vec(xn, -1.0, 1.0)),
            ("w", rng.vec(wn, -1.0, 1.0)),
            ("b", rng.vec(bn, -1.0, 1.0)),
            ("y", vec![0.0; yn]),
            ("dy", rng.vec(yn, -1.0, 1.0)),
            ("dx", rng.vec(xn, -9.0, 9.0)),
            ("dw", rng.vec(wn, -1.0, 1.0)),
            ("db", rng.vec(bn, -1.0, 1.0)),
        ],
        |b, t| {
            wgan_gpu::ops::weighted::forward(b, s, &t[0], &t[1], with_bias.then_some(&t[2]), &t[3])?;
            let g = Grads { dx: Some(&t[5]), dw: Some(&t[6]), db: with_bias.then_some(&t[7]) };
            wgan_gpu::ops::weighted::backward(b, s, &t[0], &t[1], &t[4], g)
        },
        kernel = kernel
    );
}

/// The GEMM kernels whose convolution paths differ: the subgroup one runs them as implicit GEMMs,
/// the others as im2col + GEMM (+ col2im), row by row for the register tiles (CPU adapters) and
/// one invocation per vec4 or element for the shared tiles (GPUs).
const CONV_KERNELS: [wgan_gpu::gpu::GemmKernel; 3] =
    [wgan_gpu::gpu::GemmKernel::Subgroup, wgan_gpu::gpu::GemmKernel::Registers, wgan_gpu::gpu::GemmKernel::Shared];

/// [`weighted_vs_cpu`] for a convolution under each of [`CONV_KERNELS`]: the implicit GEMMs
/// (subgroup kernel, CPU adapters) and im2col + GEMM (the others).
fn conv_vs_cpu<S: Weighted + std::fmt::Debug>(
    name: &str,
    s: &S,
    sizes: [usize; 4],
    with_bias: bool,
    atol: f32,
    rng: &mut Rng,
) {
    for kernel in CONV_KERNELS {
        weighted_vs_cpu(name, s, sizes, with_bias, atol, Some(kernel), rng);
    }
}

/// Draws shapes until one is valid.
fn first_valid<S>(rng: &mut Rng, draw: impl Fn(&mut Rng) -> S, valid: impl Fn(&S) -> bool) -> S {
    loop {
        let s = draw(rng);
        if valid(&s) {
            return s;
        }
    }
}

/// The absolute tolerance for sums of products of values in [−1, 1], the longest `lens` long:
/// float rounding grows with the square root of the length (1e-5 up to 64 terms), and a result
/// near zero after cancellation keeps the error of its large terms, which the relative part
/// cannot cover.
fn sum_atol(lens: &[usize]) -> f32 {
    let longest = lens.iter().copied().max().unwrap_or(1) as f32;
    1e-5 * (longest / 64.0).sqrt().max(1.0)
}

fn random_conv(rng: &mut Rng) -> Conv2d {
    let draw = |rng: &mut Rng| Conv2d {
        n: rng.int(1, 3),
        c: rng.int(1, 5),
        h: rng.int(1, 13),
        w: rng.int(1, 13),
        k: rng.int(1, 6),
        kh: rng.int(1, 5),
        kw: rng.int(1, 5),
        stride: rng.int(1, 3),
        pad: rng.int(0, 2),
    };
    first_valid(rng, draw, |s| s.validate().is_ok())
}

#[test]
fn conv2d_forward_and_gradients() {
    let mut rng = Rng::new(2);
    // The DCGAN discriminator's layers (smaller batch), then random shapes.
    let mut shapes = vec![
        Conv2d { n: 3, c: 1, h: 28, w: 28, k: 64, kh: 4, kw: 4, stride: 2, pad: 1 },
        Conv2d { n: 2, c: 64, h: 14, w: 14, k: 128, kh: 4, kw: 4, stride: 2, pad: 1 },
        // Narrow (few output channels, direct kernels): the Keras generator's last layer on a
        // smaller image (dw sums n·oh·ow products; the tolerance is for short sums), then
        // odd widths and strides.
        Conv2d { n: 2, c: 128, h: 9, w: 10, k: 1, kh: 7, kw: 7, stride: 1, pad: 3 },
        Conv2d { n: 3, c: 9, h: 11, w: 13, k: 3, kh: 3, kw: 5, stride: 2, pad: 2 },
        Conv2d { n: 2, c: 7, h: 10, w: 9, k: 2, kh: 4, kw: 3, stride: 3, pad: 1 },
        // Too wide for the kernels' 16-float row window (3·stride + kw > 16).
        Conv2d { n: 2, c: 8, h: 12, w: 23, k: 2, kh: 3, kw: 9, stride: 3, pad: 2 },
        // The input gradient as stride-phase products (CPU adapters), at odd sizes.
        Conv2d { n: 2, c: 16, h: 11, w: 10, k: 8, kh: 6, kw: 3, stride: 3, pad: 2 },
    ];
    assert!(shapes[2..6].iter().all(Conv2d::narrow));
    for _ in 0..4 {
        shapes.push(random_conv(&mut rng));
    }
    for (i, s) in shapes.iter().enumerate() {
        let (oh, ow) = s.out_hw();
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.k * s.c * s.kh * s.kw, s.n * s.k * oh * ow);
        let with_bias = i % 2 == 0;
        let atol = sum_atol(&[s.c * s.kh * s.kw, s.k * s.kh * s.kw, s.n * oh * ow]);
        conv_vs_cpu("conv2d", s, [xn, wn, s.k, yn], with_bias, atol, &mut rng);
    }
}

fn random_conv_transpose(rng: &mut Rng) -> ConvTranspose2d {
    let draw = |rng: &mut Rng| {
        let stride = rng.int(1, 3);
        let kh = rng.int(1, 5);
        ConvTranspose2d {
            n: rng.int(1, 3),
            c: rng.int(1, 5),
            h: rng.int(1, 9),
            w: rng.int(1, 9),
            k: rng.int(1, 6),
            kh,
            kw: rng.int(1, 5),
            stride,
            pad: rng.int(0, kh - 1),
            output_padding: rng.int(0, stride - 1),
        }
    };
    first_valid(rng, draw, |s| s.validate().is_ok())
}

#[test]
fn conv_transpose2d_forward_and_gradients() {
    let mut rng = Rng::new(3);
    // The DCGAN generator's upsampling layers (smaller batch and width), then random shapes.
    let mut shapes = vec![
        ConvTranspose2d { n: 2, c: 128, h: 7, w: 7, k: 64, kh: 4, kw: 4, stride: 2, pad: 1, output_padding: 0 },
        ConvTranspose2d { n: 3, c: 64, h: 14, w: 14, k: 1, kh: 4, kw: 4, stride: 2, pad: 1, output_padding: 0 },
        ConvTranspose2d { n: 2, c: 3, h: 7, w: 7, k: 2, kh: 3, kw: 3, stride: 2, pad: 1, output_padding: 1 },
        // Stride-phase products (CPU adapters) whose phases differ in taps (2 or 1 rows of 5) and
        // whose outputs are odd.
        ConvTranspose2d { n: 2, c: 8, h: 5, w: 6, k: 16, kh: 5, kw: 3, stride: 3, pad: 1, output_padding: 1 },
    ];
    for _ in 0..4 {
        shapes.push(random_conv_transpose(&mut rng));
    }
    for (i, s) in shapes.iter().enumerate() {
        let (oh, ow) = s.out_hw();
        let (xn, wn, yn) = (s.n * s.c * s.h * s.w, s.c * s.k * s.kh * s.kw, s.n * s.k * oh * ow);
        let with_bias = i % 2 == 1;
        let atol = sum_atol(&[s.c * s.kh * s.kw, s.k * s.kh * s.kw, s.n * s.h * s.w]);
        conv_vs_cpu("conv_transpose2d", s, [xn, wn, s.k, yn], with_bias, atol, &mut rng);
    }
}

#[test]
fn activations_forward_and_backward() {
    let mut rng = Rng::new(4);
    let kinds = [Activation::Relu, Activation::LeakyRelu(0.2), Activation::Sigmoid, Activation::Tanh];
    for a in kinds {
        // Lengths that are and are not multiples of 4 (the vec4 entries).
        for n in [1, 255, 1028, 1000 + rng.int(0, 3000)] {
            let mut x = rng.vec(n, -6.0, 6.0);
            // Saturated inputs must give ±1 / 0 / 1, never NaN.
            x[0] = 100.0;
            if n > 1 {
                x[1] = -100.0;
            }
            gpu_vs_cpu!(
                format!("activation {a:?} n={n}"),
                (1e-6, 1e-5),
                vec![("x", x), ("y", vec![0.0; n]), ("dy", rng.vec(n, -1.0, 1.0)), ("dx", vec![7.0; n])],
                |b, t| {
                    wgan_gpu::ops::activation::forward(b, a, &t[0], &t[1])?;
                    wgan_gpu::ops::activation::backward(b, a, &t[1], &t[2], &t[3])
                }
            );
        }
    }
}

#[test]
fn losses_forward_backward_and_mean() {
    let mut rng = Rng::new(5);
    for n in [1, 64, 300 + rng.int(0, 700)] {
        let mut z = rng.vec(n, -10.0, 10.0);
        // Far past where a naive log(sigmoid) overflows.
        z[0] = 95.0;
        if n > 1 {
            z[1] = -120.0;
        }
        let targets = rng.vec(n, 0.0, 1.0);
        for (loss, scale) in [("bce_with_logits", 1.0f32), ("bce_with_logits", -1.0), ("mse", 0.5)] {
            gpu_vs_cpu!(
                format!("{loss} n={n} scale={scale}"),
                (1e-5, 1e-5),
                vec![
                    ("z", z.clone()),
                    ("t", targets.clone()),
                    ("loss", vec![0.0; n]),
                    ("dz", vec![0.0; n]),
                    ("mean", vec![0.0])
                ],
                |b, t| {
                    if loss == "mse" {
                        wgan_gpu::ops::mse::LOSS.forward(b, &t[0], &t[1], &t[2])?;
                        wgan_gpu::ops::mse::LOSS.backward(b, &t[0], &t[1], &t[3], scale)?;
                    } else {
                        wgan_gpu::ops::bce_with_logits::LOSS.forward(b, &t[0], &t[1], &t[2])?;
                        wgan_gpu::ops::bce_with_logits::LOSS.backward(b, &t[0], &t[1], &t[3], scale)?;
                    }
                    wgan_gpu::ops::reduce::sum(b, &t[2], &t[4], 1.0 / n as f32)
                }
            );
        }
    }
}

#[test]
fn softmax_cross_entropy_forward_backward_and_probs() {
    use wgan_gpu::ops::softmax_cross_entropy::SoftmaxCrossEntropy;
    let mut rng = Rng::new(22);
    for (n, k) in [(1, 1), (5, 10), (300, 10), (37, 3)] {
        let s = SoftmaxCrossEntropy { n, k };
        let mut z = rng.vec(n * k, -8.0, 8.0);
        // Far past where exp overflows without the max subtracted.
        z[0] = 120.0;
        let labels: Vec<f32> = (0..n).map(|i| (i % k) as f32).collect();
        gpu_vs_cpu!(
            format!("softmax_cross_entropy {s:?}"),
            (1e-5, 1e-4),
            vec![
                ("z", z.clone()),
                ("label", labels),
                ("loss", vec![0.0; n]),
                ("dz", vec![0.0; n * k]),
                ("p", vec![0.0; n * k]),
            ],
            |b, t| {
                wgan_gpu::ops::softmax_cross_entropy::forward(b, &s, &t[0], &t[1], &t[2])?;
                wgan_gpu::ops::softmax_cross_entropy::backward(b, &s, &t[0], &t[1], &t[3], 0.5)?;
                wgan_gpu::ops::softmax_cross_entropy::probs(b, &s, &t[0], &t[4])
            }
        );
    }
}

#[test]
fn reductions() {
    let mut rng = Rng::new(6);
    for n in [1, 256, 257, 100_003] {
        gpu_vs_cpu!(
            format!("sum n={n}"),
            (1e-4, 1e-5),
            vec![("x", rng.vec(n, -1.0, 1.0)), ("out", vec![0.0])],
            |b, t| { wgan_gpu::ops::reduce::sum(b, &t[0], &t[1], 0.5) }
        );
        // 100003 positive terms: the reference's running sum rounds by ~1e-5 of the total.
        gpu_vs_cpu!(
            format!("sum_squares n={n}"),
            (1e-4, 1e-4),
            vec![("x", rng.vec(n, -1.0, 1.0)), ("out", vec![0.0])],
            |b, t| { wgan_gpu::ops::reduce::sum_squares(b, &t[0], &t[1], 0.5) }
        );
    }
    // The last shape is long enough per channel to take the two-pass path.
    let mut shapes: Vec<ChannelSum> =
        (0..4).map(|_| ChannelSum { n: rng.int(1, 70), channels: rng.int(1, 300), spatial: rng.int(1, 50) }).collect();
    shapes.push(ChannelSum { n: 67, channels: 3, spatial: 61 });
    for s in shapes {
        for accumulate in [false, true] {
            gpu_vs_cpu!(
                format!("sum_channels {s:?} accumulate={accumulate}"),
                (1e-4, 1e-5),
                vec![("x", rng.vec(s.n * s.channels * s.spatial, -1.0, 1.0)), ("out", rng.vec(s.channels, -1.0, 1.0))],
                |b, t| { wgan_gpu::ops::reduce::sum_channels(b, &s, &t[0], &t[1], accumulate) }
            );
        }
    }
}

#[test]
fn batch_norm_train_eval_and_gradients() {
    let mut rng = Rng::new(7);
    // Both reductions: one invocation per channel (n·spatial <= 256) and one workgroup per channel.
    let mut shapes = vec![(64, 128, 1), (5, 64, 49), (3, 1, 300), (16, 700, 1), (300, 3, 1), (7, 5, 100)];
    for _ in 0..3 {
        shapes.push((rng.int(2, 40), rng.int(1, 70), rng.int(1, 60)));
    }
    for (n, c, spatial) in shapes {
        let s = BatchNorm { n, c, spatial, eps: 1e-5, momentum: 0.1 };
        let len = n * c * spatial;
        let mut running = rng.vec(c, -0.5, 0.5);
        running.extend(rng.vec(c, 0.5, 2.0));
        gpu_vs_cpu!(
            format!("batch_norm {s:?}"),
            (2e-5, 2e-4),
            vec![
                ("x", rng.vec(len, -2.0, 3.0)),
                ("gamma", rng.vec(c, 0.5, 1.5)),
                ("beta", rng.vec(c, -0.5, 0.5)),
                ("running", running),
                ("saved", vec![0.0; 2 * c]),
                ("y", vec![0.0; len]),
                ("dy", rng.vec(len, -1.0, 1.0)),
                ("dx", vec![5.0; len]),
                ("dgamma", rng.vec(c, -1.0, 1.0)),
                ("dbeta", rng.vec(c, -1.0, 1.0)),
                ("y_eval", vec![0.0; len]),
                ("saved_eval", vec![0.0; 2 * c]),
            ],
            |b, t| {
                let st = BatchNormState { gamma: &t[1], beta: &t[2], running: &t[3], saved: &t[4] };
                wgan_gpu::ops::batch_norm::forward(b, &s, &t[0], &st, &t[5], true)?;
                wgan_gpu::ops::batch_norm::backward(b, &s, &t[0], &t[1], &t[4], &t[6], (&t[7], &t[8], &t[9]))?;
                let ev = BatchNormState { saved: &t[11], ..st };
                wgan_gpu::ops::batch_norm::forward(b, &s, &t[0], &ev, &t[10], false)
            }
        );
    }
}

#[test]
fn dropout_forward_backward_and_rate() {
    let mut rng = Rng::new(8);
    for (n, prob) in [(1, 0.5f32), (1000, 0.3), (40_001, 0.5)] {
        let s = Dropout { prob, seed: 0xDEAD_BEEF_1234, offset: (1 << 32) - 7 };
        let x: Vec<f32> = rng.vec(n, 0.5, 1.5);
        gpu_vs_cpu!(
            format!("dropout n={n} p={prob}"),
            (0.0, 1e-6),
            vec![("x", x.clone()), ("y", vec![0.0; n]), ("dy", rng.vec(n, -1.0, 1.0)), ("dx", vec![3.0; n])],
            |b, t| {
                wgan_gpu::ops::dropout::apply(b, &s, &t[0], &t[1])?;
                wgan_gpu::ops::dropout::apply(b, &s, &t[2], &t[3])
            }
        );
        if n > 10_000 {
            let mut cpu = CpuBackend;
            let (xt, yt) = (cpu.upload(&x).unwrap(), cpu.alloc(n).unwrap());
            wgan_gpu::ops::dropout::apply(&mut cpu, &s, &xt, &yt).unwrap();
            let kept = cpu.read(&yt).unwrap().iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
            assert!((kept - (1.0 - prob as f64)).abs() < 0.01, "kept fraction {kept}");
        }
    }
}

#[test]
fn resample_forward_and_backward() {
    use wgan_gpu::ops::resample::{Resample, ResampleKind};
    let mut rng = Rng::new(41);
    for kind in [ResampleKind::Nearest, ResampleKind::Bilinear, ResampleKind::AvgPool] {
        for (n, c, h, w) in [(1, 1, 1, 1), (3, 5, 7, 6), (2, 19, 9, 13), (4, 3, 32, 31)] {
            let s = Resample { kind, n, c, h, w };
            let (ho, wo) = s.output();
            if ho == 0 || wo == 0 {
                continue;
            }
            let (lx, ly) = (n * c * h * w, n * c * ho * wo);
            gpu_vs_cpu!(
                format!("{s:?}"),
                (1e-6, 1e-5),
                vec![
                    ("x", rng.vec(lx, -1.0, 1.0)),
                    ("y", vec![f32::NAN; ly]),
                    ("dy", rng.vec(ly, -1.0, 1.0)),
                    ("dx", vec![f32::NAN; lx])
                ],
                |b, t| {
                    wgan_gpu::ops::resample::forward(b, &s, &t[0], &t[1])?;
                    wgan_gpu::ops::resample::backward(b, &s, &t[2], &t[3])
                }
            );
        }
    }
}

#[test]
fn augment_forward_and_backward() {
    use wgan_gpu::ops::augment::{Adjust, Augment, DRAWS, Policy, Scratch, adjust, backward, forward};
    let mut rng = Rng::new(43);
    for (n, c, h, w) in [(1, 1, 1, 1), (5, 3, 9, 7), (16, 3, 64, 64), (3, 4, 28, 28)] {
        for (color, translation, cutout, p) in
            [(false, true, false, 1.0), (false, false, true, 1.0), (true, true, true, 1.0), (true, true, true, 0.4)]
        {
            let policy = Policy { color, translation, cutout };
            let s = Augment::new(policy, (n, c, h, w), 0xABCD_0123_4567 + n as u64);
            let len = n * c * h * w;
            // Colour sums each sample (up to 12288 values) in another order on each backend.
            let tol = if color { (1e-3, 1e-4) } else { (0.0, 0.0) };
            gpu_vs_cpu!(
                format!("{s:?} p {p}"),
                tol,
                vec![
                    ("x", rng.vec(len, -1.0, 1.0)),
                    ("y", vec![f32::NAN; len]),
                    ("dy", rng.vec(len, -1.0, 1.0)),
                    ("dx", vec![f32::NAN; len]),
                    ("mid", vec![0.0; len]),
                    ("sums", vec![0.0; n]),
                    ("draws", vec![f32::NAN; n * DRAWS]),
                    ("p", vec![p])
                ],
                |b, t| {
                    let scratch = || Scratch { mid: &t[4], sums: &t[5], draws: &t[6], p: &t[7] };
                    forward(b, &s, &t[0], scratch(), &t[1])?;
                    backward(b, &s, &t[2], scratch(), &t[3])
                }
            );
        }
    }
    // ADA's controller, from logits of either sign (and exact zeros) around its target.
    for (n, p) in [(1, 0.0), (16, 0.5), (33, 0.999), (300, 1.0)] {
        let mut logits = rng.vec(n, -1.0, 1.3);
        logits[0] = 0.0;
        let s = Adjust { n, target: 0.6, step: 0.01 };
        gpu_vs_cpu!(format!("{s:?}"), (0.0, 0.0), vec![("logits", logits), ("p", vec![p])], |b, t| {
            adjust(b, &s, &t[0], &t[1])
        });
    }
}

#[test]
fn projection_forward_and_backward() {
    use wgan_gpu::ops::projection::Projection;
    let mut rng = Rng::new(44);
    for (n, features, classes) in [(1, 1, 1), (5, 7, 3), (16, 3136, 10), (33, 300, 257)] {
        let s = Projection { n, features, classes };
        // Labels as the trainer stores them: uniform draws in [0, classes), floored by the op.
        let labels = rng.vec(n, 0.0, classes as f32);
        gpu_vs_cpu!(
            format!("{s:?}"),
            (1e-5, 1e-5),
            vec![
                ("x", rng.vec(n * features, -1.0, 1.0)),
                ("label", labels),
                ("embed", rng.vec(classes * features, -1.0, 1.0)),
                ("y", rng.vec(n, -1.0, 1.0)),
                ("dy", rng.vec(n, -1.0, 1.0)),
                ("dx", rng.vec(n * features, -1.0, 1.0)),
                ("dembed", rng.vec(classes * features, -1.0, 1.0))
            ],
            |b, t| {
                wgan_gpu::ops::projection::forward(b, &s, (&t[0], &t[1], &t[2]), &t[3])?;
                wgan_gpu::ops::projection::backward_input(b, &s, (&t[4], &t[1], &t[2]), &t[5])?;
                wgan_gpu::ops::projection::backward_embed(b, &s, (&t[0], &t[1], &t[4]), &t[6])
            }
        );
    }
}

#[test]
fn class_affine_forward_and_backward() {
    use wgan_gpu::ops::class_affine::ClassAffine;
    let mut rng = Rng::new(45);
    for (n, channels, spatial, classes) in [(1, 1, 1, 1), (5, 3, 7, 3), (16, 64, 49, 10), (33, 17, 1, 257)] {
        let s = ClassAffine { n, channels, spatial, classes };
        let (len, table) = (n * channels * spatial, classes * channels);
        gpu_vs_cpu!(
            format!("{s:?}"),
            (1e-5, 1e-5),
            vec![
                ("x", rng.vec(len, -1.0, 1.0)),
                ("label", rng.vec(n, 0.0, classes as f32)),
                ("gamma", rng.vec(table, -1.0, 1.0)),
                ("beta", rng.vec(table, -1.0, 1.0)),
                ("y", vec![f32::NAN; len]),
                ("dy", rng.vec(len, -1.0, 1.0)),
                ("dx", vec![f32::NAN; len]),
                ("dgamma", rng.vec(table, -1.0, 1.0)),
                ("dbeta", rng.vec(table, -1.0, 1.0))
            ],
            |b, t| {
                use wgan_gpu::ops::class_affine::{backward_input, backward_params, forward};
                forward(b, &s, (&t[0], &t[1], &t[2], &t[3]), &t[4])?;
                backward_input(b, &s, (&t[5], &t[1], &t[2]), &t[6])?;
                backward_params(b, &s, (&t[0], &t[1], &t[5]), (&t[7], &t[8]))
            }
        );
    }
}

#[test]
fn pixel_norm_forward_and_backward() {
    use wgan_gpu::ops::pixel_norm::{PIXEL_NORM_EPS, PixelNorm, backward, forward};
    let mut rng = Rng::new(46);
    for (n, c, spatial) in [(1, 1, 1), (5, 3, 7), (16, 64, 49), (33, 1, 17), (3, 17, 1), (2, 300, 5)] {
        let s = PixelNorm { n, c, spatial, eps: PIXEL_NORM_EPS };
        let len = n * c * spatial;
        // With one channel y is ±1 and dx the difference of two near-equal terms over r = |x|,
        // so the atol covers a few roundings of dy / r.
        gpu_vs_cpu!(
            format!("{s:?}"),
            (2e-5, 1e-4),
            vec![
                ("x", rng.vec(len, -1.0, 1.0)),
                ("y", vec![f32::NAN; len]),
                ("dy", rng.vec(len, -1.0, 1.0)),
                ("dx", vec![f32::NAN; len])
            ],
            |b, t| {
                forward(b, &s, &t[0], &t[1])?;
                backward(b, &s, (&t[0], &t[2]), &t[3])
            }
        );
    }
}

#[test]
fn minibatch_stddev_forward_and_backward() {
    use wgan_gpu::ops::minibatch_stddev::{MinibatchStddev, backward, forward};
    let mut rng = Rng::new(47);
    // n = 1 (variance 0), m = c·spatial and n·spatial past one workgroup's 256 lanes.
    for (n, c, spatial) in [(1, 1, 1), (1, 3, 5), (2, 1, 1), (5, 3, 7), (16, 64, 49), (33, 17, 1), (300, 2, 3)] {
        let s = MinibatchStddev { n, c, spatial };
        let (len, out) = (n * c * spatial, n * (c + 1) * spatial);
        gpu_vs_cpu!(
            format!("{s:?}"),
            (1e-5, 1e-4),
            vec![
                ("x", rng.vec(len, -1.0, 1.0)),
                ("y", vec![f32::NAN; out]),
                ("dy", rng.vec(out, -1.0, 1.0)),
                ("dx", vec![f32::NAN; len])
            ],
            |b, t| {
                forward(b, &s, &t[0], &t[1])?;
                backward(b, &s, (&t[0], &t[2]), &t[3])
            }
        );
    }
}

#[test]
fn mix_and_axpy() {
    let mut rng = Rng::new(42);
    for n in [1, 255, 1000, 70_001] {
        gpu_vs_cpu!(
            format!("mix n={n}"),
            (1e-6, 1e-6),
            vec![
                ("x", rng.vec(n, -1.0, 1.0)),
                ("y", rng.vec(n, -1.0, 1.0)),
                ("out", vec![f32::NAN; n]),
                ("acc", rng.vec(n, -1.0, 1.0)),
                ("fresh", vec![f32::NAN; n])
            ],
            |b, t| {
                wgan_gpu::ops::mix::mix(b, (0.3, &t[0]), (-1.5, &t[1]), &t[2])?;
                wgan_gpu::ops::mix::axpy(b, 0.7, &t[0], 1.0, &t[3])?;
                wgan_gpu::ops::mix::axpy(b, 2.0, &t[1], 0.0, &t[4])
            }
        );
    }
}

#[test]
fn random_samplers_match_reference_and_statistics() {
    for (n, seed, offset) in [(1, 0u64, 0u64), (1000, 42, 5), (100_000, 7, u32::MAX as u64 - 300)] {
        for d in [Distribution::Normal { mean: 0.0, std: 1.0 }, Distribution::Uniform { low: -1.0, high: 3.0 }] {
            gpu_vs_cpu!(format!("random {d:?} n={n}"), (2e-5, 1e-5), vec![("out", vec![0.0; n])], |b, t| {
                wgan_gpu::ops::random::fill(b, d, seed, offset, &t[0])
            });
        }
    }
    let mut cpu = CpuBackend;
    let t = cpu.alloc(200_000).unwrap();
    wgan_gpu::ops::random::fill(&mut cpu, Distribution::Normal { mean: 0.0, std: 1.0 }, 3, 0, &t).unwrap();
    let v = cpu.read(&t).unwrap();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "normal sampler: mean {mean}, var {var}");
}

#[test]
fn optimizers_several_steps() {
    let mut rng = Rng::new(9);
    for n in [1, 300, 70_001] {
        for (i, decoupled) in [false, true].into_iter().enumerate() {
            let grads: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(n, -1.0, 1.0)).collect();
            let mut tensors = vec![("param", rng.vec(n, -1.0, 1.0)), ("m", vec![0.0; n]), ("v", vec![0.0; n])];
            tensors.extend(grads.iter().map(|g| ("grad", g.clone())));
            gpu_vs_cpu!(format!("adam n={n} decoupled={decoupled}"), (1e-6, 1e-5), tensors, |b, t| {
                for step in 1..=4 {
                    let s = AdamStep {
                        lr: 1e-3 * (i + 1) as f32,
                        beta1: 0.5,
                        beta2: 0.999,
                        eps: 1e-8,
                        weight_decay: 0.01,
                        decoupled,
                        t: step,
                    };
                    wgan_gpu::ops::adam::step(b, &s, &t[0], &t[2 + step as usize], &t[1], &t[2])?;
                }
                Ok(())
            });
        }
        // Adam's step from held moments and its slope (the full unrolled GAN's look-ahead).
        let tensors = vec![
            ("grad", rng.vec(n, -1.0, 1.0)),
            ("m", rng.vec(n, -0.1, 0.1)),
            ("v", rng.vec(n, 0.0, 1e-2)),
            ("x", rng.vec(n, -1.0, 1.0)),
            ("param", rng.vec(n, -1.0, 1.0)),
            ("out", vec![0.0; n]),
        ];
        gpu_vs_cpu!(format!("adam held step n={n}"), (1e-6, 1e-5), tensors, |b, t| {
            let s = AdamStep::dcgan(3);
            wgan_gpu::ops::adam::held_step(b, &s, (&t[1], &t[2]), &t[0], &t[4])?;
            wgan_gpu::ops::adam::held_slope(b, &s, (&t[1], &t[2]), &t[0], &t[3], &t[5])
        });
        let grads: Vec<Vec<f32>> = (0..3).map(|_| rng.vec(n, -1.0, 1.0)).collect();
        let mut tensors = vec![("param", rng.vec(n, -1.0, 1.0)), ("buf", vec![0.0; n])];
        tensors.extend(grads.iter().map(|g| ("grad", g.clone())));
        gpu_vs_cpu!(format!("sgd n={n}"), (1e-6, 1e-5), tensors, |b, t| {
            let s = SgdStep { lr: 0.05, momentum: 0.9, weight_decay: 1e-4 };
            for k in 0..3 {
                wgan_gpu::ops::sgd::step(b, &s, &t[0], &t[2 + k], &t[1])?;
            }
            Ok(())
        });
    }
}

/// With a constant gradient g, Adam's bias-corrected moments are exactly g and g², so after
/// t steps w = w0 − t·lr·g / (|g| + eps). Checked on the reference and on the GPU.
#[test]
fn adam_equals_closed_form() {
    fn run<B: Backend>(b: &mut B) -> Vec<f32> {
        let g = [0.5f32, -2.0, 1e-3, 3.0];
        let p = b.upload(&[1.0, 1.0, 1.0, 1.0]).unwrap();
        let gt = b.upload(&g).unwrap();
        let (m, v) = (b.alloc(4).unwrap(), b.alloc(4).unwrap());
        for t in 1..=10 {
            let s = AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, t };
            wgan_gpu::ops::adam::step(b, &s, &p, &gt, &m, &v).unwrap();
        }
        b.read(&p).unwrap()
    }
    let g = [0.5f32, -2.0, 1e-3, 3.0];
    let want: Vec<f32> = g.iter().map(|&g| 1.0 - 10.0 * 0.01 * g / (g.abs() + 1e-8)).collect();
    assert_close("adam closed form (CPU)", &run(&mut CpuBackend), &want, 1e-5, 1e-5);
    if let Some(mut b) = gpu() {
        assert_close("adam closed form (GPU)", &run(&mut b), &want, 1e-5, 1e-5);
    }
}

/// The same op on the same input gives the same bits, run after run (no atomics, fixed orders).
#[test]
fn gpu_results_are_deterministic() {
    let Some(mut b) = gpu() else { return };
    let mut rng = Rng::new(10);
    let s = Conv2d { n: 16, c: 8, h: 14, w: 14, k: 16, kh: 4, kw: 4, stride: 2, pad: 1 };
    let (oh, ow) = s.out_hw();
    let x = b.upload(&rng.vec(s.n * s.c * s.h * s.w, -1.0, 1.0)).unwrap();
    let w = b.upload(&rng.vec(s.k * s.c * 16, -1.0, 1.0)).unwrap();
    let dy = b.upload(&rng.vec(s.n * s.k * oh * ow, -1.0, 1.0)).unwrap();
    let big = b.upload(&rng.vec(123_457, -1.0, 1.0)).unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (dw, db, total) = (b.alloc(s.k * s.c * 16).unwrap(), b.alloc(s.k).unwrap(), b.alloc(1).unwrap());
        wgan_gpu::ops::conv2d::backward(&mut b, &s, &x, &w, &dy, Grads { dx: None, dw: Some(&dw), db: Some(&db) })
            .unwrap();
        wgan_gpu::ops::reduce::sum(&mut b, &big, &total, 1.0).unwrap();
        let bits = |v: Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        runs.push((bits(b.read(&dw).unwrap()), bits(b.read(&db).unwrap()), bits(b.read(&total).unwrap())));
    }
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "GPU results differ between identical runs");
}

#[test]
fn shape_mismatch_names_the_op_and_shapes() {
    let mut cpu = CpuBackend;
    let s = Linear { batch: 4, in_features: 3, out_features: 2 };
    let (x, w, y) = (cpu.alloc(12).unwrap(), cpu.alloc(5).unwrap(), cpu.alloc(8).unwrap());
    let e = wgan_gpu::ops::linear::forward(&mut cpu, &s, &x, &w, None, &y).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Shape { op: "linear", .. }), "{msg}");
    assert!(msg.contains("w has 5 elements, expected [2x3] = 6"), "{msg}");
    if let Some(mut g) = gpu() {
        let (x, w, y) = (g.alloc(12).unwrap(), g.alloc(5).unwrap(), g.alloc(8).unwrap());
        assert_eq!(wgan_gpu::ops::linear::forward(&mut g, &s, &x, &w, None, &y).unwrap_err().to_string(), msg);
        let c = Conv2d { n: 1, c: 1, h: 2, w: 2, k: 1, kh: 5, kw: 5, stride: 1, pad: 0 };
        let e = wgan_gpu::ops::conv2d::forward(&mut g, &c, &x, &w, None, &y).unwrap_err();
        assert!(matches!(e, Error::Shape { op: "conv2d", .. }), "{e}");
    }
}

#[test]
fn oversized_buffer_is_an_error_not_a_panic() {
    let Some(mut g) = gpu() else { return };
    let limit = g.ctx.limits.max_storage_buffer_binding_size as usize;
    let n = limit / 4 + 1024;
    if (4 * n) as u64 > g.ctx.limits.max_buffer_size {
        return;
    }
    let (x, y) = (g.alloc(n).unwrap(), g.alloc(n).unwrap());
    let e = wgan_gpu::ops::activation::forward(&mut g, Activation::Tanh, &x, &y).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::TooLarge { .. }), "{msg}");
    assert!(msg.contains("max_storage_buffer_binding_size") && msg.contains("batch size"), "{msg}");
}

#[test]
fn a_lost_device_is_a_typed_error() {
    let Some(mut g) = common::own_gpu() else { return };
    let (x, y) = (g.alloc(1000).unwrap(), g.alloc(1000).unwrap());
    // A destroyed device reports its loss at the next poll, as a driver's loss would.
    g.ctx.device.destroy();
    let _ = g.ctx.device.poll(wgpu::PollType::Poll);
    let e = wgan_gpu::ops::activation::forward(&mut g, Activation::Tanh, &x, &y)
        .and_then(|_| g.read_tensor(&y))
        .unwrap_err();
    assert!(matches!(e, Error::DeviceLost { .. }), "{e}");
    assert!(e.to_string().contains("--resume"), "{e}");
}

#[test]
fn gradient_penalty_interpolates_norms_and_gradient() {
    use wgan_gpu::ops::gradient_penalty::GradientPenalty;
    let mut rng = Rng::new(29);
    // Rows longer and shorter than a workgroup; label features after the penalised ones.
    for (rows, row_len, dim) in [(1, 1, 1), (5, 300, 300), (rng.int(2, 70), 785, 784), (3, 1000, 7)] {
        for (weight, target) in [(10.0, 1.0), (0.5, 0.0)] {
            let s = GradientPenalty { rows, row_len, dim, weight, target };
            let len = rows * row_len;
            let tensors = vec![
                ("real", rng.vec(len, -1.0, 1.0)),
                ("fake", rng.vec(len, -1.0, 1.0)),
                ("t", rng.vec(rows, 0.0, 1.0)),
                ("mixed", vec![0.0; len]),
                ("norm", vec![0.0; rows]),
                ("loss", vec![0.0; rows]),
                ("dg", rng.vec(len, -1.0, 1.0)),
            ];
            gpu_vs_cpu!(format!("gradient_penalty {s:?}"), (1e-6, 1e-5), tensors, |b, t| {
                wgan_gpu::ops::gradient_penalty::interpolate(b, &s, &t[0], &t[1], &t[2], &t[3])?;
                wgan_gpu::ops::gradient_penalty::forward(b, &s, &t[3], &t[4], &t[5])?;
                wgan_gpu::ops::gradient_penalty::backward(b, &s, &t[3], &t[4], &t[6])
            });
        }
    }
}

#[test]
fn info_loss_forward_and_gradient() {
    use wgan_gpu::ops::info_loss::InfoLoss;
    let mut rng = Rng::new(37);
    for (n, k, c, z_dim) in [(1, 2, 0, 3), (64, 10, 2, 100), (rng.int(2, 300), 7, 3, 5), (300, 0, 4, 4)] {
        let s = InfoLoss { n, k, c, z_dim, cont_weight: 0.1 };
        let code = (0..n).map(|i| (i % k.max(1)) as f32 + 0.3).collect();
        let tensors = vec![
            ("q", rng.vec(n * (k + c), -4.0, 4.0)),
            ("code", code),
            ("z", rng.vec(n * z_dim, -2.0, 2.0)),
            ("loss", vec![0.0; n]),
            ("dq", rng.vec(n * (k + c), -1.0, 1.0)),
        ];
        gpu_vs_cpu!(format!("info_loss {s:?}"), (1e-5, 1e-5), tensors, |b, t| {
            wgan_gpu::ops::info_loss::forward(b, &s, &t[0], &t[1], &t[2], &t[3])?;
            wgan_gpu::ops::info_loss::backward(b, &s, (&t[0], &t[1], &t[2]), &t[4], 0.7)?;
            // Last: the codes drawn into z, checked with the rest.
            wgan_gpu::ops::info_loss::draw_codes(b, &s, 99, &t[2])
        });
    }
}

#[test]
fn hinge_ema_and_spectral_norm() {
    use wgan_gpu::ops::ema::EmaStep;
    use wgan_gpu::ops::spectral_norm::{SpectralNorm, SpectralState};
    let mut rng = Rng::new(23);
    for n in [1, 64, 300 + rng.int(0, 700)] {
        let z = rng.vec(n, -3.0, 3.0);
        let t: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
        let (zero, mean) = (vec![0.0; n], vec![0.0]);
        let tensors = vec![("z", z), ("t", t), ("loss", zero.clone()), ("dz", zero), ("mean", mean)];
        gpu_vs_cpu!(format!("hinge n={n}"), (1e-6, 1e-5), tensors, |b, t| {
            wgan_gpu::ops::hinge::LOSS.forward(b, &t[0], &t[1], &t[2])?;
            wgan_gpu::ops::hinge::LOSS.backward(b, &t[0], &t[1], &t[3], -0.5)?;
            wgan_gpu::ops::reduce::sum(b, &t[2], &t[4], 1.0 / n as f32)
        });
        let tensors = vec![("param", rng.vec(n, -1.0, 1.0)), ("ema", rng.vec(n, -1.0, 1.0))];
        gpu_vs_cpu!(format!("ema n={n}"), (1e-6, 1e-5), tensors, |b, t| {
            for updates in [0, 5, 5000] {
                wgan_gpu::ops::ema::update(b, &EmaStep::warmed_up(0.999, updates), &t[0], &t[1])?;
            }
            Ok(())
        });
    }
    // Matrices of D's layers (conv [k, c·kh·kw], linear [1, in]) and sizes that are not
    // multiples of the workgroup.
    for (m, k) in [(1, 3136), (64, 512), (7, 300), (300, 5)] {
        let mut u0 = rng.vec(m, -1.0, 1.0);
        let norm = u0.iter().map(|x| x * x).sum::<f32>().sqrt();
        u0.iter_mut().for_each(|x| *x /= norm);
        let tensors = vec![
            ("w", rng.vec(m * k, -0.2, 0.2)),
            ("u", u0),
            ("v", vec![0.0; k]),
            ("state", vec![0.0; 2]),
            ("w_sn", vec![0.0; m * k]),
            ("dw", rng.vec(m * k, -1.0, 1.0)),
        ];
        gpu_vs_cpu!(format!("spectral_norm {m}x{k}"), (1e-5, 1e-4), tensors, |b, t| {
            let s = SpectralNorm::new(m, k);
            let st = SpectralState { u: &t[1], v: &t[2], state: &t[3] };
            for _ in 0..3 {
                wgan_gpu::ops::spectral_norm::forward(b, &s, &t[0], &st, &t[4])?;
            }
            wgan_gpu::ops::spectral_norm::backward(b, &s, &t[4], &st, &t[5])
        });
    }
}

#[test]
fn wgan_critic_gradient_and_clip() {
    let mut rng = Rng::new(11);
    for n in [1, 64, 1000 + rng.int(0, 500)] {
        gpu_vs_cpu!(
            format!("wgan n={n}"),
            (0.0, 1e-6),
            vec![("dz", vec![9.0; n]), ("w", rng.vec(n, -0.05, 0.05))],
            |b, t| {
                wgan_gpu::ops::wgan::critic_backward(b, &t[0], -1.0)?;
                wgan_gpu::ops::wgan::clip(b, &t[1], 0.01)
            }
        );
    }
}

#[test]
fn gather_pixels_labels_and_rows() {
    use wgan_gpu::ops::gather::{Gather, GatherKind, pack_bytes, pack_indices};
    let mut rng = Rng::new(12);
    for (count, dim, batch) in [(5, 3, 2), (100, 784, 64), (37, 17, 37)] {
        let bytes: Vec<u8> = (0..count * dim).map(|_| rng.next_u64() as u8).collect();
        let floats = rng.vec(count * dim, -3.0, 3.0);
        let mut order: Vec<u32> = (0..count as u32).collect();
        order.reverse();
        for kind in [GatherKind::Pixels, GatherKind::UnitPixels, GatherKind::Bytes, GatherKind::Floats] {
            let s = Gather { batch, dim, start: count - batch, kind, shift: None };
            let data = if kind == GatherKind::Floats { floats.clone() } else { pack_bytes(&bytes) };
            gpu_vs_cpu!(
                format!("gather {s:?}"),
                (0.0, 0.0),
                vec![("data", data), ("order", pack_indices(&order)), ("out", vec![0.0; batch * dim])],
                |b, t| { wgan_gpu::ops::gather::gather(b, &s, &t[0], &t[1], &t[2]) }
            );
        }
    }
    // Augmentation: images shifted by up to 2 pixels, each by its own offset.
    use wgan_gpu::ops::gather::Shift;
    let (count, h, w) = (9, 5, 7);
    let bytes: Vec<u8> = (0..count * h * w).map(|_| rng.next_u64() as u8).collect();
    let shift = Shift { max: 2, height: h, width: w, seed: 77 };
    let s = Gather { batch: 8, dim: h * w, start: 1, kind: GatherKind::Pixels, shift: Some(shift) };
    gpu_vs_cpu!(
        "gather shifted",
        (0.0, 0.0),
        vec![
            ("data", pack_bytes(&bytes)),
            ("order", pack_indices(&(0..count as u32).collect::<Vec<_>>())),
            ("out", vec![0.0; 8 * h * w])
        ],
        |b, t| { wgan_gpu::ops::gather::gather(b, &s, &t[0], &t[1], &t[2]) }
    );
    let offsets: Vec<_> = (1..9).map(|p| shift.offset(p)).collect();
    assert!(offsets.iter().any(|&o| o != (0, 0)) && offsets.iter().all(|&(y, x)| y.abs() <= 2 && x.abs() <= 2));
}

#[test]
fn condition_noise_and_label_planes() {
    use wgan_gpu::ops::condition::Condition;
    let mut rng = Rng::new(21);
    for (n, dim, classes, spatial, sigma) in [(3, 5, 0, 1, 0.5), (7, 49, 10, 49, 0.0), (37, 100, 3, 1, 0.1)] {
        let s = Condition { n, dim, classes, spatial, sigma, seed: 99, offset: 1 << 33 };
        let labels: Vec<f32> = (0..n).map(|_| rng.vec(1, 0.0, classes.max(1) as f32)[0]).collect();
        gpu_vs_cpu!(
            format!("condition {s:?}"),
            (1e-5, 1e-4),
            vec![
                ("x", rng.vec(n * dim, -1.0, 1.0)),
                ("label", labels),
                ("out", vec![0.0; n * s.out_dim()]),
                ("dout", rng.vec(n * s.out_dim(), -1.0, 1.0)),
                ("dx", vec![0.0; n * dim]),
            ],
            |b, t| {
                wgan_gpu::ops::condition::forward(b, &s, &t[0], &t[1], &t[2])?;
                wgan_gpu::ops::condition::backward(b, &s, &t[3], &t[4])
            }
        );
    }
    // The label planes are one-hot: exactly `spatial` ones per sample, at the label's plane.
    let s = Condition { n: 2, dim: 1, classes: 3, spatial: 2, sigma: 0.0, seed: 0, offset: 0 };
    let mut cpu = CpuBackend;
    let (x, l, out) = (cpu.upload(&[5.0, 6.0]).unwrap(), cpu.upload(&[2.7, 0.0]).unwrap(), cpu.alloc(14).unwrap());
    wgan_gpu::ops::condition::forward(&mut cpu, &s, &x, &l, &out).unwrap();
    assert_eq!(cpu.read(&out).unwrap(), [5., 0., 0., 0., 0., 1., 1., 6., 1., 1., 0., 0., 0., 0.]);
}

#[test]
fn gemm_through_strides() {
    use wgan_gpu::ops::gemm::Gemm;
    let mut rng = Rng::new(13);
    let mut cases = vec![(1, 1, 1), (64, 1, 6272), (37, 65, 257)];
    for _ in 0..3 {
        cases.push((rng.int(1, 90), rng.int(1, 90), rng.int(1, 300)));
    }
    // Row-major with C's rows a multiple of 4: vec4 loads and vec4 stores of C (with bias, and
    // accumulating).
    cases.push((20, 24, 8));
    for (i, (m, n, k)) in cases.into_iter().enumerate() {
        // Row-major A·B, A·Bᵀ, Aᵀ·B, with C written transposed every other case.
        let (a, b) = match i % 3 {
            0 => ((k, 1), (n, 1)),
            1 => ((k, 1), (1, k)),
            _ => ((1, m), (n, 1)),
        };
        let c = if i % 2 == 0 { (n, 1) } else { (1, m) };
        for (accumulate, bias) in [(false, true), (true, false)] {
            // Overwriting products also with a fused activation (the scalar 4×4 tile's epilogue).
            let epilogue = (!accumulate).then_some(Activation::LeakyRelu(0.2));
            let s = Gemm { epilogue, ..Gemm::plain((m, n, k), a, b, c, accumulate) };
            gpu_vs_cpu!(
                format!("gemm {s:?} bias={bias}"),
                (1e-5, 1e-4),
                vec![
                    ("a", rng.vec(m * k, -1.0, 1.0)),
                    ("b", rng.vec(k * n, -1.0, 1.0)),
                    ("bias", rng.vec(n, -1.0, 1.0)),
                    ("c", rng.vec(m * n, -1.0, 1.0)),
                ],
                |bk, t| { wgan_gpu::ops::gemm::gemm(bk, &s, &t[0], &t[1], bias.then_some(&t[2]), &t[3]) }
            );
        }
    }
}

#[test]
fn gemm_vec4_layouts() {
    // Every orientation the vec4 kernels read (A along k or m, B along n or k), with m and n not
    // multiples of the tile, and a batched, two-level reduction like a convolution's; on lavapipe
    // once with the subgroup kernel and once with the 8×8 tile.
    use wgan_gpu::ops::gemm::{Gemm, Strides};
    let mut rng = Rng::new(14);
    // Each with every fused activation too (the epilogue of a layer's forward).
    let acts = [None, Some(Activation::LeakyRelu(0.2)), Some(Activation::Sigmoid), Some(Activation::Tanh)];
    for (i, (m, n, k)) in [(12usize, 21usize, 52usize), (8, 4, 4), (36, 50, 100), (68, 37, 16)].into_iter().enumerate()
    {
        // B's rows along n start on multiples of 4: padded, as im2col pads its rows.
        let n4 = n.next_multiple_of(4);
        for (j, (a, b)) in
            [((k, 1), (n4, 1)), ((1, m), (n4, 1)), ((k, 1), (1, k)), ((1, m), (1, k))].into_iter().enumerate()
        {
            let epilogue = acts[(i + j) % 4];
            let s = Gemm { epilogue, ..Gemm::plain((m, n, k), a, b, (n, 1), false) };
            assert!(s.vec4_layout(m * k, k * n.next_multiple_of(4)).is_some(), "{s:?} should take vec4 loads");
            let (av, bv) = (rng.vec(m * k, -1.0, 1.0), rng.vec(k * n4, -1.0, 1.0));
            gemm_on_every_kernel(&s, &av, &bv, &vec![0.0; m * n]);
        }
    }
    let (m, n, k, outer, batch) = (16, 12, 8, 3, 2);
    let s = Gemm {
        m,
        n,
        k,
        k_outer: outer,
        batch,
        a: Strides { s0: k * outer, s1: 1, outer: k, batch: m * k * outer, offset: 4 },
        b: Strides { s0: 1, s1: k * outer, outer: k, batch: n * k * outer, offset: 0 },
        c: Strides { s0: 1, s1: m, outer: 0, batch: m * n, offset: 0 },
        accumulate: true,
        bias_axis: Default::default(),
        epilogue: None,
    };
    assert!(s.vec4_layout(4 + batch * m * k * outer, batch * n * k * outer).is_some());
    let (av, bv) = (rng.vec(4 + batch * m * k * outer, -1.0, 1.0), rng.vec(batch * n * k * outer, -1.0, 1.0));
    gemm_on_every_kernel(&s, &av, &bv, &rng.vec(batch * m * n, -1.0, 1.0));
}

/// C from the CPU reference against the GPU's, with each subgroup tile and without subgroups.
fn gemm_on_every_kernel(s: &wgan_gpu::ops::gemm::Gemm, a: &[f32], b: &[f32], c: &[f32]) {
    let mut cpu = CpuBackend;
    let t = [a, b, c].map(|v| cpu.upload(v).unwrap());
    wgan_gpu::ops::gemm::gemm(&mut cpu, s, &t[0], &t[1], None, &t[2]).unwrap();
    let want = cpu.read(&t[2]).unwrap();
    use wgan_gpu::gpu::GemmKernel::{Registers, Shared, Subgroup};
    for (kernel, rows) in
        [(Subgroup, Some(16)), (Subgroup, Some(32)), (Subgroup, Some(64)), (Registers, None), (Shared, None)]
    {
        let Some(mut g) = gpu() else { return };
        g.set_gemm_kernel(kernel);
        g.set_gemm_rows(rows);
        let t = [a, b, c].map(|v| g.upload(v).unwrap());
        wgan_gpu::ops::gemm::gemm(&mut g, s, &t[0], &t[1], None, &t[2]).unwrap();
        let got = g.read(&t[2]).unwrap();
        assert_close(&format!("gemm {s:?} {kernel:?} rows={rows:?}"), &got, &want, 1e-5, 1e-4);
    }
}

#[test]
fn convolutions_split_into_workspace_chunks() {
    // With a workspace too small for the batch, im2col runs chunks of samples: same results.
    // (With the register-tile kernel: the subgroup one gathers most convolutions' columns
    // without a workspace.)
    let Some(mut g) = gpu() else { return };
    g.set_gemm_kernel(wgan_gpu::gpu::GemmKernel::Registers);
    g.set_workspace_limit(2 * 64 * 52);
    let mut cpu = CpuBackend;
    let mut rng = Rng::new(15);
    let conv = Conv2d { n: 5, c: 4, h: 14, w: 14, k: 8, kh: 4, kw: 4, stride: 2, pad: 1 };
    let convt = ConvTranspose2d { n: 5, c: 8, h: 7, w: 7, k: 4, kh: 4, kw: 4, stride: 2, pad: 1, output_padding: 0 };
    let (xn, wn, yn) = (5 * 4 * 14 * 14, 8 * 4 * 16, 5 * 8 * 7 * 7);
    let data = [rng.vec(xn, -1.0, 1.0), rng.vec(wn, -1.0, 1.0), rng.vec(8, -1.0, 1.0), rng.vec(yn, -1.0, 1.0)];
    fn run<B: Backend>(b: &mut B, conv: &Conv2d, convt: &ConvTranspose2d, data: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let [x, w, bias8, y8] = [0, 1, 2, 3].map(|i| b.upload(&data[i]).unwrap());
        let bias4 = b.upload(&data[2][..4]).unwrap();
        let outs = [y8.len(), x.len(), w.len(), 8, x.len(), y8.len(), w.len(), 4].map(|n| b.alloc(n).unwrap());
        wgan_gpu::ops::conv2d::forward(b, conv, &x, &w, Some(&bias8), &outs[0]).unwrap();
        let g = Grads { dx: Some(&outs[1]), dw: Some(&outs[2]), db: Some(&outs[3]) };
        wgan_gpu::ops::conv2d::backward(b, conv, &x, &w, &y8, g).unwrap();
        // The transposed conv maps the 8×7×7 maps back to 4×14×14.
        wgan_gpu::ops::conv_transpose2d::forward(b, convt, &y8, &w, Some(&bias4), &outs[4]).unwrap();
        let g = Grads { dx: Some(&outs[5]), dw: Some(&outs[6]), db: Some(&outs[7]) };
        wgan_gpu::ops::conv_transpose2d::backward(b, convt, &y8, &w, &x, g).unwrap();
        outs.iter().map(|t| b.read(t).unwrap()).collect()
    }
    let want = run(&mut cpu, &conv, &convt, &data);
    let got = run(&mut g, &conv, &convt, &data);
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_close(&format!("chunked conv output {i}"), got, want, 1e-4, 1e-4);
    }
}

#[test]
fn weighted_layers_with_fused_activation() {
    // The GPU fuses the activation into the layer's stores (GEMM or col2im), or runs it after a
    // narrow convolution; the CPU reference runs the two ops. `pre` (the CPU's intermediate) is
    // cleared before comparing.
    use wgan_gpu::nn::WeightedOp;
    let mut rng = Rng::new(21);
    let ops = [
        WeightedOp::Linear(Linear { batch: 37, in_features: 65, out_features: 19 }),
        WeightedOp::Conv2d(Conv2d { n: 3, c: 5, h: 11, w: 9, k: 6, kh: 3, kw: 3, stride: 2, pad: 1 }),
        WeightedOp::Conv2d(Conv2d { n: 2, c: 4, h: 8, w: 8, k: 8, kh: 4, kw: 4, stride: 2, pad: 1 }),
        WeightedOp::Conv2d(Conv2d { n: 2, c: 16, h: 7, w: 9, k: 1, kh: 5, kw: 5, stride: 1, pad: 2 }),
        WeightedOp::ConvTranspose2d(ConvTranspose2d {
            n: 3,
            c: 6,
            h: 5,
            w: 7,
            k: 5,
            kh: 4,
            kw: 4,
            stride: 2,
            pad: 1,
            output_padding: 0,
        }),
    ];
    let acts = [Activation::Relu, Activation::LeakyRelu(0.2), Activation::Sigmoid, Activation::Tanh];
    for (i, op) in ops.iter().enumerate() {
        let (xn, yn) = match op {
            WeightedOp::Linear(s) => (s.batch * s.in_features, s.batch * s.out_features),
            WeightedOp::Conv2d(s) => {
                let (oh, ow) = s.out_hw();
                (s.n * s.c * s.h * s.w, s.n * s.k * oh * ow)
            }
            WeightedOp::ConvTranspose2d(s) => {
                let (oh, ow) = s.out_hw();
                (s.n * s.c * s.h * s.w, s.n * s.k * oh * ow)
            }
        };
        for (j, &act) in acts.iter().enumerate() {
            let with_bias = (i + j) % 2 == 0;
            gpu_vs_cpu!(
                format!("{op:?} then {act:?} bias={with_bias}"),
                (1e-5, 1e-4),
                vec![
                    ("x", rng.vec(xn, -1.0, 1.0)),
                    ("w", rng.vec(op.weight_len(), -1.0, 1.0)),
                    ("b", rng.vec(op.outputs(), -1.0, 1.0)),
                    ("pre", vec![0.0; yn]),
                    ("y", rng.vec(yn, -1.0, 1.0)),
                ],
                |b, t| {
                    op.act_forward(b, (&t[0], &t[1], with_bias.then_some(&t[2])), act, &t[3], &t[4])?;
                    b.zero(&t[3])
                }
            );
        }
    }
}

/// The dispatch list `bench --json` reports: a linear layer's forward is one product whose
/// FLOPs (2·batch·in·out) and workgroups are recorded; an element-wise op has no FLOP count.
#[test]
fn gemm_split_k_fills_a_gpu_and_matches_the_reference() {
    // The shared-tile kernel's split-K: a layer with one output (k split, with bias and a fused
    // activation) and a weight gradient over samples × pixels (outer split, accumulating), each a
    // product of few tiles that must spread over at least MIN_WORKGROUPS, and equal the reference.
    use wgan_gpu::gpu::GemmKernel;
    use wgan_gpu::ops::gemm::{Gemm, MIN_WORKGROUPS, Strides};
    let mut rng = Rng::new(15);
    let (m, n, k, outer) = (20, 9, 49, 64);
    let weight_grad = Gemm {
        k_outer: outer,
        a: Strides { s0: k, s1: 1, outer: m * k, batch: 0, offset: 0 },
        b: Strides { s0: n, s1: 1, outer: k * n, batch: 0, offset: 0 },
        ..Gemm::plain((m, n, k), (k, 1), (n, 1), (n, 1), true)
    };
    let one_output = Gemm {
        epilogue: Some(Activation::LeakyRelu(0.2)),
        ..Gemm::plain((100, 1, 6272), (6272, 1), (1, 1), (1, 1), false)
    };
    for s in [one_output, weight_grad] {
        let (a, b) = (rng.vec(s.m * s.k * s.k_outer, -1.0, 1.0), rng.vec(s.k * s.k_outer * s.n, -1.0, 1.0));
        let (bias, c) = (rng.vec(s.n, -1.0, 1.0), rng.vec(s.m * s.n, -1.0, 1.0));
        let with_bias = !s.accumulate;
        let mut cpu = CpuBackend;
        let t = [&a, &b, &bias, &c].map(|v| cpu.upload(v).unwrap());
        wgan_gpu::ops::gemm::gemm(&mut cpu, &s, &t[0], &t[1], with_bias.then_some(&t[2]), &t[3]).unwrap();
        let want = cpu.read(&t[3]).unwrap();
        let Some(mut g) = gpu() else { return };
        g.set_gemm_kernel(GemmKernel::Shared);
        let t = [&a, &b, &bias, &c].map(|v| g.upload(v).unwrap());
        g.start_dispatch_log();
        wgan_gpu::ops::gemm::gemm(&mut g, &s, &t[0], &t[1], with_bias.then_some(&t[2]), &t[3]).unwrap();
        let log = g.take_dispatch_log();
        let got = g.read(&t[3]).unwrap();
        // Sums of thousands of products that cancel: f32 rounding grows with √(reduction).
        let atol = 1e-5 * ((s.k * s.k_outer) as f32).sqrt();
        assert_close(&format!("split-K {s:?}"), &got, &want, atol, 1e-4);
        assert_eq!(log.len(), 2, "partials and their sum: {log:?}");
        assert!(log[0].workgroups >= MIN_WORKGROUPS && log[0].flops == Some(s.flops()), "{log:?}");
        assert_eq!(log[1].kernel, "gemm_shared.sum_splits", "{log:?}");
    }
}

#[test]
fn the_dispatch_log_lists_kernels_workgroups_and_flops() {
    let Some(mut g) = gpu() else { return };
    let s = Linear { batch: 37, in_features: 100, out_features: 65 };
    let (x, w, y) = (g.alloc(37 * 100).unwrap(), g.alloc(6500).unwrap(), g.alloc(37 * 65).unwrap());
    let t = g.alloc(37 * 65).unwrap();
    g.start_dispatch_log();
    wgan_gpu::ops::linear::forward(&mut g, &s, &x, &w, None, &y).unwrap();
    wgan_gpu::ops::activation::forward(&mut g, Activation::Tanh, &y, &t).unwrap();
    let log = g.take_dispatch_log();
    g.flush().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].flops, Some(2 * 37 * 100 * 65), "{log:?}");
    // The GEMM, or under WGAN_KERNELS=simple the linear layer's own kernel.
    assert!(
        matches!(
            log[0].kernel.split('.').next(),
            Some("gemm" | "gemm_subgroup" | "gemm_subgroup_c4" | "gemm_shared" | "linear")
        ),
        "{log:?}"
    );
    assert!(log[0].workgroups >= 1, "{log:?}");
    assert!(log[1].kernel.starts_with("activation.forward") && log[1].flops.is_none(), "{log:?}");
}

/// The unrolled GAN's look-ahead step from held moments is Adam's next step (the moments are
/// not kept), and its slope is the derivative of that step in the gradient (central
/// differences, in f64 through f32 steps of a unit learning rate).
#[test]
fn adam_held_step_is_adams_next_step_and_held_slope_its_derivative() {
    fn check<B: Backend>(b: &mut B, what: &str) {
        let mut rng = Rng::new(4);
        let n = 300;
        let (g, m, v, w) = (rng.vec(n, -1.0, 1.0), rng.vec(n, -0.1, 0.1), rng.vec(n, 0.0, 1e-2), rng.vec(n, -1.0, 1.0));
        let s = AdamStep { lr: 0.01, beta1: 0.5, beta2: 0.9, eps: 1e-8, weight_decay: 0.0, decoupled: false, t: 4 };
        let up = |b: &mut B, x: &[f32]| b.upload(x).unwrap();
        let (gt, mt, vt) = (up(b, &g), up(b, &m), up(b, &v));
        let (adam, held) = (up(b, &w), up(b, &w));
        let (m2, v2) = (up(b, &m), up(b, &v));
        wgan_gpu::ops::adam::step(b, &s, &adam, &gt, &m2, &v2).unwrap();
        wgan_gpu::ops::adam::held_step(b, &s, (&mt, &vt), &gt, &held).unwrap();
        assert_close(
            &format!("{what}: held step = Adam's"),
            &b.read(&held).unwrap(),
            &b.read(&adam).unwrap(),
            1e-7,
            1e-6,
        );
        assert_eq!(b.read(&mt).unwrap(), m, "{what}: the moments are held");
        let unit = AdamStep { lr: 1.0, ..s };
        let x = up(b, &vec![1.0; n]);
        let slope_t = b.alloc(n).unwrap();
        wgan_gpu::ops::adam::held_slope(b, &unit, (&mt, &vt), &gt, &x, &slope_t).unwrap();
        let h = 1e-3f32;
        let mut step_at = |shift: f32| {
            let shifted: Vec<f32> = g.iter().map(|g| g + shift).collect();
            let (p, shifted) = (up(b, &vec![0.0; n]), up(b, &shifted));
            wgan_gpu::ops::adam::held_step(b, &unit, (&mt, &vt), &shifted, &p).unwrap();
            b.read(&p).unwrap()
        };
        let (plus, minus) = (step_at(h), step_at(-h));
        // −Δ(g ± h) were written; the slope is dΔ/dg.
        let finite: Vec<f32> =
            plus.iter().zip(&minus).map(|(p, q)| ((q - p) as f64 / (2.0 * h as f64)) as f32).collect();
        assert_close(&format!("{what}: held slope"), &b.read(&slope_t).unwrap(), &finite, 2e-2, 2e-2);
    }
    check(&mut CpuBackend, "CPU");
    if let Some(mut b) = gpu() {
        check(&mut b, "GPU");
    }
}
