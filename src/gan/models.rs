//! The two model families for 1×28×28 images.

use crate::nn::{LayerSpec as L, NetSpec, Shape};
use crate::ops::activation::Activation;

const LRELU: Activation = Activation::LeakyRelu(0.2);

fn act(f: Activation) -> L {
    L::Activation { f }
}

fn bn() -> L {
    L::BatchNorm { momentum: 0.1, eps: 1e-5 }
}

/// Goodfellow-style MLP generator: z → hidden (LeakyReLU 0.2) → 784, tanh, as an image.
pub fn mlp_generator(z_dim: usize, hidden: &[usize], img: Shape) -> NetSpec {
    let mut layers = Vec::new();
    for &h in hidden {
        layers.push(L::Linear { out: h, bias: true });
        layers.push(act(LRELU));
    }
    layers.push(L::Linear { out: img.size(), bias: true });
    layers.push(act(Activation::Tanh));
    layers.push(L::Reshape { to: img });
    NetSpec { input: Shape(z_dim, 1, 1), layers }
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
    NetSpec { input: img, layers }
}

/// Options of the 28×28 DCGAN.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DcganOptions {
    /// Channels of the 7×7 and 14×14 feature maps (128 and 64 by default).
    pub width: usize,
    pub g_batch_norm: bool,
    pub d_batch_norm: bool,
    pub d_dropout: f32,
}

impl Default for DcganOptions {
    /// Batch norm in G (Radford et al.: it keeps G from collapsing early); D without it, which
    /// trains stably at these sizes and keeps the real and fake batches independent.
    fn default() -> Self {
        DcganOptions { width: 64, g_batch_norm: true, d_batch_norm: false, d_dropout: 0.0 }
    }
}

/// z → Linear → (2w,7,7) → ConvT(2w→w, 4, s2, p1) → 14×14 → ConvT(w→1, 4, s2, p1) → 28×28, tanh.
/// With batch norm, layers before it drop their bias and use ReLU (Radford et al.); without,
/// LeakyReLU 0.2, exactly the PyTorch reference bench's generator.
pub fn dcgan_generator(z_dim: usize, o: DcganOptions) -> NetSpec {
    let w = o.width;
    let bn_on = o.g_batch_norm;
    let hidden_act = if bn_on { Activation::Relu } else { LRELU };
    let mut layers = vec![L::Linear { out: 2 * w * 49, bias: !bn_on }];
    if bn_on {
        layers.push(bn());
    }
    layers.push(act(hidden_act));
    layers.push(L::Reshape { to: Shape(2 * w, 7, 7) });
    layers.push(L::ConvTranspose2d { out: w, kernel: 4, stride: 2, pad: 1, output_padding: 0, bias: !bn_on });
    if bn_on {
        layers.push(bn());
    }
    layers.push(act(hidden_act));
    layers.push(L::ConvTranspose2d { out: 1, kernel: 4, stride: 2, pad: 1, output_padding: 0, bias: true });
    layers.push(act(Activation::Tanh));
    NetSpec { input: Shape(z_dim, 1, 1), layers }
}

/// 28×28 → Conv(1→w, 4, s2, p1) → 14×14 → Conv(w→2w, 4, s2, p1) → 7×7 → Linear → 1 logit.
pub fn dcgan_discriminator(o: DcganOptions) -> NetSpec {
    let w = o.width;
    let mut layers = vec![L::Conv2d { out: w, kernel: 4, stride: 2, pad: 1, bias: true }, act(LRELU)];
    if o.d_dropout > 0.0 {
        layers.push(L::Dropout { prob: o.d_dropout });
    }
    layers.push(L::Conv2d { out: 2 * w, kernel: 4, stride: 2, pad: 1, bias: !o.d_batch_norm });
    if o.d_batch_norm {
        layers.push(bn());
    }
    layers.push(act(LRELU));
    if o.d_dropout > 0.0 {
        layers.push(L::Dropout { prob: o.d_dropout });
    }
    layers.push(L::Linear { out: 1, bias: true });
    NetSpec { input: Shape(1, 28, 28), layers }
}

/// The exact models of `shared/bench/pytorch_gan_bench.py` (no batch norm, no dropout).
pub fn reference_bench_models(kind: super::ModelKind, z_dim: usize) -> (NetSpec, NetSpec) {
    let img = Shape(1, 28, 28);
    match kind {
        super::ModelKind::Mlp => {
            (mlp_generator(z_dim, &[256, 512, 1024], img), mlp_discriminator(img, &[512, 256], 0.0))
        }
        super::ModelKind::Dcgan => {
            let o = DcganOptions { width: 64, g_batch_norm: false, d_batch_norm: false, d_dropout: 0.0 };
            (dcgan_generator(z_dim, o), dcgan_discriminator(o))
        }
    }
}
