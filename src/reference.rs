//! What every op's CPU reference (`crate::ops::<op>::reference`, plain loops on slices) shares:
//! the float type they are generic over, so the gradient checks can run in f64, and helpers.
//! Their conventions are the GPU's: parameter gradients accumulate (+=), input gradients overwrite.

pub use num_traits::Float;

/// The coordinate `o · stride + tap − pad` along an axis of length `size`, or None where it falls
/// outside (in the padding for a convolution's input, off the edge for a transposed one's output).
pub(crate) fn tap(o: usize, tap: usize, stride: usize, pad: usize, size: usize) -> Option<usize> {
    (o * stride + tap).checked_sub(pad).filter(|&v| v < size)
}

/// conv2d and conv_transpose2d as their CPU references walk them: both passes are sums over the
/// same taps, so only the walk differs between the two ops.
pub(crate) trait Taps {
    /// The output's (samples, channels, pixels per channel plane).
    fn output_planes(&self) -> (usize, usize, usize);
    /// Every tap as (y index, x index, w index), in the order the passes accumulate in.
    fn for_each_tap(&self, f: impl FnMut(usize, usize, usize));
}

/// y = b (per output channel) + Σ over the taps x · w.
pub(crate) fn taps_forward<F: Float>(s: &impl Taps, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
    let (_, channels, plane) = s.output_planes();
    for (i, out) in y.chunks_mut(plane).enumerate() {
        out.fill(b.map_or(F::zero(), |b| b[i % channels]));
    }
    s.for_each_tap(|yi, xi, wi| y[yi] = y[yi] + x[xi] * w[wi]);
}

/// dx (overwrite), dw += , db += from dy: the scatter that is the transpose of the forward.
pub(crate) fn taps_backward<F: Float>(
    s: &impl Taps,
    (x, w, dy): (&[F], &[F], &[F]),
    mut dx: Option<&mut [F]>,
    mut dw: Option<&mut [F]>,
    db: Option<&mut [F]>,
) {
    if let Some(dx) = dx.as_deref_mut() {
        dx.fill(F::zero());
    }
    s.for_each_tap(|yi, xi, wi| {
        let g = dy[yi];
        if let Some(dx) = dx.as_deref_mut() {
            dx[xi] = dx[xi] + g * w[wi];
        }
        if let Some(dw) = dw.as_deref_mut() {
            dw[wi] = dw[wi] + g * x[xi];
        }
    });
    if let Some(db) = db {
        let (n, channels, plane) = s.output_planes();
        crate::ops::reduce::reference::sum_channels(n, channels, plane, dy, db, true);
    }
}

/// out[i] = f(z[i], t[i]): a per-sample loss, or its gradient, of logits z against targets t.
pub(crate) fn per_sample<F: Float>(z: &[F], t: &[F], out: &mut [F], f: impl Fn(F, F) -> F) {
    for ((o, &z), &t) in out.iter_mut().zip(z).zip(t) {
        *o = f(z, t);
    }
}

/// A literal in the generic float type.
pub(crate) fn c<F: Float>(x: f64) -> F {
    F::from(x).expect("representable")
}

/// Checking a CPU reference against central finite differences, in f64, on small shapes: for
/// an op, L(p) = Σ r ⊙ forward(p) for a fixed random r, and backward(dy = r) must give dL/dp.
/// Each op module's tests use it; `Rng` also feeds the GPU = CPU tests.
pub mod gradcheck {
    /// SplitMix64: enough randomness for test inputs and shapes, reproducible from a seed.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed)
        }
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in [lo, hi).
        pub fn f(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Uniform integer in [lo, hi].
        pub fn int(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
        }
        pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
            (0..n).map(|_| self.f(lo as f64, hi as f64) as f32).collect()
        }
        /// Values in ±[gap, hi): away from 0, where ReLU-like kinks would upset finite differences.
        pub fn vec_away_from_zero(&mut self, n: usize, gap: f64, hi: f64) -> Vec<f64> {
            (0..n)
                .map(|_| {
                    let v = self.f(gap, hi);
                    if self.next_u64() & 1 == 0 { v } else { -v }
                })
                .collect()
        }
    }

    /// Compares `analytic` with the central difference of p ↦ Σ r·forward(p) at every coordinate.
    pub fn check(what: &str, p: &[f64], r: &[f64], forward: impl Fn(&[f64]) -> Vec<f64>, analytic: &[f64]) {
        assert_eq!(p.len(), analytic.len(), "{what}: gradient length");
        let loss = |q: &[f64]| forward(q).iter().zip(r).map(|(y, r)| y * r).sum::<f64>();
        let h = 1e-5;
        let mut worst = (0.0f64, 0usize, 0.0, 0.0);
        for i in 0..p.len() {
            let mut q = p.to_vec();
            q[i] = p[i] + h;
            let up = loss(&q);
            q[i] = p[i] - h;
            let down = loss(&q);
            let numeric = (up - down) / (2.0 * h);
            // Rounding in the difference quotient is ~eps·|L|/h ≈ 1e-10, so tiny entries are
            // judged by an absolute floor rather than relatively.
            let err = (numeric - analytic[i]).abs() / (1e-4 + numeric.abs().max(analytic[i].abs()));
            if err > worst.0 {
                worst = (err, i, numeric, analytic[i]);
            }
        }
        let (err, i, numeric, analytic) = worst;
        assert!(
            err < 1e-5,
            "{what}: worst relative error {err:e} at [{i}]: numeric {numeric:e}, analytic {analytic:e}"
        );
    }

    /// n logits in [−6, 6) and n soft targets in [0, 1): a per-sample loss's test inputs.
    pub fn logits_and_soft_targets(seed: u64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let z = (0..n).map(|_| rng.f(-6.0, 6.0)).collect();
        (z, (0..n).map(|_| rng.f(0.0, 1.0)).collect())
    }

    /// [`check`] for a per-sample loss: `backward` (scale 1) must be the gradient of the mean of
    /// `forward`'s losses of logits z against targets t.
    pub fn check_mean_loss(
        what: &str,
        z: &[f64],
        t: &[f64],
        forward: fn(&[f64], &[f64], &mut [f64]),
        backward: fn(&[f64], &[f64], &mut [f64], f64),
    ) {
        let mut dz = vec![0.0; z.len()];
        backward(z, t, &mut dz, 1.0);
        let mean = |z: &[f64]| {
            let mut l = vec![0.0; z.len()];
            forward(z, t, &mut l);
            vec![l.iter().sum::<f64>() / l.len() as f64]
        };
        check(what, z, &[1.0], mean, &dz);
    }

    pub fn vecf(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.f(-1.0, 1.0)).collect()
    }
}
