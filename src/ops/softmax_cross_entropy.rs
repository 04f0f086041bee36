//! softmax_cross_entropy: a k-class classifier's per-sample loss on logits, its gradient, and
//! the class probabilities (see `shaders/softmax_cross_entropy.wgsl`).

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

/// n samples of k classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxCrossEntropy {
    pub n: usize,
    pub k: usize,
}

impl SoftmaxCrossEntropy {
    /// Checks logits [n, k], labels [n] and an output of `out_dims`.
    pub fn check(&self, z: usize, label: usize, out: usize, out_dims: &[usize]) -> Result<()> {
        if self.k == 0 {
            return Err(Error::shape("softmax_cross_entropy", "needs at least one class"));
        }
        expect("softmax_cross_entropy", "z", z, &[self.n, self.k])?;
        expect("softmax_cross_entropy", "label", label, &[self.n])?;
        expect("softmax_cross_entropy", "output", out, out_dims)
    }
}

params! {
    pub struct SoftmaxCrossEntropyParams { n: u32, k: u32, scale: f32 }
}

/// Per-sample softmax cross-entropy of logits [n, k] against class labels [n].
pub fn forward<B: Backend>(b: &mut B, s: &SoftmaxCrossEntropy, z: &B::T, label: &B::T, loss: &B::T) -> Result<()> {
    run(b, &SoftmaxPass { s: *s, kind: SoftmaxKind::Forward }, &[z, label], &[loss])
}

/// dz = scale · d mean(loss) / dz.
pub fn backward<B: Backend>(
    b: &mut B,
    s: &SoftmaxCrossEntropy,
    z: &B::T,
    label: &B::T,
    dz: &B::T,
    scale: f32,
) -> Result<()> {
    run(b, &SoftmaxPass { s: *s, kind: SoftmaxKind::Backward(scale) }, &[z, label], &[dz])
}

/// The class probabilities p [n, k] (softmax of each row).
pub fn probs<B: Backend>(b: &mut B, s: &SoftmaxCrossEntropy, z: &B::T, p: &B::T) -> Result<()> {
    run(b, &SoftmaxPass { s: *s, kind: SoftmaxKind::Probs }, &[z], &[p])
}

#[derive(Clone, Copy)]
enum SoftmaxKind {
    Forward,
    Backward(f32),
    Probs,
}

/// Reads z (and label, but for `Probs`); writes the loss, dz or p.
struct SoftmaxPass {
    s: SoftmaxCrossEntropy,
    kind: SoftmaxKind,
}

impl Pass for SoftmaxPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let (s, [out]) = (&self.s, all(writes));
        let z = all::<_, 1>(reads)[0];
        match self.kind {
            SoftmaxKind::Forward => s.check(z, all::<_, 2>(reads)[1], out, &[s.n]),
            SoftmaxKind::Backward(_) => s.check(z, all::<_, 2>(reads)[1], out, &[s.n, s.k]),
            SoftmaxKind::Probs => s.check(z, s.n, out, &[s.n, s.k]),
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([out], k) = (all_mut(writes), self.s.k);
        let z = all::<_, 1>(reads)[0];
        match self.kind {
            SoftmaxKind::Forward => reference::softmax_cross_entropy_forward(z, all::<_, 2>(reads)[1], k, out),
            SoftmaxKind::Backward(scale) => {
                reference::softmax_cross_entropy_backward(z, all::<_, 2>(reads)[1], k, out, scale)
            }
            SoftmaxKind::Probs => reference::softmax_cross_entropy_probs(z, k, out),
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([out], s) = (all(writes), &self.s);
        let z = all::<_, 1>(reads)[0];
        let (entry, scale) = match self.kind {
            SoftmaxKind::Forward => ("forward", 0.0),
            SoftmaxKind::Backward(scale) => ("backward", scale),
            SoftmaxKind::Probs => ("probs", 0.0),
        };
        let params = SoftmaxCrossEntropyParams { n: u(s.n), k: u(s.k), scale };
        match self.kind {
            SoftmaxKind::Probs => g.dispatch_items("softmax_cross_entropy", entry, &params, &[(1, z), (3, out)], s.n),
            _ => {
                let bind = [(1, z), (2, all::<_, 2>(reads)[1]), (3, out)];
                g.dispatch_items("softmax_cross_entropy", entry, &params, &bind, s.n)
            }
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::Float;

    fn logsumexp<F: Float>(row: &[F]) -> F {
        let m = row.iter().copied().fold(F::neg_infinity(), F::max);
        m + row.iter().map(|&v| (v - m).exp()).fold(F::zero(), |a, b| a + b).ln()
    }

    fn class_of<F: Float>(label: F, k: usize) -> usize {
        label.max(F::zero()).to_usize().unwrap_or(0).min(k - 1)
    }

    /// z [n, k], label [n] → loss[i] = logsumexp(z[i]) − z[i, label[i]].
    pub fn softmax_cross_entropy_forward<F: Float>(z: &[F], label: &[F], k: usize, loss: &mut [F]) {
        for (i, l) in loss.iter_mut().enumerate() {
            let row = &z[i * k..(i + 1) * k];
            *l = logsumexp(row) - row[class_of(label[i], k)];
        }
    }

    /// z [n, k] → p [n, k], each row's softmax.
    pub fn softmax_cross_entropy_probs<F: Float>(z: &[F], k: usize, p: &mut [F]) {
        for (row, out) in z.chunks(k).zip(p.chunks_mut(k)) {
            let lse = logsumexp(row);
            for (o, &v) in out.iter_mut().zip(row) {
                *o = (v - lse).exp();
            }
        }
    }

    /// dz[i, c] = scale · (p[i, c] − [c == label[i]]) / n: the gradient of scale · mean(loss).
    pub fn softmax_cross_entropy_backward<F: Float>(z: &[F], label: &[F], k: usize, dz: &mut [F], scale: F) {
        let n = F::from(label.len()).unwrap();
        softmax_cross_entropy_probs(z, k, dz);
        for (i, row) in dz.chunks_mut(k).enumerate() {
            row[class_of(label[i], k)] = row[class_of(label[i], k)] - F::one();
            for d in row.iter_mut() {
                *d = scale * *d / n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use crate::reference::gradcheck::{Rng, check};

    #[test]
    fn softmax_cross_entropy_gradient() {
        let mut rng = Rng::new(15);
        // 4 samples of 3 classes.
        let z: Vec<f64> = (0..12).map(|_| rng.f(-6.0, 6.0)).collect();
        let label = [2.0, 0.0, 1.0, 2.0];
        let mut dz = vec![0.0; 12];
        softmax_cross_entropy_backward(&z, &label, 3, &mut dz, 1.0);
        let forward = |z: &[f64]| {
            let mut l = vec![0.0; 4];
            softmax_cross_entropy_forward(z, &label, 3, &mut l);
            vec![l.iter().sum::<f64>() / l.len() as f64]
        };
        check("softmax_cross_entropy", &z, &[1.0], forward, &dz);
    }
}
