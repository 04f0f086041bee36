//! linear: y = x · wᵀ + b. x [batch, in], w [out, in], b [out], y [batch, out].

use super::Weighted;
use super::activation;
use super::gemm::{self, Gemm};
use super::reduce::{self, ChannelSum};
pub use super::weighted::{backward, forward};
use super::{BackwardIo, ForwardIo, expect, record_weighted_backward, u};
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub batch: usize,
    pub in_features: usize,
    pub out_features: usize,
}

impl Linear {
    pub fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        expect("linear", "x", x, &[self.batch, self.in_features])?;
        expect("linear", "w", w, &[self.out_features, self.in_features])?;
        if let Some(b) = b {
            expect("linear", "b", b, &[self.out_features])?;
        }
        expect("linear", "y", y, &[self.batch, self.out_features])
    }

    pub fn flops_forward(&self) -> u64 {
        2 * (self.batch * self.in_features * self.out_features) as u64
    }

    fn params(&self, has_bias: bool) -> LinearParams {
        LinearParams {
            batch: u(self.batch),
            in_f: u(self.in_features),
            out_f: u(self.out_features),
            has_bias: has_bias as u32,
        }
    }
}

params! {
    pub struct LinearParams { batch: u32, in_f: u32, out_f: u32, has_bias: u32 }
}

impl Weighted for Linear {
    const NAME: &'static str = "linear";
    fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        Linear::check(self, x, w, b, y)
    }
    fn reference_forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
        reference::linear_forward(self, x, w, b, y);
    }
    fn reference_backward(&self, (x, w, dy): (&[f32], &[f32], &[f32]), [dx, dw, db]: [Option<&mut [f32]>; 3]) {
        reference::linear_backward(self, x, w, dy, dx, dw, db);
    }
    /// y = act(x·wᵀ + b); the activation is fused into the GEMM's stores.
    fn record_forward(&self, g: &mut GpuBackend, io: ForwardIo<'_>) -> Result<()> {
        let s = self;
        let tiled = g.plan.tiled;
        activation::applied(g, io, tiled, |g, io| {
            let ForwardIo { x, w, bias: b, act, y } = io;
            if tiled {
                // y[batch, out] = x[batch, in] · (w[out, in])ᵀ + b
                let (i, o) = (s.in_features, s.out_features);
                let mm = Gemm { epilogue: act, ..Gemm::plain((s.batch, o, i), (i, 1), (1, i), (o, 1), false) };
                return gemm::record(g, &mm, x, w, b, y);
            }
            let dummy = g.dummy.clone();
            let params = s.params(b.is_some());
            let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
            g.count_flops(2 * (s.batch * s.in_features * s.out_features) as u64);
            g.dispatch_items("linear", "forward", &params, &bind, s.batch * s.out_features)
        })
    }

    fn record_backward(&self, g: &mut GpuBackend, io: BackwardIo<'_>) -> Result<()> {
        let (s, BackwardIo { x, w, dy, grads }) = (self, io);
        let bias_sum = ChannelSum { n: s.batch, channels: s.out_features, spatial: 1 };
        if !g.plan.tiled {
            return record_weighted_backward(g, "linear", &s.params(false), io, bias_sum);
        }
        let (n, i, o) = (s.batch, s.in_features, s.out_features);
        if let Some(dx) = grads.dx {
            // dx[batch, in] = dy[batch, out] · w[out, in]
            let mm = Gemm::plain((n, i, o), (o, 1), (i, 1), (i, 1), false);
            gemm::record(g, &mm, dy, w, None, dx)?;
        }
        if let Some(dw) = grads.dw {
            // dw[out, in] += (dy[batch, out])ᵀ · x[batch, in]
            let mm = Gemm::plain((o, i, n), (1, o), (i, 1), (i, 1), true);
            gemm::record(g, &mm, dy, x, None, dw)?;
        }
        if let Some(db) = grads.db {
            reduce::record_sum_channels(g, &bias_sum, dy, db, true)?;
        }
        Ok(())
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::linear::Linear;
    use crate::reference::Float;

    /// y [batch, out] = x [batch, in] · w [out, in]ᵀ + b [out]
    pub fn linear_forward<F: Float>(s: &Linear, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
        let (ni, no) = (s.in_features, s.out_features);
        for n in 0..s.batch {
            for o in 0..no {
                let mut acc = b.map_or(F::zero(), |b| b[o]);
                for i in 0..ni {
                    acc = acc + x[n * ni + i] * w[o * ni + i];
                }
                y[n * no + o] = acc;
            }
        }
    }

    /// dx = dy · w (overwrite); dw += dyᵀ · x; db += Σ_batch dy.
    pub fn linear_backward<F: Float>(
        s: &Linear,
        x: &[F],
        w: &[F],
        dy: &[F],
        dx: Option<&mut [F]>,
        dw: Option<&mut [F]>,
        db: Option<&mut [F]>,
    ) {
        let (ni, no) = (s.in_features, s.out_features);
        if let Some(dx) = dx {
            for n in 0..s.batch {
                for i in 0..ni {
                    let mut acc = F::zero();
                    for o in 0..no {
                        acc = acc + dy[n * no + o] * w[o * ni + i];
                    }
                    dx[n * ni + i] = acc;
                }
            }
        }
        if let Some(dw) = dw {
            for o in 0..no {
                for i in 0..ni {
                    let mut acc = F::zero();
                    for n in 0..s.batch {
                        acc = acc + dy[n * no + o] * x[n * ni + i];
                    }
                    dw[o * ni + i] = dw[o * ni + i] + acc;
                }
            }
        }
        if let Some(db) = db {
            crate::ops::reduce::reference::sum_channels(s.batch, no, 1, dy, db, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn linear_gradients() {
        let mut rng = Rng::new(11);
        let s = Linear { batch: 3, in_features: 4, out_features: 5 };
        let (nx, nw, nb, ny) = (12, 20, 5, 15);
        let p = vecf(&mut rng, nx + nw + nb);
        let r = vecf(&mut rng, ny);
        let forward = |p: &[f64]| {
            let mut y = vec![0.0; ny];
            linear_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
            y
        };
        let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
        linear_backward(&s, &p[..nx], &p[nx..nx + nw], &r, Some(&mut dx), Some(&mut dw), Some(&mut db));
        check("linear", &p, &r, forward, &[dx, dw, db].concat());
    }
}
