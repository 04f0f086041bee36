//! projection: a projection discriminator's class term (Miyato & Koyama 2018), added to the logit
//! of D's linear head: y[s] += ⟨embed[label[s]], x[s]⟩, with x D's last features. D then judges
//! "is this a real image of class c" by the inner product of its features with class c's
//! embedding, instead of reading the label as extra input planes. Every entry accumulates, so
//! the layer runs its linear head first and adds this on top, forward and backward.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Projection {
    pub n: usize,
    pub features: usize,
    pub classes: usize,
}

impl Projection {
    fn params(&self) -> ProjectionParams {
        ProjectionParams { n: u(self.n), features: u(self.features), classes: u(self.classes) }
    }

    fn check(&self) -> Result<()> {
        if self.classes == 0 {
            return Err(Error::shape("projection", "needs at least one class"));
        }
        Ok(())
    }
}

params! {
    pub struct ProjectionParams { n: u32, features: u32, classes: u32 }
}

/// Three tensors an entry reads, in the order its doc names them.
pub type Reads<'a, B> = (&'a <B as Backend>::T, &'a <B as Backend>::T, &'a <B as Backend>::T);

/// (x, label, embed): y += ⟨embed[label], x⟩ per sample; x [n, features], label [n], embed
/// [classes, features], y [n].
pub fn forward<B: Backend>(b: &mut B, s: &Projection, (x, l, e): Reads<'_, B>, y: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Forward }, &[x, l, e], &[y])
}

/// (dy, label, embed): dx += dy · embed[label] per sample.
pub fn backward_input<B: Backend>(b: &mut B, s: &Projection, r: Reads<'_, B>, dx: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Input }, &[r.0, r.1, r.2], &[dx])
}

/// (x, label, dy): dembed[c] += Σ over the samples of class c of dy · x.
pub fn backward_embed<B: Backend>(b: &mut B, s: &Projection, r: Reads<'_, B>, de: &B::T) -> Result<()> {
    run(b, &Entry { s: *s, kind: Kind::Embed }, &[r.0, r.1, r.2], &[de])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Forward,
    Input,
    Embed,
}

struct Entry {
    s: Projection,
    kind: Kind,
}

impl Pass for Entry {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let s = &self.s;
        s.check()?;
        let ([a, label, bb], [out]) = (all(reads), all(writes));
        let (nf, ce) = (s.n * s.features, s.classes * s.features);
        let wanted = match self.kind {
            Kind::Forward => [("x", nf), ("embed", ce), ("y", s.n)],
            Kind::Input => [("dy", s.n), ("embed", ce), ("dx", nf)],
            Kind::Embed => [("x", nf), ("dy", s.n), ("dembed", ce)],
        };
        expect("projection", "label", label, &[s.n])?;
        for ((what, len), got) in wanted.into_iter().zip([a, bb, out]) {
            expect("projection", what, got, &[len])?;
        }
        Ok(())
    }

    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([a, label, bb], [out]) = (all(reads), all_mut(writes));
        match self.kind {
            Kind::Forward => reference::projection_forward(&self.s, a, label, bb, out),
            Kind::Input => reference::projection_backward_input(&self.s, a, label, bb, out),
            Kind::Embed => reference::projection_backward_embed(&self.s, a, label, bb, out),
        }
    }

    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([a, label, bb], [out]) = (all(reads), all(writes));
        let s = &self.s;
        let (entry, items) = match self.kind {
            Kind::Forward => ("forward", s.n),
            Kind::Input => ("backward_input", s.n * s.features),
            Kind::Embed => ("backward_embed", s.classes * s.features),
        };
        g.dispatch_items("projection", entry, &s.params(), &[(1, a), (2, label), (3, bb), (4, out)], items)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use super::Projection;
    use crate::reference::Float;

    /// The class `condition` reads from a stored label: floored, clamped to the classes.
    pub fn class_of<F: Float>(s: &Projection, label: F) -> usize {
        label.floor().max(F::zero()).to_usize().unwrap_or(0).min(s.classes - 1)
    }

    pub fn projection_forward<F: Float>(s: &Projection, x: &[F], label: &[F], embed: &[F], y: &mut [F]) {
        let f = s.features;
        for (i, y) in y.iter_mut().enumerate() {
            let e = &embed[class_of(s, label[i]) * f..][..f];
            *y = *y + e.iter().zip(&x[i * f..][..f]).fold(F::zero(), |acc, (&e, &x)| acc + e * x);
        }
    }

    /// dx += dy · embed[label] per sample.
    pub fn projection_backward_input<F: Float>(s: &Projection, dy: &[F], l: &[F], e: &[F], dx: &mut [F]) {
        let f = s.features;
        for (i, row) in dx.chunks_mut(f).enumerate() {
            add_scaled(row, dy[i], &e[class_of(s, l[i]) * f..][..f]);
        }
    }

    /// dembed[label] += dy · x per sample.
    pub fn projection_backward_embed<F: Float>(s: &Projection, x: &[F], l: &[F], dy: &[F], de: &mut [F]) {
        let f = s.features;
        for (i, x) in x.chunks(f).enumerate() {
            add_scaled(&mut de[class_of(s, l[i]) * f..][..f], dy[i], x);
        }
    }

    /// row += a · x
    fn add_scaled<F: Float>(row: &mut [F], a: F, x: &[F]) {
        for (d, &x) in row.iter_mut().zip(x) {
            *d = *d + a * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn projection_gradients() {
        let mut rng = Rng::new(47);
        let s = Projection { n: 5, features: 7, classes: 3 };
        let label: Vec<f64> = vec![0.0, 2.0, 1.5, 2.9, 0.2];
        let (x, embed) = (vecf(&mut rng, 35), vecf(&mut rng, 21));
        let r = vecf(&mut rng, 5);
        let by_x = |x: &[f64]| {
            let mut y = vec![0.0; 5];
            projection_forward(&s, x, &label, &embed, &mut y);
            y
        };
        let mut dx = vec![0.0; 35];
        projection_backward_input(&s, &r, &label, &embed, &mut dx);
        check("projection dx", &x, &r, by_x, &dx);
        let by_embed = |e: &[f64]| {
            let mut y = vec![0.0; 5];
            projection_forward(&s, &x, &label, e, &mut y);
            y
        };
        let mut de = vec![0.0; 21];
        projection_backward_embed(&s, &x, &label, &r, &mut de);
        check("projection dembed", &embed, &r, by_embed, &de);
    }
}
