//! mix: element-wise linear combinations of equal-length tensors: `mix` (out = a·x + b·y, the
//! residual add and the blend of two paths) and `axpy` (out = a·x + b·out, their backward into
//! one path, and accumulation).

use super::{GpuTensors, Pass, all, all_mut, run, same_len, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

params! {
    pub struct MixParams { n: u32, a: f32, b: f32 }
}

/// out = a · x + b · y.
pub fn mix<B: Backend>(b: &mut B, (a, x): (f32, &B::T), (c, y): (f32, &B::T), out: &B::T) -> Result<()> {
    run(b, &Mix { a, b: c, with_y: true }, &[x, y], &[out])
}

/// out = a · x + b · out; with b = 0, out = a · x whatever out held (NaN included).
pub fn axpy<B: Backend>(b: &mut B, a: f32, x: &B::T, c: f32, out: &B::T) -> Result<()> {
    run(b, &Mix { a, b: c, with_y: false }, &[x], &[out])
}

/// Reads x (and y); writes out.
struct Mix {
    a: f32,
    b: f32,
    with_y: bool,
}

impl Pass for Mix {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let [out] = all(writes);
        same_len("mix", ("x", reads[0].unwrap_or(0)), ("out", out))?;
        match reads.get(1) {
            Some(y) => same_len("mix", ("y", y.unwrap_or(0)), ("out", out)),
            None => Ok(()),
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        match reads {
            [Some(x), Some(y)] => reference::mix(self.a, x, self.b, y, out),
            [Some(x)] => reference::axpy(self.a, x, self.b, out),
            _ => unreachable!("mix and axpy give their tensors"),
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        let params = MixParams { n: u(out.len), a: self.a, b: self.b };
        if self.with_y {
            let [x, y] = all(reads);
            g.dispatch_items("mix", "mix", &params, &[(1, x), (2, y), (3, out)], out.len)
        } else {
            let [x] = all(reads);
            g.dispatch_items("mix", "axpy", &params, &[(1, x), (3, out)], out.len)
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::reference::Float;

    /// out = a · x + b · y
    pub fn mix<F: Float>(a: F, x: &[F], b: F, y: &[F], out: &mut [F]) {
        for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
            *o = a * x + b * y;
        }
    }

    /// out = a · x + b · out (b = 0: out = a · x)
    pub fn axpy<F: Float>(a: F, x: &[F], b: F, out: &mut [F]) {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = if b == F::zero() { a * x } else { a * x + b * *o };
        }
    }
}
