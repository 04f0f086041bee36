//! pixel_norm: progressive growing's pixelwise feature vector normalisation (Karras et al. 2018):
//! y[s, c, p] = x[s, c, p] / sqrt(mean_c x[s, c, p]² + eps). It replaces batch norm in a
//! progressively grown G, keeping the signal magnitudes of G and D from escalating without making
//! one sample's output depend on the rest of its batch.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

/// ProGAN's epsilon.
pub const PIXEL_NORM_EPS: f32 = 1e-8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelNorm {
    pub n: usize,
    pub c: usize,
    /// h·w, or 1 on flat features (ProGAN normalises z this way).
    pub spatial: usize,
    pub eps: f32,
}

impl PixelNorm {
    fn params(&self) -> PixelNormParams {
        PixelNormParams { n: u(self.n), c: u(self.c), spatial: u(self.spatial), eps: self.eps }
    }

    fn check(&self) -> Result<()> {
        // eps = 0 would divide an all-zero pixel by zero.
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::shape("pixel_norm", format!("eps {} must be positive and finite", self.eps)));
        }
        Ok(())
    }
}

params! {
    pub struct PixelNormParams { n: u32, c: u32, spatial: u32, eps: f32 }
}

/// y = x / sqrt(mean over the channels of x² + eps) per sample and pixel; x, y [n, c, spatial].
pub fn forward<B: Backend>(b: &mut B, s: &PixelNorm, x: &B::T, y: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, backward: false }, &[x], &[y])
}

/// (x, dy): dx = (dy − y · mean_c(dy·y)) / r with r = sqrt(mean_c x² + eps) (overwrites). Reads
/// x rather than y: the kernel needs r anyway, and y = x / r comes with it.
pub fn backward<B: Backend>(b: &mut B, s: &PixelNorm, (x, dy): (&B::T, &B::T), dx: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, backward: true }, &[x, dy], &[dx])
}

/// Forward reads x, writes y; backward reads x, dy, writes dx.
struct Entry {
    s: PixelNorm,
    backward: bool,
}

impl Pass for Entry {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let s = &self.s;
        s.check()?;
        let x = [s.n, s.c, s.spatial];
        expect("pixel_norm", "x", reads[0].expect("x"), &x)?;
        if self.backward {
            expect("pixel_norm", "dy", reads[1].expect("dy"), &x)?;
        }
        expect("pixel_norm", if self.backward { "dx" } else { "y" }, writes[0].expect("output"), &x)
    }

    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        if self.backward {
            let ([x, dy], [dx]) = (all(reads), all_mut(writes));
            reference::pixel_norm_backward(&self.s, x, dy, dx);
        } else {
            let ([x], [y]) = (all(reads), all_mut(writes));
            reference::pixel_norm_forward(&self.s, x, y);
        }
    }

    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let (s, p) = (&self.s, self.s.params());
        let pixels = s.n * s.spatial;
        if self.backward {
            let ([x, dy], [dx]) = (all(reads), all(writes));
            g.dispatch_items("pixel_norm", "backward", &p, &[(1, x), (2, dy), (3, dx)], pixels)
        } else {
            let ([x], [y]) = (all(reads), all(writes));
            g.dispatch_items("pixel_norm", "forward", &p, &[(1, x), (3, y)], pixels)
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::PixelNorm;
    use crate::reference::{Float, c};

    /// The element indices of each (sample, pixel)'s channel vector, in channel order.
    fn vectors(s: &PixelNorm) -> impl Iterator<Item = impl Iterator<Item = usize> + Clone> + '_ {
        (0..s.n * s.spatial).map(move |i| {
            let at = (i / s.spatial) * s.c * s.spatial + i % s.spatial;
            (0..s.c).map(move |ch| at + ch * s.spatial)
        })
    }

    /// sqrt(mean x² + eps) over one channel vector.
    fn rms<F: Float>(s: &PixelNorm, x: &[F], v: impl Iterator<Item = usize>) -> F {
        let sq = v.fold(F::zero(), |a, i| a + x[i] * x[i]);
        (sq / F::from(s.c).unwrap() + c(s.eps as f64)).sqrt()
    }

    pub fn pixel_norm_forward<F: Float>(s: &PixelNorm, x: &[F], y: &mut [F]) {
        for v in vectors(s) {
            let r = rms(s, x, v.clone());
            for i in v {
                y[i] = x[i] / r;
            }
        }
    }

    /// dx = (dy − y · mean_c(dy·y)) / r, y recomputed as x / r (overwrites).
    pub fn pixel_norm_backward<F: Float>(s: &PixelNorm, x: &[F], dy: &[F], dx: &mut [F]) {
        for v in vectors(s) {
            let r = rms(s, x, v.clone());
            let mean_dy_y = v.clone().fold(F::zero(), |a, i| a + dy[i] * x[i] / r) / F::from(s.c).unwrap();
            for i in v {
                dx[i] = (dy[i] - x[i] / r * mean_dy_y) / r;
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
    fn pixel_norm_gradients() {
        let mut rng = Rng::new(49);
        for (n, c, spatial) in [(3, 4, 5), (2, 1, 3), (4, 6, 1)] {
            let s = PixelNorm { n, c, spatial, eps: PIXEL_NORM_EPS };
            let len = n * c * spatial;
            let (x, r) = (vecf(&mut rng, len), vecf(&mut rng, len));
            let run = |x: &[f64]| {
                let mut y = vec![0.0; len];
                pixel_norm_forward(&s, x, &mut y);
                y
            };
            let mut dx = vec![f64::NAN; len];
            pixel_norm_backward(&s, &x, &r, &mut dx);
            check(&format!("pixel_norm dx {s:?}"), &x, &r, run, &dx);
        }
    }

    #[test]
    fn pixel_norm_gives_unit_mean_square() {
        let s = PixelNorm { n: 2, c: 3, spatial: 2, eps: PIXEL_NORM_EPS };
        let x: Vec<f64> = (0..12).map(|i| i as f64 - 4.0).collect();
        let mut y = vec![0.0; 12];
        pixel_norm_forward(&s, &x, &mut y);
        for (sample, q) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let ms = (0..3).map(|ch| y[(sample * 3 + ch) * 2 + q].powi(2)).sum::<f64>() / 3.0;
            assert!((ms - 1.0).abs() < 1e-6, "sample {sample} pixel {q}: mean square {ms}");
        }
    }
}
