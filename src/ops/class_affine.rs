//! class_affine: conditional batch norm's per-class scale and shift (de Vries et al. 2017;
//! Miyato & Koyama 2018): y = gamma[label]·x + beta[label] per channel, after a batch norm
//! without an affine of its own, so that G's label sets the statistics of every normalised
//! layer rather than only entering at its input.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassAffine {
    pub n: usize,
    pub channels: usize,
    /// 1 after a BatchNorm1d, h·w after a BatchNorm2d.
    pub spatial: usize,
    pub classes: usize,
}

impl ClassAffine {
    fn params(&self) -> ClassAffineParams {
        ClassAffineParams {
            n: u(self.n),
            channels: u(self.channels),
            spatial: u(self.spatial),
            classes: u(self.classes),
        }
    }

    fn len(&self) -> usize {
        self.n * self.channels * self.spatial
    }
}

params! {
    pub struct ClassAffineParams { n: u32, channels: u32, spatial: u32, classes: u32 }
}

/// (x, label, gamma, beta): y = gamma[label]·x + beta[label]; x, y [n, channels, spatial], label
/// [n], gamma, beta [classes, channels].
pub fn forward<B: Backend>(
    b: &mut B,
    s: &ClassAffine,
    (x, l, g, bt): (&B::T, &B::T, &B::T, &B::T),
    y: &B::T,
) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Forward }, &[x, l, g, bt], &[y])
}

/// (dy, label, gamma): dx = dy · gamma[label] (overwrites).
pub fn backward_input<B: Backend>(
    b: &mut B,
    s: &ClassAffine,
    (dy, l, g): (&B::T, &B::T, &B::T),
    dx: &B::T,
) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Input }, &[dy, l, g], &[dx])
}

/// (x, label, dy): dgamma[c] += Σ over class c's samples and positions of dy·x, dbeta[c] += Σ dy.
pub fn backward_params<B: Backend>(
    b: &mut B,
    s: &ClassAffine,
    (x, l, dy): (&B::T, &B::T, &B::T),
    (dgamma, dbeta): (&B::T, &B::T),
) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Params }, &[x, l, dy], &[dgamma, dbeta])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Forward,
    Input,
    Params,
}

struct Entry {
    s: ClassAffine,
    kind: Kind,
}

impl Pass for Entry {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let s = &self.s;
        if s.classes == 0 {
            return Err(Error::shape("class_affine", "needs at least one class"));
        }
        let (x, table) = ([s.n, s.channels, s.spatial], [s.classes, s.channels]);
        let len = |i: &[Option<usize>], k: usize| i[k].expect("an entry point gives every required tensor");
        let wanted: &[(&str, usize, &[usize])] = match self.kind {
            Kind::Forward => &[
                ("x", len(reads, 0), &x),
                ("gamma", len(reads, 2), &table),
                ("beta", len(reads, 3), &table),
                ("y", len(writes, 0), &x),
            ],
            Kind::Input => &[("dy", len(reads, 0), &x), ("gamma", len(reads, 2), &table), ("dx", len(writes, 0), &x)],
            Kind::Params => &[
                ("x", len(reads, 0), &x),
                ("dy", len(reads, 2), &x),
                ("dgamma", len(writes, 0), &table),
                ("dbeta", len(writes, 1), &table),
            ],
        };
        expect("class_affine", "label", len(reads, 1), &[s.n])?;
        for &(what, got, dims) in wanted {
            expect("class_affine", what, got, dims)?;
        }
        Ok(())
    }

    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let s = &self.s;
        match self.kind {
            Kind::Forward => {
                let ([x, l, g, bt], [y]) = (all(reads), all_mut(writes));
                reference::class_affine_forward(s, x, l, g, bt, y);
            }
            Kind::Input => {
                let ([dy, l, g], [dx]) = (all(reads), all_mut(writes));
                reference::class_affine_backward_input(s, dy, l, g, dx);
            }
            Kind::Params => {
                let ([x, l, dy], [dg, db]) = (all(reads), all_mut(writes));
                reference::class_affine_backward_params(s, x, l, dy, dg, db);
            }
        }
    }

    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let (s, p) = (&self.s, self.s.params());
        match self.kind {
            Kind::Forward => {
                let ([x, l, gm, bt], [y]) = (all(reads), all(writes));
                g.dispatch_items("class_affine", "forward", &p, &[(1, x), (2, l), (3, gm), (4, bt), (5, y)], s.len())
            }
            Kind::Input => {
                let ([dy, l, gm], [dx]) = (all(reads), all(writes));
                g.dispatch_items("class_affine", "backward_input", &p, &[(1, dy), (2, l), (3, gm), (5, dx)], s.len())
            }
            Kind::Params => {
                let ([x, l, dy], [dg, db]) = (all(reads), all(writes));
                let bind = [(1, x), (2, l), (3, dy), (5, dg), (6, db)];
                g.dispatch_items("class_affine", "backward_params", &p, &bind, s.classes * s.channels)
            }
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::ClassAffine;
    use crate::reference::Float;

    /// The class a stored label names: floored, clamped to the classes (as `condition` reads it).
    fn class_of<F: Float>(s: &ClassAffine, label: F) -> usize {
        label.floor().max(F::zero()).to_usize().unwrap_or(0).min(s.classes - 1)
    }

    /// The [classes, channels] row of each element of an [n, channels, spatial] tensor.
    fn rows<'a, F: Float>(s: &'a ClassAffine, l: &'a [F]) -> impl Iterator<Item = usize> + 'a {
        (0..s.n * s.channels * s.spatial)
            .map(move |i| class_of(s, l[i / (s.channels * s.spatial)]) * s.channels + (i / s.spatial) % s.channels)
    }

    pub fn class_affine_forward<F: Float>(s: &ClassAffine, x: &[F], l: &[F], g: &[F], b: &[F], y: &mut [F]) {
        for ((y, &x), r) in y.iter_mut().zip(x).zip(rows(s, l)) {
            *y = g[r] * x + b[r];
        }
    }

    pub fn class_affine_backward_input<F: Float>(s: &ClassAffine, dy: &[F], l: &[F], g: &[F], dx: &mut [F]) {
        for ((dx, &dy), r) in dx.iter_mut().zip(dy).zip(rows(s, l)) {
            *dx = dy * g[r];
        }
    }

    pub fn class_affine_backward_params<F: Float>(
        s: &ClassAffine,
        x: &[F],
        l: &[F],
        dy: &[F],
        dg: &mut [F],
        db: &mut [F],
    ) {
        for ((&x, &dy), r) in x.iter().zip(dy).zip(rows(s, l)) {
            dg[r] = dg[r] + dy * x;
            db[r] = db[r] + dy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn class_affine_gradients() {
        let mut rng = Rng::new(48);
        let s = ClassAffine { n: 5, channels: 3, spatial: 4, classes: 3 };
        let label: Vec<f64> = vec![0.0, 2.0, 1.5, 2.9, 0.2];
        let (x, g, b) = (vecf(&mut rng, 60), vecf(&mut rng, 9), vecf(&mut rng, 9));
        let r = vecf(&mut rng, 60);
        let run = |x: &[f64], g: &[f64], b: &[f64]| {
            let mut y = vec![0.0; 60];
            class_affine_forward(&s, x, &label, g, b, &mut y);
            y
        };
        let mut dx = vec![0.0; 60];
        class_affine_backward_input(&s, &r, &label, &g, &mut dx);
        check("class_affine dx", &x, &r, |x| run(x, &g, &b), &dx);
        let (mut dg, mut db) = (vec![0.0; 9], vec![0.0; 9]);
        class_affine_backward_params(&s, &x, &label, &r, &mut dg, &mut db);
        check("class_affine dgamma", &g, &r, |g| run(&x, g, &b), &dg);
        check("class_affine dbeta", &b, &r, |b| run(&x, &g, b), &db);
    }
}
