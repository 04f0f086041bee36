//! minibatch_stddev: progressive growing's minibatch standard deviation (Karras et al. 2018), for
//! D: x [n, c, h, w] → y [n, c + 1, h, w], y's first c channels x and the last one, at every
//! sample and pixel, s = mean over (c, h, w) of sqrt(var over the batch + eps), the biased
//! variance as in ProGAN's original. A batch of collapsed fakes has a small s, which D then sees
//! in each sample, so G is pushed towards batches as varied as the reals.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

/// ProGAN's epsilon: with n = 1 (variance 0) the feature is sqrt(eps) and its gradient 0.
pub const EPS: f32 = 1e-8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinibatchStddev {
    pub n: usize,
    /// x's channels; y has one more.
    pub c: usize,
    /// h·w.
    pub spatial: usize,
}

impl MinibatchStddev {
    fn params(&self) -> MinibatchStddevParams {
        MinibatchStddevParams { n: u(self.n), c: u(self.c), spatial: u(self.spatial), eps: EPS }
    }

    /// The features of one sample, each with a standard deviation of its own.
    fn features(&self) -> usize {
        self.c * self.spatial
    }

    fn check(&self) -> Result<()> {
        if self.n == 0 || self.features() == 0 {
            return Err(Error::shape("minibatch_stddev", format!("{self:?} has no sample or no feature to average")));
        }
        Ok(())
    }
}

params! {
    pub struct MinibatchStddevParams { n: u32, c: u32, spatial: u32, eps: f32 }
}

/// x [n, c, spatial] → y [n, c + 1, spatial].
pub fn forward<B: Backend>(b: &mut B, s: &MinibatchStddev, x: &B::T, y: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, backward: false }, &[x], &[y])
}

/// (x, dy): dx = dy[:, :c] + the gradient through s of Σ dy[:, c] (overwrites); dy
/// [n, c + 1, spatial], dx [n, c, spatial].
pub fn backward<B: Backend>(b: &mut B, s: &MinibatchStddev, (x, dy): (&B::T, &B::T), dx: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, backward: true }, &[x, dy], &[dx])
}

/// Forward reads x, writes y; backward reads x, dy, writes dx.
struct Entry {
    s: MinibatchStddev,
    backward: bool,
}

impl Pass for Entry {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let s = &self.s;
        s.check()?;
        let (x, y) = ([s.n, s.c, s.spatial], [s.n, s.c + 1, s.spatial]);
        expect("minibatch_stddev", "x", reads[0].expect("x"), &x)?;
        if self.backward {
            expect("minibatch_stddev", "dy", reads[1].expect("dy"), &y)?;
            expect("minibatch_stddev", "dx", writes[0].expect("dx"), &x)
        } else {
            expect("minibatch_stddev", "y", writes[0].expect("y"), &y)
        }
    }

    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        if self.backward {
            let ([x, dy], [dx]) = (all(reads), all_mut(writes));
            reference::minibatch_stddev_backward(&self.s, x, dy, dx);
        } else {
            let ([x], [y]) = (all(reads), all_mut(writes));
            reference::minibatch_stddev_forward(&self.s, x, y);
        }
    }

    /// Forward: each feature's standard deviation into a scratch, their mean by one workgroup
    /// (a fixed summation order, so reruns give the same bits), then y. Backward: Σ of the extra
    /// channel's dy by one workgroup, then dx per feature, its mean and deviation recomputed
    /// rather than kept from the forward (the scratch is shared with every other call).
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let (s, p) = (&self.s, self.s.params());
        let m = s.features();
        if self.backward {
            let ([x, dy], [dx]) = (all(reads), all(writes));
            let ds = g.scratch("minibatch_stddev.ds", 1)?;
            g.dispatch("minibatch_stddev", "backward_sum", &p, &[(2, dy), (4, &ds)], 1)?;
            g.dispatch_items("minibatch_stddev", "backward_input", &p, &[(1, x), (2, dy), (3, dx), (4, &ds)], m)
        } else {
            let ([x], [y]) = (all(reads), all(writes));
            let std = g.scratch("minibatch_stddev.std", m + 1)?;
            g.dispatch_items("minibatch_stddev", "stats", &p, &[(1, x), (4, &std)], m)?;
            g.dispatch("minibatch_stddev", "average", &p, &[(4, &std)], 1)?;
            g.dispatch_items("minibatch_stddev", "forward", &p, &[(1, x), (3, y), (4, &std)], y.len)
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::{EPS, MinibatchStddev};
    use crate::reference::{Float, c};

    /// Feature j's (mean, sqrt(biased variance + eps)) over the batch.
    fn stats<F: Float>(s: &MinibatchStddev, x: &[F], j: usize) -> (F, F) {
        let (m, nf) = (s.features(), F::from(s.n).unwrap());
        let mean = (0..s.n).fold(F::zero(), |a, i| a + x[i * m + j]) / nf;
        let var = (0..s.n).fold(F::zero(), |a, i| {
            let d = x[i * m + j] - mean;
            a + d * d
        }) / nf;
        (mean, (var + c(EPS as f64)).sqrt())
    }

    pub fn minibatch_stddev_forward<F: Float>(s: &MinibatchStddev, x: &[F], y: &mut [F]) {
        let m = s.features();
        let sum = (0..m).fold(F::zero(), |a, j| a + stats(s, x, j).1);
        let feature = sum / F::from(m).unwrap();
        for (y, x) in y.chunks_mut(m + s.spatial).zip(x.chunks(m)) {
            y[..m].copy_from_slice(x);
            y[m..].fill(feature);
        }
    }

    /// dx[i, j] = dy[i, j] + Σ dy[:, c] / m · (x[i, j] − mean_j) / (n · std_j) (overwrites).
    pub fn minibatch_stddev_backward<F: Float>(s: &MinibatchStddev, x: &[F], dy: &[F], dx: &mut [F]) {
        let (m, nf) = (s.features(), F::from(s.n).unwrap());
        let ds = dy.chunks(m + s.spatial).fold(F::zero(), |a, d| d[m..].iter().fold(a, |a, &d| a + d));
        let per_feature = ds / F::from(m).unwrap();
        for j in 0..m {
            let (mean, std) = stats(s, x, j);
            for i in 0..s.n {
                let k = i * m + j;
                dx[k] = dy[i * (m + s.spatial) + j] + per_feature * (x[k] - mean) / (nf * std);
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
    fn minibatch_stddev_gradients() {
        let mut rng = Rng::new(50);
        for (n, c, spatial) in [(4, 3, 5), (2, 1, 1), (1, 2, 3), (3, 5, 1)] {
            let s = MinibatchStddev { n, c, spatial };
            let (len, out) = (n * c * spatial, n * (c + 1) * spatial);
            let (x, r) = (vecf(&mut rng, len), vecf(&mut rng, out));
            let run = |x: &[f64]| {
                let mut y = vec![0.0; out];
                minibatch_stddev_forward(&s, x, &mut y);
                y
            };
            let mut dx = vec![f64::NAN; len];
            minibatch_stddev_backward(&s, &x, &r, &mut dx);
            check(&format!("minibatch_stddev dx {s:?}"), &x, &r, run, &dx);
        }
    }

    #[test]
    fn minibatch_stddev_appends_the_mean_deviation() {
        // Two samples, two features: deviations |1 − 3| / 2 = 1 and |0 − 4| / 2 = 2, mean 1.5.
        let s = MinibatchStddev { n: 2, c: 2, spatial: 1 };
        let mut y = vec![0.0f64; 6];
        minibatch_stddev_forward(&s, &[1.0, 0.0, 3.0, 4.0], &mut y);
        let want = [1.0, 0.0, 1.5, 3.0, 4.0, 1.5];
        assert!(y.iter().zip(want).all(|(y, w)| (y - w).abs() < 1e-6), "{y:?}");
        let one = MinibatchStddev { n: 1, c: 1, spatial: 2 };
        let mut y = vec![0.0f64; 4];
        minibatch_stddev_forward(&one, &[5.0, -2.0], &mut y);
        assert!((y[2] - 1e-4).abs() < 1e-9 && y[2] == y[3], "one sample: sqrt(eps), {y:?}");
    }
}
