//! resample: 2× changes of resolution on [n, c, h, w] images, as PyTorch computes them:
//! `nearest` and `bilinear` upsampling (`F.interpolate(scale_factor=2)`, bilinear with
//! align_corners=False) to [n, c, 2h, 2w], and `avg_pool` (`F.avg_pool2d(x, 2)`) to
//! [n, c, ⌊h/2⌋, ⌊w/2⌋]. All three are linear, so backward is the transposed map; the GPU
//! computes it as a gather over each input pixel's few outputs, the CPU reference as a scatter,
//! so the two are independent derivations.

use serde::{Deserialize, Serialize};

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResampleKind {
    Nearest,
    Bilinear,
    AvgPool,
}

/// Resampling of an input [n, c, h, w].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resample {
    pub kind: ResampleKind,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Resample {
    /// The output's (height, width).
    pub fn output(&self) -> (usize, usize) {
        match self.kind {
            ResampleKind::Nearest | ResampleKind::Bilinear => (2 * self.h, 2 * self.w),
            ResampleKind::AvgPool => (self.h / 2, self.w / 2),
        }
    }

    pub fn check(&self, x: usize, y: usize) -> Result<()> {
        if self.output().0 == 0 || self.output().1 == 0 {
            return Err(Error::shape("resample", format!("{self:?} leaves no output pixels")));
        }
        let (ho, wo) = self.output();
        expect("resample", "x", x, &[self.n, self.c, self.h, self.w])?;
        expect("resample", "y", y, &[self.n, self.c, ho, wo])
    }

    fn params(&self) -> ResampleParams {
        let (ho, wo) = self.output();
        ResampleParams { planes: u(self.n * self.c), h: u(self.h), w: u(self.w), ho: u(ho), wo: u(wo) }
    }

    fn entry(&self, backward: bool) -> &'static str {
        match (self.kind, backward) {
            (ResampleKind::Nearest, false) => "nearest_forward",
            (ResampleKind::Nearest, true) => "nearest_backward",
            (ResampleKind::Bilinear, false) => "bilinear_forward",
            (ResampleKind::Bilinear, true) => "bilinear_backward",
            (ResampleKind::AvgPool, false) => "avg_pool_forward",
            (ResampleKind::AvgPool, true) => "avg_pool_backward",
        }
    }
}

params! {
    pub struct ResampleParams { planes: u32, h: u32, w: u32, ho: u32, wo: u32 }
}

/// y = resample(x).
pub fn forward<B: Backend>(b: &mut B, s: &Resample, x: &B::T, y: &B::T) -> Result<()> {
    run(b, &ResamplePass(*s, false), &[x], &[y])
}

/// dx = resampleᵀ(dy).
pub fn backward<B: Backend>(b: &mut B, s: &Resample, dy: &B::T, dx: &B::T) -> Result<()> {
    run(b, &ResamplePass(*s, true), &[dy], &[dx])
}

/// Forward reads x, writes y; backward (true) reads dy, writes dx.
struct ResamplePass(Resample, bool);

impl Pass for ResamplePass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([r], [w]) = (all(reads), all(writes));
        if self.1 { self.0.check(w, r) } else { self.0.check(r, w) }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([r], [w]) = (all(reads), all_mut(writes));
        if self.1 { reference::resample_backward(&self.0, r, w) } else { reference::resample_forward(&self.0, r, w) }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([r], [w]) = (all(reads), all(writes));
        g.dispatch_items("resample", self.0.entry(self.1), &self.0.params(), &[(1, r), (2, w)], w.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::{Resample, ResampleKind};
    use crate::reference::{Float, c};

    /// Output index `o` of a 2× bilinear upsampling along an axis of `len` input pixels: the two
    /// input pixels it reads and the second one's weight (PyTorch, align_corners=False: source
    /// (o + ½)/2 − ½, clamped at 0).
    pub fn bilinear_taps(o: usize, len: usize) -> (usize, usize, f64) {
        let src = ((o as f64 + 0.5) / 2.0 - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(len - 1);
        let i1 = (i0 + 1).min(len - 1);
        (i0, i1, src - i0 as f64)
    }

    /// Every (output pixel, input pixel, weight) of the linear map, per plane.
    fn taps(s: &Resample) -> Vec<(usize, usize, f64)> {
        let (ho, wo) = s.output();
        let mut out = Vec::new();
        for oy in 0..ho {
            for ox in 0..wo {
                let o = oy * wo + ox;
                match s.kind {
                    ResampleKind::Nearest => out.push((o, (oy / 2) * s.w + ox / 2, 1.0)),
                    ResampleKind::Bilinear => {
                        let (y0, y1, ly) = bilinear_taps(oy, s.h);
                        let (x0, x1, lx) = bilinear_taps(ox, s.w);
                        for (iy, wy) in [(y0, 1.0 - ly), (y1, ly)] {
                            for (ix, wx) in [(x0, 1.0 - lx), (x1, lx)] {
                                out.push((o, iy * s.w + ix, wy * wx));
                            }
                        }
                    }
                    ResampleKind::AvgPool => {
                        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            out.push((o, (2 * oy + dy) * s.w + 2 * ox + dx, 0.25));
                        }
                    }
                }
            }
        }
        out
    }

    /// y [n, c, ho, wo] = resample(x [n, c, h, w])
    pub fn resample_forward<F: Float>(s: &Resample, x: &[F], y: &mut [F]) {
        let (ho, wo) = s.output();
        let taps = taps(s);
        for (xp, yp) in x.chunks(s.h * s.w).zip(y.chunks_mut(ho * wo)) {
            yp.fill(F::zero());
            for &(o, i, wt) in &taps {
                yp[o] = yp[o] + c::<F>(wt) * xp[i];
            }
        }
    }

    /// dx [n, c, h, w] = resampleᵀ(dy [n, c, ho, wo])
    pub fn resample_backward<F: Float>(s: &Resample, dy: &[F], dx: &mut [F]) {
        let (ho, wo) = s.output();
        let taps = taps(s);
        for (dyp, dxp) in dy.chunks(ho * wo).zip(dx.chunks_mut(s.h * s.w)) {
            dxp.fill(F::zero());
            for &(o, i, wt) in &taps {
                dxp[i] = dxp[i] + c::<F>(wt) * dyp[o];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn resample_gradients() {
        let mut rng = Rng::new(31);
        for kind in [ResampleKind::Nearest, ResampleKind::Bilinear, ResampleKind::AvgPool] {
            for (h, w) in [(1, 1), (3, 2), (5, 4)] {
                let s = Resample { kind, n: 2, c: 2, h, w };
                if s.check(2 * 2 * h * w, 2 * 2 * s.output().0 * s.output().1).is_err() {
                    continue;
                }
                let (ho, wo) = s.output();
                let x = vecf(&mut rng, 4 * h * w);
                let r = vecf(&mut rng, 4 * ho * wo);
                let forward = |x: &[f64]| {
                    let mut y = vec![0.0; 4 * ho * wo];
                    resample_forward(&s, x, &mut y);
                    y
                };
                let mut dx = vec![0.0; x.len()];
                resample_backward(&s, &r, &mut dx);
                check(&format!("resample {s:?}"), &x, &r, forward, &dx);
            }
        }
    }

    /// PyTorch's values on a 2×2 input [[1, 2], [3, 4]]: bilinear's first row
    /// [1, 1.25, 1.75, 2], avg_pool 2.5.
    #[test]
    fn matches_pytorch_on_a_small_input() {
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let mut y = vec![0.0; 16];
        resample_forward(&Resample { kind: ResampleKind::Bilinear, n: 1, c: 1, h: 2, w: 2 }, &x, &mut y);
        assert_eq!(&y[..4], &[1.0, 1.25, 1.75, 2.0]);
        assert_eq!(&y[4..8], &[1.5, 1.75, 2.25, 2.5]);
        let mut p = vec![0.0; 1];
        resample_forward(&Resample { kind: ResampleKind::AvgPool, n: 1, c: 1, h: 2, w: 2 }, &x, &mut p);
        assert_eq!(p, [2.5]);
    }
}
