//! linear: y = x · wᵀ + b. x [batch, in], w [out, in], b [out], y [batch, out].

use super::activation::{self, Activation};
use super::gemm::{self, Gemm};
use super::reduce::{self, ChannelSum};
use super::{check_grads, expect, record_weighted_backward, u};
use crate::backend::Grads;
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

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

    fn params(&self, has_bias: bool) -> [u32; 4] {
        [u(self.batch), u(self.in_features), u(self.out_features), has_bias as u32]
    }
}

/// y = act(x·wᵀ + b); the activation is fused into the GEMM's stores.
pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &Linear,
    x: &GpuTensor,
    w: &GpuTensor,
    (b, act): (Option<&GpuTensor>, Option<Activation>),
    y: &GpuTensor,
) -> Result<()> {
    s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
    let tiled = g.ctx.tiled;
    activation::applied(g, act, tiled, y, |g, y, act| {
        if tiled {
            // y[batch, out] = x[batch, in] · (w[out, in])ᵀ + b
            let (i, o) = (s.in_features, s.out_features);
            let mm = Gemm { epilogue: act, ..Gemm::plain((s.batch, o, i), (i, 1), (1, i), (o, 1), false) };
            return gemm::record(g, &mm, x, w, b, y);
        }
        let dummy = g.dummy.clone();
        let params = s.params(b.is_some());
        let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
        g.dispatch_items("linear", "forward", &params, &bind, s.batch * s.out_features)
    })
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &Linear,
    x: &GpuTensor,
    w: &GpuTensor,
    dy: &GpuTensor,
    grads: Grads<'_, GpuTensor>,
) -> Result<()> {
    s.check(x.len, w.len, grads.db.map(|b| b.len), dy.len)?;
    check_grads("linear", x.len, w.len, grads)?;
    let bias_sum = ChannelSum { n: s.batch, channels: s.out_features, spatial: 1 };
    if !g.ctx.tiled {
        return record_weighted_backward(g, "linear", &s.params(false), x, w, dy, grads, bias_sum);
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
        reduce::sum_channels(g, &bias_sum, dy, db, true)?;
    }
    Ok(())
}
