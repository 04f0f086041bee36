//! Residual G and D for pictures (Miyato et al. 2018's SN-GAN and Brock et al. 2019's BigGAN,
//! at a width a CPU trains): G up-blocks from a 4..7 base to the image, D down-blocks back.
//!
//! Each up-block: BN, ReLU, nearest 2×, conv 3×3, BN, ReLU, conv 3×3, with a 1×1 convolution
//! then nearest 2× as its shortcut (the two commute; the 1×1 runs at the lower resolution). Each
//! down-block: (ReLU,) conv 3×3, ReLU, conv 3×3, average pool, with average pool then 1×1 as its
//! shortcut (again commuted to run small). Channels halve at each step up towards the image and
//! double at each step down, capped at 8 × `width`.

use super::models::dcgan_levels;
use crate::nn::{LayerSpec as L, NetSpec, ResidualSpec, Shape, Upsampling};
use crate::ops::activation::Activation;

/// The channel cap: 8 × width at the coarsest levels.
const MAX_MULTIPLE: usize = 8;

fn conv(out: usize, kernel: usize, bias: bool) -> L {
    L::Conv2d { out, kernel, stride: 1, pad: kernel / 2, bias }
}

fn relu() -> L {
    L::Activation { f: Activation::Relu }
}

fn bn() -> L {
    L::BatchNorm { momentum: 0.1, eps: 1e-5 }
}

/// Channels `steps` levels away from the image: width · 2^steps, capped.
fn channels(width: usize, steps: usize) -> usize {
    width << steps.min(MAX_MULTIPLE.trailing_zeros() as usize)
}

/// Whether the residual models take images of this side: square, halving down to 4..7.
pub fn supports(img: Shape) -> bool {
    img.1 == img.2 && dcgan_levels(img.1).is_some()
}

/// z → Linear → (c, b, b) → one up-block per doubling → BN, ReLU, conv 3×3 → tanh.
pub fn resnet_generator(z_dim: usize, img: Shape, width: usize) -> NetSpec {
    let levels = dcgan_levels(img.1).expect("a size the residual models take (checked by the caller)");
    let base = img.1 >> levels;
    let mut ch = channels(width, levels);
    let mut layers = vec![L::Linear { out: ch * base * base, bias: true }, L::Reshape { to: Shape(ch, base, base) }];
    for step in (0..levels).rev() {
        let out = channels(width, step);
        let nearest = L::Upsample { mode: Upsampling::Nearest };
        let main = vec![bn(), relu(), nearest.clone(), conv(out, 3, false), bn(), relu(), conv(out, 3, true)];
        layers.push(L::Residual(ResidualSpec { main, shortcut: vec![conv(out, 1, true), nearest] }));
        ch = out;
    }
    debug_assert_eq!(ch, width);
    layers.extend([bn(), relu(), conv(img.0, 3, true), L::Activation { f: Activation::Tanh }]);
    NetSpec { input: Shape(z_dim, 1, 1), layers, spectral_norm: false }
}

/// img → one down-block per halving → ReLU → Linear → 1 logit.
pub fn resnet_discriminator(img: Shape, width: usize) -> NetSpec {
    let levels = dcgan_levels(img.1).expect("a size the residual models take (checked by the caller)");
    let mut layers = Vec::new();
    for step in 0..levels {
        let out = channels(width, step);
        // The first block reads the image itself: no activation before its first convolution.
        let mut main = if step == 0 { vec![] } else { vec![relu()] };
        main.extend([conv(out, 3, true), relu(), conv(out, 3, true), L::AvgPool]);
        layers.push(L::Residual(ResidualSpec { main, shortcut: vec![L::AvgPool, conv(out, 1, true)] }));
    }
    layers.extend([relu(), L::Linear { out: 1, bias: true }]);
    NetSpec { input: img, layers, spectral_norm: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_at_32_64_and_28() {
        for side in [32, 64, 28] {
            let img = Shape(3, side, side);
            let g = resnet_generator(16, img, 8);
            assert_eq!(g.output().unwrap(), img, "G at {side}");
            let d = resnet_discriminator(img, 8);
            assert_eq!(d.output().unwrap(), Shape(1, 1, 1), "D at {side}");
        }
    }
}
