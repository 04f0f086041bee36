//! The two model families: MLPs for any image or table row, DCGANs for square images whose side
//! halves down to 4..7 (28, 32, 64, ...).

use crate::error::{Error, Result};
use crate::nn::{LayerSpec as L, NetSpec, Shape, Upsampling};
use crate::ops::activation::Activation;

const LRELU: Activation = Activation::LeakyRelu(0.2);

fn act(f: Activation) -> L {
    L::Activation { f }
}

fn bn() -> L {
    L::BatchNorm { momentum: 0.1, eps: 1e-5 }
}

/// Goodfellow-style MLP generator: z → hidden (LeakyReLU 0.2) → 784, tanh, as an image; a
/// table row's encoded columns are unbounded, so `bounded` false leaves out the tanh.
pub fn mlp_generator(z_dim: usize, hidden: &[usize], img: Shape, bounded: bool) -> NetSpec {
    let mut layers = Vec::new();
    for &h in hidden {
        layers.push(L::Linear { out: h, bias: true });
        layers.push(act(LRELU));
    }
    layers.push(L::Linear { out: img.size(), bias: true });
    if bounded {
        layers.push(act(Activation::Tanh));
    }
    layers.push(L::Reshape { to: img });
    NetSpec { input: Shape(z_dim, 1, 1), layers, spectral_norm: false }
}

/// MLP discriminator: image → hidden (LeakyReLU 0.2, optional dropout) → 1 logit.
pub fn mlp_discriminator(img: Shape, hidden: &[usize], dropout: f32) -> NetSpec {
    let mut layers = Vec::new();
    for &h in hidden {
        layers.push(L::Linear { out: h, bias: true });
        layers.push(act(LRELU));
        if dropout > 0.0 {
            layers.push(L::Dropout { prob: dropout });
        }
    }
    layers.push(L::Linear { out: 1, bias: true });
    NetSpec { input: img, layers, spectral_norm: false }
}

/// InfoGAN's Q head on D's `features`: one hidden LeakyReLU layer, then the categorical
/// code's logits and the continuous codes' means (Chen et al. 2016's, without batch norm).
pub fn info_head(features: usize, hidden: usize, outputs: usize) -> NetSpec {
    let layers = vec![L::Linear { out: hidden, bias: true }, act(LRELU), L::Linear { out: outputs, bias: true }];
    NetSpec { input: Shape(features, 1, 1), layers, spectral_norm: false }
}

/// Options of the DCGAN.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganOptions {
    /// Channels of the feature map one step below full resolution; doubled at each step down
    /// (at 28×28: 14×14 has `width`, 7×7 has 2·`width`).
    pub width: usize,
    pub g_batch_norm: bool,
    pub d_batch_norm: bool,
    pub d_dropout: f32,
    /// Convolutions per level of D (1: Radford et al.'s).
    pub d_depth: usize,
    /// How G doubles its feature maps.
    pub g_upsample: GUpsample,
}

/// How the DCGAN's G doubles its feature maps at each level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GUpsample {
    /// A 4×4 transposed convolution of stride 2 (Radford et al.).
    #[default]
    Transposed,
    /// Nearest-neighbour 2× then a 3×3 convolution (Odena et al. 2016's resize-convolution: no
    /// checkerboard by construction, since every output pixel sees the same number of inputs;
    /// G does 2.25× the multiply-adds).
    Nearest,
}

impl Default for DcganOptions {
    /// Batch norm in G (Radford et al.: it keeps G from collapsing early); D without it, which
    /// trains stably at these sizes and keeps the real and fake batches independent.
    fn default() -> Self {
        DcganOptions {
            width: 64,
            g_batch_norm: true,
            d_batch_norm: false,
            d_dropout: 0.0,
            d_depth: 1,
            g_upsample: GUpsample::Transposed,
        }
    }
}

/// How many stride-2 steps take a side of `size` down to a 4..7 base (28 → 7 in 2, 32 → 4 in 3,
/// 64 → 4 in 4), or None when halving never lands there exactly.
pub fn dcgan_levels(size: usize) -> Option<usize> {
    (1..8).find(|&l| size.is_multiple_of(1 << l) && (4..=7).contains(&(size >> l)))
}

fn levels_of(img: Shape) -> usize {
    assert_eq!(img.1, img.2, "the DCGAN needs square images");
    dcgan_levels(img.1).expect("a size the DCGAN supports (checked by the caller)")
}

/// z → Linear → (2^(L−1)·w, b, b) → L × ConvT(4, s2, p1) (or nearest 2× then a 3×3 conv),
/// halving channels → img, tanh, where b = side / 2^L (at 28×28: 7×7 → 14×14 → 28×28). With
/// batch norm, layers before it drop their bias and use ReLU (Radford et al.); without, LeakyReLU
/// 0.2, exactly the PyTorch reference bench's generator.
pub fn dcgan_generator(z_dim: usize, img: Shape, o: DcganOptions) -> NetSpec {
    let levels = levels_of(img);
    let base = img.1 >> levels;
    let bn_on = o.g_batch_norm;
    let hidden_act = if bn_on { Activation::Relu } else { LRELU };
    let mut ch = o.width << (levels - 1);
    let mut layers = vec![L::Linear { out: ch * base * base, bias: !bn_on }];
    if bn_on {
        layers.push(bn());
    }
    layers.push(act(hidden_act));
    layers.push(L::Reshape { to: Shape(ch, base, base) });
    for level in (0..levels).rev() {
        let last = level == 0;
        let out = if last { img.0 } else { ch / 2 };
        let bias = last || !bn_on;
        match o.g_upsample {
            GUpsample::Transposed => {
                layers.push(L::ConvTranspose2d { out, kernel: 4, stride: 2, pad: 1, output_padding: 0, bias })
            }
            GUpsample::Nearest => layers.extend([
                L::Upsample { mode: Upsampling::Nearest },
                L::Conv2d { out, kernel: 3, stride: 1, pad: 1, bias },
            ]),
        }
        if !last {
            if bn_on {
                layers.push(bn());
            }
            layers.push(act(hidden_act));
        }
        ch = out;
    }
    layers.push(act(Activation::Tanh));
    NetSpec { input: Shape(z_dim, 1, 1), layers, spectral_norm: false }
}

/// img → L × Conv(4, s2, p1), doubling channels from `width` → (2^(L−1)·w, b, b) → Linear → 1
/// logit (at 28×28: 14×14 → 7×7). Batch norm, when asked for, on every conv but the first
/// (Radford et al.).
pub fn dcgan_discriminator(img: Shape, o: DcganOptions) -> NetSpec {
    let levels = levels_of(img);
    let mut layers = Vec::new();
    for level in 0..levels {
        let first = level == 0;
        let norm = o.d_batch_norm && !first;
        for conv in 0..o.d_depth {
            let (kernel, stride) = if conv == 0 { (4, 2) } else { (3, 1) };
            layers.push(L::Conv2d { out: o.width << level, kernel, stride, pad: 1, bias: !norm });
            if norm {
                layers.push(bn());
            }
            layers.push(act(LRELU));
        }
        if o.d_dropout > 0.0 {
            layers.push(L::Dropout { prob: o.d_dropout });
        }
    }
    layers.push(L::Linear { out: 1, bias: true });
    NetSpec { input: img, layers, spectral_norm: false }
}

/// J. Brownlee's Keras DCGAN for MNIST, for images whose side divides by 4: G dense 128·(s/4)²,
/// LeakyReLU 0.2, two ConvT(128, 4, s2) with LeakyReLU, Conv(c, 7, p3), sigmoid; D two
/// Conv(64, 3, s2, p1) each with LeakyReLU 0.2 and dropout 0.4, then one logit. (Keras' "same"
/// padding puts the odd pixel at the bottom-right; symmetric padding shifts it by half a pixel.)
pub fn keras_generator(z_dim: usize, img: Shape) -> NetSpec {
    let base = img.1 / 4;
    let convt = L::ConvTranspose2d { out: 128, kernel: 4, stride: 2, pad: 1, output_padding: 0, bias: true };
    let layers = vec![
        L::Linear { out: 128 * base * base, bias: true },
        act(LRELU),
        L::Reshape { to: Shape(128, base, base) },
        convt.clone(),
        act(LRELU),
        convt,
        act(LRELU),
        L::Conv2d { out: img.0, kernel: 7, stride: 1, pad: 3, bias: true },
        act(Activation::Sigmoid),
    ];
    NetSpec { input: Shape(z_dim, 1, 1), layers, spectral_norm: false }
}

pub fn keras_discriminator(img: Shape) -> NetSpec {
    let conv = L::Conv2d { out: 64, kernel: 3, stride: 2, pad: 1, bias: true };
    let layers = vec![
        conv.clone(),
        act(LRELU),
        L::Dropout { prob: 0.4 },
        conv,
        act(LRELU),
        L::Dropout { prob: 0.4 },
        L::Linear { out: 1, bias: true },
    ];
    NetSpec { input: img, layers, spectral_norm: false }
}

/// The same two networks told one of `classes` classes (Mirza & Osindero 2014): G reads z then
/// a one-hot label. D, with `projection`, ends in a projection head (Miyato & Koyama 2018: its
/// logit plus the inner product of its last features with the class's embedding); otherwise it
/// reads the image then one constant plane per class when it starts with a convolution, one
/// feature per class when it starts with a linear layer.
pub fn conditional(mut g: NetSpec, mut d: NetSpec, classes: usize, projection: bool) -> (NetSpec, NetSpec) {
    g.input = Shape(g.input.size() + classes, 1, 1);
    if projection {
        if let Some(last @ L::Linear { out: 1, .. }) = d.layers.last_mut() {
            *last = L::Projection { classes };
            return (g, d);
        }
    }
    d.input = match d.layers.first() {
        Some(L::Linear { .. }) => Shape(d.input.size() + classes, 1, 1),
        _ => Shape(d.input.0 + classes, d.input.1, d.input.2),
    };
    (g, d)
}

/// G with each batch norm made conditional on the class (see
/// [`LayerSpec::ConditionalBatchNorm`]); an error where G has none.
pub fn class_norms(mut g: NetSpec, classes: usize) -> Result<NetSpec> {
    fn convert(layers: &mut [L], classes: usize) -> usize {
        let mut n = 0;
        for l in layers {
            match l {
                &mut L::BatchNorm { momentum, eps } => {
                    *l = L::ConditionalBatchNorm { classes, momentum, eps };
                    n += 1;
                }
                L::Residual(r) => n += convert(&mut r.main, classes) + convert(&mut r.shortcut, classes),
                L::Blend(m) => n += convert(&mut m.a, classes) + convert(&mut m.b, classes),
                _ => {}
            }
        }
        n
    }
    if convert(&mut g.layers, classes) == 0 {
        return Err(Error::Config(
            "--g-label norm makes G's batch norms conditional, and this G has none (the MLP's, or one built \
             with --no-g-batch-norm): use --g-label input"
                .into(),
        ));
    }
    Ok(g)
}

/// The exact models of `shared/bench/pytorch_gan_bench.py` (no batch norm, no dropout).
pub fn reference_bench_models(kind: super::ModelKind, z_dim: usize) -> (NetSpec, NetSpec) {
    let img = Shape(1, 28, 28);
    match kind {
        super::ModelKind::Mlp => {
            (mlp_generator(z_dim, &[256, 512, 1024], img, true), mlp_discriminator(img, &[512, 256], 0.0))
        }
        super::ModelKind::Dcgan => {
            let o = DcganOptions { g_batch_norm: false, ..DcganOptions::default() };
            (dcgan_generator(z_dim, img, o), dcgan_discriminator(img, o))
        }
        super::ModelKind::Keras => (keras_generator(z_dim, img), keras_discriminator(img)),
        super::ModelKind::Resnet => {
            (super::resnet::resnet_generator(z_dim, img, 32), super::resnet::resnet_discriminator(img, 32))
        }
        // Grown to the full image.
        super::ModelKind::Progan => {
            let nets = super::progan::PhaseNets::new(z_dim, img, 32, super::progan::Phase::at(u64::MAX, 1, 2));
            (nets.g.spec, nets.d.spec)
        }
    }
}
