//! conv_transpose2d, NCHW: x [n, c, h, w], w [c, k, kh, kw], b [k], y [n, k, oh, ow],
//! oh = (h − 1)·stride − 2·pad + kh + output_padding.

use super::activation::{self, Activation};
use super::im2col::{self, ConvGeometry};
use super::reduce::{self, ChannelSum};
use super::{check_grads, expect, record_weighted_backward, u};
use crate::backend::Grads;
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2d {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub output_padding: usize,
}

impl ConvTranspose2d {
    pub fn out_hw(&self) -> (usize, usize) {
        let f = |i: usize, k: usize| {
            ((i.max(1) - 1) * self.stride + k + self.output_padding).saturating_sub(2 * self.pad)
        };
        (f(self.h, self.kh), f(self.w, self.kw))
    }

    pub fn validate(&self) -> Result<()> {
        if self.stride == 0 || self.kh == 0 || self.kw == 0 {
            return Err(Error::shape(
                "conv_transpose2d",
                format!("stride and kernel must be positive: {self:?}"),
            ));
        }
        if self.output_padding >= self.stride {
            return Err(Error::shape(
                "conv_transpose2d",
                format!("output_padding {} must be smaller than stride {}", self.output_padding, self.stride),
            ));
        }
        let (oh, ow) = self.out_hw();
        if oh == 0 || ow == 0 {
            return Err(Error::shape(
                "conv_transpose2d",
                format!("padding leaves an empty output: {self:?}"),
            ));
        }
        Ok(())
    }

    pub fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        self.validate()?;
        let (oh, ow) = self.out_hw();
        expect("conv_transpose2d", "x", x, &[self.n, self.c, self.h, self.w])?;
        expect("conv_transpose2d", "w", w, &[self.c, self.k, self.kh, self.kw])?;
        if let Some(b) = b {
            expect("conv_transpose2d", "b", b, &[self.k])?;
        }
        expect("conv_transpose2d", "y", y, &[self.n, self.k, oh, ow])
    }

    /// Multiply-adds that touch real (not inserted-zero) inputs: n·c·h·w·k·kh·kw, times 2.
    pub fn flops_forward(&self) -> u64 {
        2 * (self.n * self.c * self.h * self.w * self.k * self.kh * self.kw) as u64
    }

    /// The conv2d whose adjoint this is, as a matrix product (see [`im2col`]): from the output
    /// [k, oh, ow] to the input [c, h, w], with this op's weights [c, k, kh, kw] as its own.
    pub(crate) fn geometry(&self) -> ConvGeometry {
        let (oh, ow) = self.out_hw();
        let ConvTranspose2d { n, c, h, w, k, kh, kw, stride, pad, .. } = *self;
        ConvGeometry { n, c: k, h: oh, w: ow, k: c, oh: h, ow: w, kh, kw, stride, pad }
    }

    fn params(&self, has_bias: bool) -> [u32; 12] {
        let (oh, ow) = self.out_hw();
        [
            u(self.n),
            u(self.c),
            u(self.h),
            u(self.w),
            u(self.k),
            u(oh),
            u(ow),
            u(self.kh),
            u(self.kw),
            u(self.stride),
            u(self.pad),
            has_bias as u32,
        ]
    }
}

/// y = act(conv_transpose(x, w) + b); the activation is fused into col2im's stores.
pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &ConvTranspose2d,
    x: &GpuTensor,
    w: &GpuTensor,
    (b, act): (Option<&GpuTensor>, Option<Activation>),
    y: &GpuTensor,
) -> Result<()> {
    s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
    let tiled = g.ctx.tiled;
    activation::applied(g, act, tiled, y, |g, y, act| {
        if tiled {
            return im2col::adjoint(g, &s.geometry(), x, w, (b, act), y);
        }
        let dummy = g.dummy.clone();
        let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
        g.dispatch_items("conv_transpose2d", "forward", &s.params(b.is_some()), &bind, y.len)
    })
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &ConvTranspose2d,
    x: &GpuTensor,
    w: &GpuTensor,
    dy: &GpuTensor,
    grads: Grads<'_, GpuTensor>,
) -> Result<()> {
    s.check(x.len, w.len, grads.db.map(|b| b.len), dy.len)?;
    check_grads("conv_transpose2d", x.len, w.len, grads)?;
    let bias_sum = {
        let (oh, ow) = s.out_hw();
        ChannelSum { n: s.n, channels: s.k, spatial: oh * ow }
    };
    if g.ctx.tiled {
        let geo = s.geometry();
        if let Some(dx) = grads.dx {
            im2col::forward(g, &geo, dy, w, (None, None), dx)?;
        }
        if let Some(dw) = grads.dw {
            im2col::weight_grad(g, &geo, dy, x, dw)?;
        }
        if let Some(db) = grads.db {
            reduce::sum_channels(g, &bias_sum, dy, db, true)?;
        }
        return Ok(());
    }
    record_weighted_backward(g, "conv_transpose2d", &s.params(false), x, w, dy, grads, bias_sum)
}
