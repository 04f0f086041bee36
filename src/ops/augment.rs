//! augment: DiffAugment's colour, translation and cutout (Zhao et al. 2020), in that order, on
//! images [n, c, h, w]: each sample's brightness, saturation and contrast changed, then shifted
//! by up to `shift` pixels each way (zeros fill in) and a box of `cut` pixels zeroed, all drawn
//! from (seed, sample). The map is affine, so backward is its linear part's transpose, drawn
//! from the same seed: D is trained on augmented reals and fakes and G learns through the same
//! transforms, which keeps D from memorising a small folder (Zhao et al.'s and Karras et al.'s
//! remedy for small data).

use serde::{Deserialize, Serialize};

use super::reduce::ChannelSum;
use super::{GpuTensors, Pass, all, all_mut, expect, run, split, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

/// Which transforms (DiffAugment's policy names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default)]
    pub color: bool,
    pub translation: bool,
    pub cutout: bool,
}

impl Policy {
    pub fn any(&self) -> bool {
        self.color || self.translation || self.cutout
    }
}

/// How often each transform is applied (`--augment-p`): always (DiffAugment), with a fixed
/// probability, or with ADA's p, which a controller raises while D is too sure of the reals
/// (Karras et al. 2020).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probability {
    Fixed(f32),
    /// ADA: p starts at 0 and moves by ±batch / [`ADA_IMAGES`] per D step, up while more than
    /// `target` of the real batch gets a positive logit.
    Auto {
        target: f32,
    },
}

impl Default for Probability {
    fn default() -> Self {
        Probability::Fixed(1.0)
    }
}

impl Probability {
    /// p before the first step.
    pub fn initial(&self) -> f32 {
        match *self {
            Probability::Fixed(p) => p,
            Probability::Auto { .. } => 0.0,
        }
    }
}

/// ADA's target for the share of reals D calls real (Karras et al.'s r_t = 0.6).
pub const ADA_TARGET: f32 = 0.6;

/// Real images over which ADA's p can move from 0 to 1. Karras et al. use 500k for runs of
/// 25M images (2% of a run); a 30-minute run here sees about 65k, and 20k lets p reach what a
/// small folder needs within a third of it without following each batch's noise.
pub const ADA_IMAGES: f32 = 20_000.0;

/// ADA's controller over a real batch of `n` logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adjust {
    pub n: usize,
    pub target: f32,
    pub step: f32,
}

/// DiffAugment's sizes: translation by up to 1/8 of the side, cutout of half of it.
pub const TRANSLATION_RATIO: f32 = 0.125;
pub const CUTOUT_RATIO: f32 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Largest shift each way, in pixels (0: none).
    pub shift: (usize, usize),
    /// The cutout box's size (0: none).
    pub cut: (usize, usize),
    /// Brightness, saturation and contrast first.
    pub color: bool,
    pub seed: u64,
}

impl Augment {
    /// `policy` on [n, c, h, w] with DiffAugment's sizes (rounded as its code rounds them).
    pub fn new(policy: Policy, (n, c, h, w): (usize, usize, usize, usize), seed: u64) -> Self {
        let size = |on: bool, ratio: f32, side: usize| if on { (side as f32 * ratio + 0.5) as usize } else { 0 };
        Augment {
            n,
            c,
            h,
            w,
            shift: (size(policy.translation, TRANSLATION_RATIO, h), size(policy.translation, TRANSLATION_RATIO, w)),
            cut: (size(policy.cutout, CUTOUT_RATIO, h), size(policy.cutout, CUTOUT_RATIO, w)),
            color: policy.color,
            seed,
        }
    }

    /// The per-sample sums colour reads, as a channel sum over a batch of one.
    fn sums(&self) -> ChannelSum {
        ChannelSum { n: 1, channels: self.n, spatial: self.c * self.h * self.w }
    }

    fn params(&self) -> AugmentParams {
        let [seed_lo, seed_hi] = split(self.seed);
        AugmentParams {
            n: u(self.n),
            c: u(self.c),
            h: u(self.h),
            w: u(self.w),
            shift_h: u(self.shift.0),
            shift_w: u(self.shift.1),
            cut_h: u(self.cut.0),
            cut_w: u(self.cut.1),
            seed_lo,
            seed_hi,
            ada_target: 0.0,
            ada_step: 0.0,
        }
    }

    fn check(&self, x: usize, y: usize) -> Result<()> {
        expect("augment", "x", x, &[self.n, self.c, self.h, self.w])?;
        expect("augment", "y", y, &[self.n, self.c, self.h, self.w])
    }
}

params! {
    pub struct AugmentParams {
        n: u32, c: u32, h: u32, w: u32, shift_h: u32, shift_w: u32, cut_h: u32, cut_w: u32,
        seed_lo: u32, seed_hi: u32, ada_target: f32, ada_step: f32,
    }
}

/// What the transforms need besides their input and output: the colour-changed images
/// [n, c, h, w], the per-sample sums [n] colour reads, each sample's drawn transforms [n, 8],
/// and the probability [1] of applying each transform.
pub struct Scratch<'a, T> {
    pub mid: &'a T,
    pub sums: &'a T,
    pub draws: &'a T,
    pub p: &'a T,
}

/// Values drawn per sample: shift (2), box corner (2), colour factors (3), padding.
pub const DRAWS: usize = 8;

/// y = augment(x), with `t` its scratch tensors.
pub fn forward<B: Backend>(b: &mut B, s: &Augment, x: &B::T, t: Scratch<'_, B::T>, y: &B::T) -> Result<()> {
    run(b, &DrawPass(*s), &[t.p], &[t.draws])?;
    if !s.color {
        return run(b, &AugmentPass(*s, false), &[x, t.draws], &[y]);
    }
    crate::ops::reduce::sum_channels(b, &s.sums(), x, t.sums, false)?;
    run(b, &ColorPass(*s, false), &[x, t.sums, t.draws], &[t.mid])?;
    run(b, &AugmentPass(*s, false), &[t.mid, t.draws], &[y])
}

/// dx = augmentᵀ(dy), with the forward's `s`.
pub fn backward<B: Backend>(b: &mut B, s: &Augment, dy: &B::T, t: Scratch<'_, B::T>, dx: &B::T) -> Result<()> {
    run(b, &DrawPass(*s), &[t.p], &[t.draws])?;
    if !s.color {
        return run(b, &AugmentPass(*s, true), &[dy, t.draws], &[dx]);
    }
    run(b, &AugmentPass(*s, true), &[dy, t.draws], &[t.mid])?;
    crate::ops::reduce::sum_channels(b, &s.sums(), t.mid, t.sums, false)?;
    // Colour's linear part is symmetric (a sum of scaled averaging projections): its transpose
    // is itself, without the brightness shift.
    run(b, &ColorPass(*s, true), &[t.mid, t.sums, t.draws], &[dx])
}

/// ADA's controller: moves `p` [1] by the share of `logits` [n] (D's, on a real batch) above 0.
pub fn adjust<B: Backend>(b: &mut B, s: &Adjust, logits: &B::T, p: &B::T) -> Result<()> {
    run(b, &AdjustPass(*s), &[logits], &[p])
}

struct AdjustPass(Adjust);

impl Pass for AdjustPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        expect("augment", "logits", all::<_, 1>(reads)[0], &[self.0.n])?;
        expect("augment", "p", all::<_, 1>(writes)[0], &[1])
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([logits], [p]) = (all(reads), all_mut(writes));
        reference::adjust(&self.0, logits, &mut p[0]);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([logits], [p]) = (all(reads), all(writes));
        let params =
            AugmentParams { n: u(self.0.n), ada_target: self.0.target, ada_step: self.0.step, ..Default::default() };
        g.dispatch_items("augment", "adjust", &params, &[(1, logits), (2, p)], 1)
    }
}

/// Writes each sample's drawn transforms [n, DRAWS], once a pass rather than per element.
struct DrawPass(Augment);

impl Pass for DrawPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        expect("augment", "p", all::<_, 1>(reads)[0], &[1])?;
        expect("augment", "draws", all::<_, 1>(writes)[0], &[self.0.n, DRAWS])
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([p], [draws]) = (all(reads), all_mut(writes));
        reference::draw(&self.0, p[0], draws);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([p], [draws]) = (all(reads), all(writes));
        g.dispatch_items("augment", "draw", &self.0.params(), &[(1, p), (2, draws)], self.0.n)
    }
}

/// Colour: reads x and its per-sample sums, writes y; `true`: the linear part only (backward).
struct ColorPass(Augment, bool);

impl Pass for ColorPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([x, sums, draws], [y]) = (all(reads), all(writes));
        expect("augment", "sums", sums, &[self.0.n])?;
        expect("augment", "draws", draws, &[self.0.n, DRAWS])?;
        self.0.check(x, y)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([x, sums, draws], [y]) = (all(reads), all_mut(writes));
        reference::color(&self.0, x, sums, draws, !self.1, y);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([x, sums, draws], [y]) = (all(reads), all(writes));
        let entry = if self.1 { "color_linear" } else { "color" };
        g.dispatch_items("augment", entry, &self.0.params(), &[(1, x), (2, y), (3, sums), (4, draws)], y.len)
    }
}

/// Forward reads x, writes y; backward (true) reads dy, writes dx.
struct AugmentPass(Augment, bool);

impl Pass for AugmentPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([r, draws], [w]) = (all(reads), all(writes));
        expect("augment", "draws", draws, &[self.0.n, DRAWS])?;
        self.0.check(r, w)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([r, draws], [w]) = (all(reads), all_mut(writes));
        if self.1 {
            reference::augment_backward(&self.0, draws, r, w)
        } else {
            reference::augment_forward(&self.0, draws, r, w)
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([r, draws], [w]) = (all(reads), all(writes));
        let entry = if self.1 { "backward" } else { "forward" };
        g.dispatch_items("augment", entry, &self.0.params(), &[(1, r), (4, draws), (2, w)], w.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
/// The transforms read each sample's draws, as the shaders do.
pub mod reference {
    use super::{Adjust, Augment, DRAWS};
    use crate::ops::random::reference::{bits, unit_float};
    use crate::reference::{Float, c};

    /// Each sample's drawn transforms as augment.wgsl's `draw` writes them: shift (ty, tx),
    /// cutout box corner (top, left), brightness shift, saturation and contrast factors, 0; each
    /// transform applied with probability `p` and the identity's values otherwise. The factors
    /// are DiffAugment's: U(−½, ½), U(0, 2) and U(½, 3/2).
    pub fn draw(a: &Augment, p: f32, draws: &mut [f32]) {
        let (sh, sw) = (a.shift.0 as u32, a.shift.1 as u32);
        let (ch, cw) = (a.cut.0 as u32, a.cut.1 as u32);
        for (s, d) in draws.chunks_mut(DRAWS).enumerate().take(a.n) {
            let [t0, t1] = bits(a.seed, 0, 2 * s as u64);
            let [c0, c1] = bits(a.seed, 0, 2 * s as u64 + 1);
            let [r0, r1] = bits(a.seed, 1 << 32, s as u64);
            let [q0, _] = bits(a.seed, 2 << 32, s as u64);
            let [g0, g1] = bits(a.seed, 3 << 32, s as u64);
            let [k0, _] = bits(a.seed, 4 << 32, s as u64);
            let (shift, cut, color) = (unit_float(g0) < p, unit_float(g1) < p, unit_float(k0) < p);
            let pick = |on: bool, v: f32, off: f32| if on { v } else { off };
            d.copy_from_slice(&[
                pick(shift, ((t0 % (2 * sh + 1)) as i64 - sh as i64) as f32, 0.0),
                pick(shift, ((t1 % (2 * sw + 1)) as i64 - sw as i64) as f32, 0.0),
                pick(cut, ((c0 % (a.h as u32 + 1 - ch % 2)) as i64 - (ch / 2) as i64) as f32, -((ch + 1) as f32)),
                pick(cut, ((c1 % (a.w as u32 + 1 - cw % 2)) as i64 - (cw / 2) as i64) as f32, -((cw + 1) as f32)),
                pick(color, unit_float(r0) - 0.5, 0.0),
                pick(color, 2.0 * unit_float(r1), 1.0),
                pick(color, unit_float(q0) + 0.5, 1.0),
                0.0,
            ]);
        }
    }

    /// ADA's step: p += sign(mean(sign(logits)) − target) · step, clamped to [0, 1].
    pub fn adjust(s: &Adjust, logits: &[f32], p: &mut f32) {
        let sign = |v: f32| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        let real = logits.iter().take(s.n).map(|&z| sign(z)).sum::<f32>() / s.n as f32;
        *p = (*p + sign(real - s.target) * s.step).clamp(0.0, 1.0);
    }

    /// DiffAugment's brightness, saturation and contrast in one affine map per sample:
    /// y = k·s·(x − m_c) + k·(m_c − m) + m + b, where m_c is the pixel's mean over channels and
    /// m = sums[sample] / (c·h·w) the sample's; `shift` false leaves out b (the linear part).
    pub fn color<F: Float>(a: &Augment, x: &[F], sums: &[F], draws: &[f32], shift: bool, y: &mut [F]) {
        let (plane, len) = (a.h * a.w, a.c * a.h * a.w);
        for (s, &sum) in sums.iter().enumerate().take(a.n) {
            let d = &draws[s * DRAWS..];
            let (b, sat, k) = (c::<F>(d[4] as f64), c::<F>(d[5] as f64), c::<F>(d[6] as f64));
            let b = if shift { b } else { F::zero() };
            let m = sum / c::<F>(len as f64);
            for p in 0..plane {
                let at = |ch: usize| s * len + ch * plane + p;
                let m_c = (0..a.c).fold(F::zero(), |acc, ch| acc + x[at(ch)]) / c::<F>(a.c as f64);
                for ch in 0..a.c {
                    y[at(ch)] = k * sat * (x[at(ch)] - m_c) + k * (m_c - m) + m + b;
                }
            }
        }
    }

    /// Every (output index, input index) pair of one sample's plane the transform copies.
    fn copies(a: &Augment, d: &[f32]) -> Vec<(usize, usize)> {
        let [ty, tx, top, left] = [d[0], d[1], d[2], d[3]].map(|v| v as i64);
        let (h, w) = (a.h as i64, a.w as i64);
        let mut out = Vec::new();
        for i in 0..h {
            for j in 0..w {
                let cut = i >= top && i < top + a.cut.0 as i64 && j >= left && j < left + a.cut.1 as i64;
                let (si, sj) = (i + ty, j + tx);
                if !cut && (0..h).contains(&si) && (0..w).contains(&sj) {
                    out.push(((i * w + j) as usize, (si * w + sj) as usize));
                }
            }
        }
        out
    }

    /// Calls `f(o, i)` for every element o of every sample's output that copies input element i.
    fn each_copy(a: &Augment, draws: &[f32], mut f: impl FnMut(usize, usize)) {
        let plane = a.h * a.w;
        for s in 0..a.n {
            let copies = copies(a, &draws[s * DRAWS..]);
            for at in (s * a.c..(s + 1) * a.c).map(|c| c * plane) {
                copies.iter().for_each(|&(o, i)| f(at + o, at + i));
            }
        }
    }

    /// y = augment(x), [n, c, h, w]
    pub fn augment_forward<F: Float>(a: &Augment, draws: &[f32], x: &[F], y: &mut [F]) {
        y.fill(F::zero());
        each_copy(a, draws, |o, i| y[o] = x[i]);
    }

    /// dx = augmentᵀ(dy), [n, c, h, w]
    pub fn augment_backward<F: Float>(a: &Augment, draws: &[f32], dy: &[F], dx: &mut [F]) {
        dx.fill(F::zero());
        each_copy(a, draws, |o, i| dx[i] = dx[i] + dy[o]);
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn augment_gradients_and_sizes() {
        let mut rng = Rng::new(51);
        for (policy, p) in [
            (Policy { color: false, translation: true, cutout: false }, 1.0),
            (Policy { color: false, translation: false, cutout: true }, 1.0),
            (Policy { color: true, translation: false, cutout: false }, 1.0),
            (Policy { color: true, translation: true, cutout: true }, 1.0),
            (Policy { color: true, translation: true, cutout: true }, 0.5),
        ] {
            let (a, len) = (Augment::new(policy, (3, 3, 9, 7), 77), 3 * 3 * 9 * 7);
            let (x, r) = (vecf(&mut rng, len), vecf(&mut rng, len));
            let mut draws = vec![0.0; 3 * DRAWS];
            draw(&a, p, &mut draws);
            // As the entry points compose them: colour (reading its per-sample sums), then the
            // geometric transforms; backward the other way round.
            let sums = |x: &[f64]| -> Vec<f64> { x.chunks(len / 3).map(|s| s.iter().sum()).collect() };
            let forward = |x: &[f64]| {
                let (mut mid, mut y) = (x.to_vec(), vec![0.0; len]);
                if a.color {
                    color(&a, x, &sums(x), &draws, true, &mut mid);
                }
                augment_forward(&a, &draws, &mid, &mut y);
                y
            };
            let (mut mid, mut dx) = (vec![0.0; len], vec![0.0; len]);
            augment_backward(&a, &draws, &r, &mut mid);
            if a.color {
                color(&a, &mid, &sums(&mid), &draws, false, &mut dx);
            } else {
                dx = mid;
            }
            check(&format!("augment {policy:?} p {p}"), &x, &r, forward, &dx);
        }
        // DiffAugment's sizes at 64 pixels: shifts up to 8, a 32-pixel box.
        let a = Augment::new(Policy { color: true, translation: true, cutout: true }, (200, 3, 64, 64), 0);
        assert_eq!((a.shift, a.cut), ((8, 8), (32, 32)));
        let mut draws = vec![0.0; 200 * DRAWS];
        draw(&a, 1.0, &mut draws);
        let shifts: Vec<&[f32]> = draws.chunks(DRAWS).collect();
        assert!(shifts.iter().any(|t| t[0] == -8.0) && shifts.iter().any(|t| t[1] == 8.0), "shifts reach ±8");
    }

    /// p = 0 leaves every image as it is; p = ½ transforms about half of them, each transform
    /// drawn on its own.
    #[test]
    fn probability_gates_each_transform() {
        let (n, len) = (400, 3 * 5 * 5);
        let a = Augment::new(Policy { color: true, translation: true, cutout: true }, (n, 3, 5, 5), 9);
        let x: Vec<f64> = (0..n * len).map(|i| (i % 17) as f64 / 17.0).collect();
        let sums: Vec<f64> = x.chunks(len).map(|s| s.iter().sum()).collect();
        let mut draws = vec![0.0; n * DRAWS];
        draw(&a, 0.0, &mut draws);
        let (mut mid, mut y) = (vec![0.0; n * len], vec![0.0; n * len]);
        color(&a, &x, &sums, &draws, true, &mut mid);
        augment_forward(&a, &draws, &mid, &mut y);
        assert!(y.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-12), "p = 0 is the identity");
        draw(&a, 0.5, &mut draws);
        let share =
            |k: usize, identity: f32| draws.chunks(DRAWS).filter(|d| d[k] != identity).count() as f64 / n as f64;
        for (k, identity) in [(5, 1.0), (2, -4.0)] {
            assert!((share(k, identity) - 0.5).abs() < 0.08, "draw {k}: {}", share(k, identity));
        }
        let both = draws.chunks(DRAWS).filter(|d| d[5] != 1.0 && d[2] != -4.0).count() as f64 / n as f64;
        assert!((both - 0.25).abs() < 0.08, "independent gates: {both}");
    }

    /// ADA's controller: p rises while more than the target share of reals gets a positive
    /// logit, falls otherwise, and stays in [0, 1].
    #[test]
    fn ada_moves_p_towards_the_target() {
        let s = Adjust { n: 5, target: 0.6, step: 0.25 };
        let mut p = 0.0;
        reference::adjust(&s, &[1.0, 2.0, 3.0, 4.0, -1.0], &mut p);
        assert_eq!(p, 0.0, "at the target p stays");
        for expected in [0.25, 0.5, 0.75, 1.0, 1.0] {
            reference::adjust(&s, &[1.0, 2.0, 3.0, 4.0, 0.5], &mut p);
            assert_eq!(p, expected, "D calls every real real: p rises, up to 1");
        }
        reference::adjust(&s, &[1.0, -2.0, 3.0, -4.0, 0.0], &mut p);
        assert_eq!(p, 0.75, "fewer than the target: p falls");
    }
}
