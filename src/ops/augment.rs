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
        seed_lo: u32, seed_hi: u32,
    }
}

/// What the transforms need besides their input and output: the colour-changed images
/// [n, c, h, w], the per-sample sums [n] colour reads, and each sample's drawn transforms [n, 8].
pub struct Scratch<'a, T> {
    pub mid: &'a T,
    pub sums: &'a T,
    pub draws: &'a T,
}

/// Values drawn per sample: shift (2), box corner (2), colour factors (3), padding.
pub const DRAWS: usize = 8;

/// y = augment(x), with `t` its scratch tensors.
pub fn forward<B: Backend>(b: &mut B, s: &Augment, x: &B::T, t: Scratch<'_, B::T>, y: &B::T) -> Result<()> {
    run(b, &DrawPass(*s), &[], &[t.draws])?;
    if !s.color {
        return run(b, &AugmentPass(*s, false), &[x, t.draws], &[y]);
    }
    crate::ops::reduce::sum_channels(b, &s.sums(), x, t.sums, false)?;
    run(b, &ColorPass(*s, false), &[x, t.sums, t.draws], &[t.mid])?;
    run(b, &AugmentPass(*s, false), &[t.mid, t.draws], &[y])
}

/// dx = augmentᵀ(dy), with the forward's `s`.
pub fn backward<B: Backend>(b: &mut B, s: &Augment, dy: &B::T, t: Scratch<'_, B::T>, dx: &B::T) -> Result<()> {
    run(b, &DrawPass(*s), &[], &[t.draws])?;
    if !s.color {
        return run(b, &AugmentPass(*s, true), &[dy, t.draws], &[dx]);
    }
    run(b, &AugmentPass(*s, true), &[dy, t.draws], &[t.mid])?;
    crate::ops::reduce::sum_channels(b, &s.sums(), t.mid, t.sums, false)?;
    // Colour's linear part is symmetric (a sum of scaled averaging projections): its transpose
    // is itself, without the brightness shift.
    run(b, &ColorPass(*s, true), &[t.mid, t.sums, t.draws], &[dx])
}

/// Writes each sample's drawn transforms [n, DRAWS], once a pass rather than per element.
struct DrawPass(Augment);

impl Pass for DrawPass {
    fn check(&self, _: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        expect("augment", "draws", all::<_, 1>(writes)[0], &[self.0.n, DRAWS])
    }
    fn reference(&self, _: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [draws] = all_mut(writes);
        reference::draw(&self.0, draws);
    }
    fn record(&self, g: &mut GpuBackend, _: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [draws] = all(writes);
        g.dispatch_items("augment", "draw", &self.0.params(), &[(2, draws)], self.0.n)
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
        let ([x, sums, _], [y]) = (all(reads), all_mut(writes));
        reference::color(&self.0, x, sums, !self.1, y);
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
        let ([r, _], [w]) = (all(reads), all_mut(writes));
        if self.1 { reference::augment_backward(&self.0, r, w) } else { reference::augment_forward(&self.0, r, w) }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([r, draws], [w]) = (all(reads), all(writes));
        let entry = if self.1 { "backward" } else { "forward" };
        g.dispatch_items("augment", entry, &self.0.params(), &[(1, r), (4, draws), (2, w)], w.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::Augment;
    use crate::ops::random::reference::{bits, unit_float};
    use crate::reference::{Float, c};

    /// Sample s's brightness shift, saturation and contrast factors, as augment.wgsl draws them:
    /// U(−½, ½), U(0, 2) and U(½, 3/2) (DiffAugment's).
    pub fn color_factors(a: &Augment, s: usize) -> (f32, f32, f32) {
        let [r0, r1] = bits(a.seed, 1 << 32, s as u64);
        let [r2, _] = bits(a.seed, 2 << 32, s as u64);
        (unit_float(r0) - 0.5, 2.0 * unit_float(r1), unit_float(r2) + 0.5)
    }

    /// DiffAugment's brightness, saturation and contrast in one affine map per sample:
    /// y = k·s·(x − m_c) + k·(m_c − m) + m + b, where m_c is the pixel's mean over channels and
    /// m = sums[sample] / (c·h·w) the sample's; `shift` false leaves out b (the linear part).
    pub fn color<F: Float>(a: &Augment, x: &[F], sums: &[F], shift: bool, y: &mut [F]) {
        let (plane, len) = (a.h * a.w, a.c * a.h * a.w);
        for (s, &sum) in sums.iter().enumerate().take(a.n) {
            let (b, sat, k) = color_factors(a, s);
            let (b, sat, k) = (c::<F>(b as f64), c::<F>(sat as f64), c::<F>(k as f64));
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

    /// Sample s's shift (ty, tx) and cutout box (top, left), as augment.wgsl draws them.
    pub fn transform(a: &Augment, s: usize) -> (i64, i64, i64, i64) {
        let [t0, t1] = bits(a.seed, 0, 2 * s as u64);
        let [c0, c1] = bits(a.seed, 0, 2 * s as u64 + 1);
        let (sh, sw) = (a.shift.0 as u32, a.shift.1 as u32);
        let (ch, cw) = (a.cut.0 as u32, a.cut.1 as u32);
        let ty = (t0 % (2 * sh + 1)) as i64 - sh as i64;
        let tx = (t1 % (2 * sw + 1)) as i64 - sw as i64;
        let top = (c0 % (a.h as u32 + 1 - ch % 2)) as i64 - (ch / 2) as i64;
        let left = (c1 % (a.w as u32 + 1 - cw % 2)) as i64 - (cw / 2) as i64;
        (ty, tx, top, left)
    }

    /// Each sample's drawn transforms as augment.wgsl's `draw` writes them: shift, box corner,
    /// colour factors, 0.
    pub fn draw(a: &Augment, draws: &mut [f32]) {
        for (s, d) in draws.chunks_mut(super::DRAWS).enumerate().take(a.n) {
            let (ty, tx, top, left) = transform(a, s);
            let (b, sat, k) = color_factors(a, s);
            d.copy_from_slice(&[ty as f32, tx as f32, top as f32, left as f32, b, sat, k, 0.0]);
        }
    }

    /// Every (output index, input index) pair of one sample's plane the transform copies.
    fn copies(a: &Augment, s: usize) -> Vec<(usize, usize)> {
        let (ty, tx, top, left) = transform(a, s);
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
    fn each_copy(a: &Augment, mut f: impl FnMut(usize, usize)) {
        let plane = a.h * a.w;
        for s in 0..a.n {
            let copies = copies(a, s);
            for at in (s * a.c..(s + 1) * a.c).map(|c| c * plane) {
                copies.iter().for_each(|&(o, i)| f(at + o, at + i));
            }
        }
    }

    /// y = augment(x), [n, c, h, w]
    pub fn augment_forward<F: Float>(a: &Augment, x: &[F], y: &mut [F]) {
        y.fill(F::zero());
        each_copy(a, |o, i| y[o] = x[i]);
    }

    /// dx = augmentᵀ(dy), [n, c, h, w]
    pub fn augment_backward<F: Float>(a: &Augment, dy: &[F], dx: &mut [F]) {
        dx.fill(F::zero());
        each_copy(a, |o, i| dx[i] = dx[i] + dy[o]);
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
        for policy in [
            Policy { color: false, translation: true, cutout: false },
            Policy { color: false, translation: false, cutout: true },
            Policy { color: true, translation: false, cutout: false },
            Policy { color: true, translation: true, cutout: true },
        ] {
            let (a, len) = (Augment::new(policy, (3, 3, 9, 7), 77), 3 * 3 * 9 * 7);
            let (x, r) = (vecf(&mut rng, len), vecf(&mut rng, len));
            // As the entry points compose them: colour (reading its per-sample sums), then the
            // geometric transforms; backward the other way round.
            let sums = |x: &[f64]| -> Vec<f64> { x.chunks(len / 3).map(|s| s.iter().sum()).collect() };
            let forward = |x: &[f64]| {
                let (mut mid, mut y) = (x.to_vec(), vec![0.0; len]);
                if a.color {
                    color(&a, x, &sums(x), true, &mut mid);
                }
                augment_forward(&a, &mid, &mut y);
                y
            };
            let (mut mid, mut dx) = (vec![0.0; len], vec![0.0; len]);
            augment_backward(&a, &r, &mut mid);
            if a.color {
                color(&a, &mid, &sums(&mid), false, &mut dx);
            } else {
                dx = mid;
            }
            check(&format!("augment {policy:?}"), &x, &r, forward, &dx);
        }
        // DiffAugment's sizes at 64 pixels: shifts up to 8, a 32-pixel box.
        let a = Augment::new(Policy { color: true, translation: true, cutout: true }, (1, 3, 64, 64), 0);
        assert_eq!((a.shift, a.cut), ((8, 8), (32, 32)));
        let shifts: Vec<_> = (0..200).map(|s| transform(&a, s)).collect();
        assert!(shifts.iter().any(|t| t.0 == -8) && shifts.iter().any(|t| t.1 == 8), "shifts reach ±8");
    }
}
