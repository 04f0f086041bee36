//! Progressive growing (Karras et al. 2018): G and D start at the base resolution (4..7 pixels)
//! and grow one doubling at a time, each new block faded in over a phase (a blend whose α goes
//! 0 → 1) before a phase of training at the new resolution. Pixel-wise feature normalisation in
//! G, the minibatch standard deviation as an extra feature map before D's last block.
//!
//! G always draws the full image (nearest upsampling after its current output) and D always
//! reads it (average pooling before its current input), so the data, the grids, the evaluation
//! and the checkpoints see one image size through every phase; only the networks between change.
//! A phase's networks name each parameter-holding layer canonically (`g.block2.conv0`,
//! `d.from3`), which is how a new phase takes over the last one's weights, whatever paths the
//! blend moved them to.

use std::collections::HashMap;

use super::models::dcgan_levels;
use super::{Gan, Optimizer};
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::nn::{BlendSpec, LayerSpec as L, Net, NetSpec, ParamInfo, Shape, Upsampling};
use crate::ops::activation::Activation;

/// Where progressive growing stands: `level` doublings above the base are active, the last of
/// them fading in (at `alpha`) when `fading`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    pub level: usize,
    pub fading: bool,
    pub alpha: f32,
}

impl Phase {
    /// Where every run starts: the base resolution.
    pub const START: Phase = Phase { level: 0, fading: false, alpha: 1.0 };

    /// The phase after `images` images shown to G, `per_phase` images to each fade and each
    /// stable phase, growing to `levels` doublings: stable at the base, then a fade and a stable
    /// phase per doubling; the last resolution trains on.
    pub fn at(images: u64, per_phase: u64, levels: usize) -> Phase {
        let k = images / per_phase.max(1);
        let stable = |level| Phase { level, fading: false, alpha: 1.0 };
        if k >= 2 * levels as u64 {
            return stable(levels);
        }
        match k % 2 {
            0 => stable((k / 2) as usize),
            _ => {
                let alpha = (images % per_phase) as f32 / per_phase as f32;
                Phase { level: k.div_ceil(2) as usize, fading: true, alpha }
            }
        }
    }

    /// The side G draws at: `base` doubled `level` times.
    pub fn side(&self, base: usize) -> usize {
        base << self.level
    }

    /// Whether `other` has the same networks (it may differ in α).
    pub fn same_networks(&self, other: &Phase) -> bool {
        self.level == other.level && self.fading == other.fading
    }
}

/// A phase's network, and the canonical name of every parameter-holding layer, by path.
#[derive(Clone, Debug)]
pub struct Grown {
    pub spec: NetSpec,
    pub names: Vec<(String, String)>,
}

impl Grown {
    /// The canonical name of parameter `name` (`<path>.<param>`), if its layer has one.
    pub fn canonical(&self, name: &str) -> Option<String> {
        // The longest named path the parameter lies under: a projection head's `embed.weight`
        // lies under its layer's path.
        let under = |p: &str| name.strip_prefix(p).and_then(|rest| rest.strip_prefix('.'));
        let (rest, c) =
            self.names.iter().filter_map(|(p, c)| Some((under(p)?, c))).min_by_key(|(rest, _)| rest.len())?;
        Some(format!("{c}.{rest}"))
    }
}

/// Layers, each with the canonical names of the parameter-holding layers it is or holds: (the
/// path below it, "" for itself; the name).
#[derive(Default)]
struct Tagged(Vec<(L, Vec<(String, String)>)>);

impl Tagged {
    fn push(&mut self, l: L, tag: Option<String>) -> &mut Self {
        self.0.push((l, tag.map(|t| (String::new(), t)).into_iter().collect()));
        self
    }

    fn plain(&mut self, l: L) -> &mut Self {
        self.push(l, None)
    }

    fn extend(&mut self, other: Tagged) -> &mut Self {
        self.0.extend(other.0);
        self
    }

    /// A blend of `a` and `b` as one layer: its paths' layers keep their names.
    fn blend(&mut self, a: Tagged, b: Tagged) -> &mut Self {
        let names = a.names("a").into_iter().chain(b.names("b")).collect();
        let layers = |t: Tagged| t.0.into_iter().map(|(l, _)| l).collect();
        self.0.push((L::Blend(BlendSpec { a: layers(a), b: layers(b) }), names));
        self
    }

    /// Every name, by its path under `prefix`.
    fn names(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, (_, tags)) in self.0.iter().enumerate() {
            let at = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
            out.extend(
                tags.iter()
                    .map(|(below, t)| (if below.is_empty() { at.clone() } else { format!("{at}.{below}") }, t.clone())),
            );
        }
        out
    }

    fn finish(self, input: Shape) -> Grown {
        let names = self.names("");
        let layers = self.0.into_iter().map(|(l, _)| l).collect();
        Grown { spec: NetSpec { input, layers, spectral_norm: false }, names }
    }
}

const LRELU: L = L::Activation { f: Activation::LeakyRelu(0.2) };

fn conv(out: usize, kernel: usize) -> L {
    L::Conv2d { out, kernel, stride: 1, pad: kernel / 2, bias: true }
}

fn pixel_norm() -> L {
    L::PixelNorm { eps: 1e-8 }
}

/// Channels at `level` of `levels`: `width` at the image, doubling per halving, capped at 8×.
fn channels(width: usize, levels: usize, level: usize) -> usize {
    width << (levels - level).min(3)
}

/// The doublings from the base to a square image's side (28 → 2 from 7, 64 → 4 from 4).
pub fn levels(img: Shape) -> Option<usize> {
    if img.1 != img.2 {
        return None;
    }
    dcgan_levels(img.1)
}

/// G at `phase` for images `img`: z → pixel norm → linear → (c, b, b) → LReLU, pixel norm,
/// conv 3×3 at the base; per doubling: nearest 2×, two convs 3×3 each with LReLU and pixel
/// norm; a 1×1 conv to the image's channels ("toRGB", linear as in the paper); nearest 2× up to
/// the full side. Fading in a level blends the last level's toRGB, upsampled, with the new block
/// and its toRGB.
pub fn generator(z_dim: usize, img: Shape, width: usize, phase: Phase) -> Grown {
    let levels = levels(img).expect("a size progressive growing takes (checked by the caller)");
    let base = img.1 >> levels;
    let ch = |l| channels(width, levels, l);
    let mut t = Tagged::default();
    t.plain(pixel_norm())
        .push(L::Linear { out: ch(0) * base * base, bias: true }, Some("g.base.fc".into()))
        .plain(L::Reshape { to: Shape(ch(0), base, base) })
        .plain(LRELU)
        .plain(pixel_norm())
        .push(conv(ch(0), 3), Some("g.base.conv".into()))
        .plain(LRELU)
        .plain(pixel_norm());
    let block = |l: usize| {
        let mut b = Tagged::default();
        b.plain(L::Upsample { mode: Upsampling::Nearest });
        for k in 0..2 {
            b.push(conv(ch(l), 3), Some(format!("g.block{l}.conv{k}"))).plain(LRELU).plain(pixel_norm());
        }
        b
    };
    let to_rgb = |l: usize| {
        let mut b = Tagged::default();
        b.push(conv(img.0, 1), Some(format!("g.rgb{l}")));
        b
    };
    let solid = if phase.fading { phase.level - 1 } else { phase.level };
    for l in 1..=solid {
        t.extend(block(l));
    }
    if phase.fading {
        let mut old = to_rgb(solid);
        old.plain(L::Upsample { mode: Upsampling::Nearest });
        let mut new = block(phase.level);
        new.extend(to_rgb(phase.level));
        t.blend(old, new);
    } else {
        t.extend(to_rgb(solid));
    }
    for _ in phase.level..levels {
        t.plain(L::Upsample { mode: Upsampling::Nearest });
    }
    t.finish(Shape(z_dim, 1, 1))
}

/// D at `phase`, G's mirror: average pooling from the full side down to the current one; a 1×1
/// conv from the image's channels ("fromRGB") and LReLU; per level down to the base: two convs
/// 3×3 with LReLU, then 2× average pooling; at the base the minibatch standard deviation, a conv
/// 3×3, LReLU, a linear layer, LReLU and the logit. Fading in a level blends the pooled image
/// through the last level's fromRGB with the new fromRGB and block.
pub fn discriminator(img: Shape, width: usize, phase: Phase) -> Grown {
    let levels = levels(img).expect("a size progressive growing takes (checked by the caller)");
    let ch = |l| channels(width, levels, l);
    let mut t = Tagged::default();
    for _ in phase.level..levels {
        t.plain(L::AvgPool);
    }
    let from_rgb = |l: usize| {
        let mut b = Tagged::default();
        b.push(conv(ch(l), 1), Some(format!("d.from{l}"))).plain(LRELU);
        b
    };
    let block = |l: usize| {
        let mut b = Tagged::default();
        b.push(conv(ch(l), 3), Some(format!("d.block{l}.conv0"))).plain(LRELU);
        b.push(conv(ch(l - 1), 3), Some(format!("d.block{l}.conv1"))).plain(LRELU).plain(L::AvgPool);
        b
    };
    let solid = if phase.fading { phase.level - 1 } else { phase.level };
    if phase.fading {
        let mut old = Tagged::default();
        old.plain(L::AvgPool).extend(from_rgb(solid));
        let mut new = from_rgb(phase.level);
        new.extend(block(phase.level));
        t.blend(old, new);
    } else {
        t.extend(from_rgb(solid));
    }
    for l in (1..=solid).rev() {
        t.extend(block(l));
    }
    t.plain(L::MinibatchStddev)
        .push(conv(ch(0), 3), Some("d.base.conv".into()))
        .plain(LRELU)
        .push(L::Linear { out: ch(0), bias: true }, Some("d.base.fc".into()))
        .plain(LRELU)
        .push(L::Linear { out: 1, bias: true }, Some("d.base.logit".into()));
    t.finish(img)
}

/// The networks of one phase, each with its canonical names.
pub struct PhaseNets {
    pub phase: Phase,
    pub g: Grown,
    pub d: Grown,
}

impl PhaseNets {
    pub fn new(z_dim: usize, img: Shape, width: usize, phase: Phase) -> PhaseNets {
        PhaseNets { phase, g: generator(z_dim, img, width, phase), d: discriminator(img, width, phase) }
    }
}

/// Carries a GAN's training state into `to`, built for the next phase's networks: every layer
/// the two phases share (by canonical name) keeps its weights, its moving average, its Adam
/// moments and its spectral-norm vectors; new layers keep their fresh initialisation (the moving
/// average starts from it, and its warm-up starts again). Adam's step counts, the iteration count
/// and ADA's p carry over.
pub fn carry_over<B: Backend>(
    b: &mut B,
    (from, from_nets): (&Gan<B>, &PhaseNets),
    (to, to_nets): (&mut Gan<B>, &PhaseNets),
) -> Result<()> {
    carry_net(b, (&from.g, &from_nets.g), (&to.g, &to_nets.g), Some((&from.opt_g, &to.opt_g)))?;
    carry_net(b, (&from.d, &from_nets.d), (&to.d, &to_nets.d), Some((&from.opt_d, &to.opt_d)))?;
    if let (Some(old), Some(new)) = (&from.g_ema, &to.g_ema) {
        carry_net(b, (old, &from_nets.g), (new, &to_nets.g), None)?;
    }
    (to.opt_g.t, to.opt_d.t, to.step, to.ema_since) = (from.opt_g.t, from.opt_d.t, from.step, from.step);
    if let (Some(old), Some(new)) = (&from.augmented, &to.augmented) {
        b.copy(&old.p, &new.p)?;
    }
    Ok(())
}

/// Copies the parameters (and optimizer moments) of `from`'s named layers into `to`'s layers
/// of the same names.
fn carry_net<B: Backend>(
    b: &mut B,
    (from, from_names): (&Net<B>, &Grown),
    (to, to_names): (&Net<B>, &Grown),
    opts: Option<(&Optimizer<B>, &Optimizer<B>)>,
) -> Result<()> {
    let old: HashMap<String, &ParamInfo> =
        from.param_infos.iter().filter_map(|i| Some((from_names.canonical(&i.name)?, i))).collect();
    for info in &to.param_infos {
        let Some(src) = to_names.canonical(&info.name).and_then(|c| old.get(&c)) else { continue };
        if src.len != info.len {
            return Err(Error::Config(format!("{} has {} values, {} had {}", info.name, info.len, src.name, src.len)));
        }
        let mut pairs = vec![(&from.params, &to.params)];
        if let Some((a, z)) = opts {
            pairs.extend([(&a.m, &z.m), (&a.v, &z.v)]);
        }
        for (a, z) in pairs {
            b.copy(&a.slice(src.offset, src.len), &z.slice(info.offset, info.len))?;
        }
    }
    let old: HashMap<String, [&B::T; 3]> =
        from.spectral_states().into_iter().filter_map(|(n, s)| Some((from_names.canonical(n)?, s))).collect();
    for (name, state) in to.spectral_states() {
        let Some(src) = to_names.canonical(name).and_then(|c| old.get(&c)) else { continue };
        for (a, z) in src.iter().zip(state) {
            b.copy(a, z)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_alternate_fade_and_stable() {
        let at = |images| Phase::at(images, 100, 2);
        assert_eq!(at(0), Phase { level: 0, fading: false, alpha: 1.0 });
        assert_eq!(at(150), Phase { level: 1, fading: true, alpha: 0.5 });
        assert_eq!(at(250), Phase { level: 1, fading: false, alpha: 1.0 });
        assert_eq!(at(375), Phase { level: 2, fading: true, alpha: 0.75 });
        assert_eq!(at(400), Phase { level: 2, fading: false, alpha: 1.0 });
        assert_eq!(at(10_000), Phase { level: 2, fading: false, alpha: 1.0 });
    }

    #[test]
    fn every_phase_draws_and_reads_the_full_image() {
        for img in [Shape(3, 64, 64), Shape(1, 28, 28), Shape(3, 32, 32)] {
            let levels = levels(img).unwrap();
            for k in 0..=2 * levels as u64 {
                let phase = Phase::at(k * 10 + 5, 10, levels);
                let g = generator(16, img, 4, phase);
                assert_eq!(g.spec.output().unwrap(), img, "G at {phase:?}");
                let d = discriminator(img, 4, phase);
                assert_eq!(d.spec.output().unwrap(), Shape(1, 1, 1), "D at {phase:?}");
            }
        }
    }

    #[test]
    fn a_fade_names_the_layers_as_the_phases_on_either_side() {
        let img = Shape(3, 32, 32);
        let before = Phase { level: 1, fading: false, alpha: 1.0 };
        let fade = Phase { level: 2, fading: true, alpha: 0.0 };
        let after = Phase { level: 2, fading: false, alpha: 1.0 };
        let names = |g: Grown| g.names.into_iter().map(|(_, c)| c).collect::<Vec<_>>();
        let (b, f, a) = (
            names(generator(8, img, 4, before)),
            names(generator(8, img, 4, fade)),
            names(generator(8, img, 4, after)),
        );
        assert!(b.iter().all(|n| f.contains(n)), "the fade keeps every layer of the phase before: {b:?} {f:?}");
        assert!(a.iter().all(|n| f.contains(n)), "the fade holds every layer of the phase after: {a:?} {f:?}");
        assert!(f.contains(&"g.rgb1".to_string()) && !a.contains(&"g.rgb1".to_string()));
        let d = discriminator(img, 4, fade);
        // One pooling from 32 to 16, then the blend: the pooled image through fromRGB at 8, or
        // fromRGB at 16 and the new block.
        assert_eq!(d.canonical("1.a.1.weight").as_deref(), Some("d.from1.weight"), "{:?}", d.names);
        assert_eq!(d.canonical("1.b.0.bias").as_deref(), Some("d.from2.bias"));
    }
}
