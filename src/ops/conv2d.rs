//! conv2d, NCHW: x [n, c, h, w], w [k, c, kh, kw], b [k], y [n, k, oh, ow].

use super::activation::{self, Activation};
use super::im2col::{self, ConvGeometry};
use super::reduce::{self, ChannelSum};
use super::{check_grads, expect, record_weighted_backward, u};
use crate::backend::Grads;
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2d {
    pub fn out_hw(&self) -> (usize, usize) {
        let oh = (self.h + 2 * self.pad).saturating_sub(self.kh) / self.stride.max(1) + 1;
        let ow = (self.w + 2 * self.pad).saturating_sub(self.kw) / self.stride.max(1) + 1;
        (oh, ow)
    }

    pub fn validate(&self) -> Result<()> {
        if self.stride == 0 || self.kh == 0 || self.kw == 0 {
            return Err(Error::shape("conv2d", format!("stride and kernel must be positive: {self:?}")));
        }
        if self.h + 2 * self.pad < self.kh || self.w + 2 * self.pad < self.kw {
            return Err(Error::shape(
                "conv2d",
                format!(
                    "kernel {}x{} larger than padded input {}x{} (pad {})",
                    self.kh, self.kw, self.h, self.w, self.pad
                ),
            ));
        }
        Ok(())
    }

    pub fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        self.validate()?;
        let (oh, ow) = self.out_hw();
        expect("conv2d", "x", x, &[self.n, self.c, self.h, self.w])?;
        expect("conv2d", "w", w, &[self.k, self.c, self.kh, self.kw])?;
        if let Some(b) = b {
            expect("conv2d", "b", b, &[self.k])?;
        }
        expect("conv2d", "y", y, &[self.n, self.k, oh, ow])
    }

    pub fn flops_forward(&self) -> u64 {
        let (oh, ow) = self.out_hw();
        2 * (self.n * self.k * oh * ow * self.c * self.kh * self.kw) as u64
    }

    /// As a matrix product (see [`im2col`]).
    pub(crate) fn geometry(&self) -> ConvGeometry {
        let (oh, ow) = self.out_hw();
        let Conv2d { n, c, h, w, k, kh, kw, stride, pad } = *self;
        ConvGeometry { n, c, h, w, k, oh, ow, kh, kw, stride, pad }
    }

    /// Few output channels and long im2col columns: as a matrix product this wastes the GEMM
    /// tile's rows and writes c·kh·kw floats per pixel, so the `*_narrow` kernels read the image
    /// directly instead (the Keras generator's last 7×7 conv to one channel ran at 0.2–0.5
    /// GFLOP/s as a GEMM on lavapipe).
    pub fn narrow(&self) -> bool {
        self.k < 4 && self.c * self.kh * self.kw >= 64
    }

    fn constants(&self) -> [(&'static str, u32); 3] {
        [("KH", u(self.kh)), ("KW", u(self.kw)), ("STRIDE", u(self.stride))]
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

/// y = act(conv(x, w) + b); the activation is fused into the GEMM's stores (tiled kernels, not
/// narrow convolutions).
pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &Conv2d,
    x: &GpuTensor,
    w: &GpuTensor,
    (b, act): (Option<&GpuTensor>, Option<Activation>),
    y: &GpuTensor,
) -> Result<()> {
    s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
    let narrow = g.ctx.tiled && s.narrow();
    let as_gemm = g.ctx.tiled && !narrow;
    activation::applied(g, act, as_gemm, y, |g, y, act| {
        if as_gemm {
            return im2col::forward(g, &s.geometry(), x, w, (b, act), y);
        }
        let dummy = g.dummy.clone();
        let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
        let params = s.params(b.is_some());
        if narrow {
            let (oh, ow) = s.out_hw();
            let quads = s.n * s.k * oh * ow.div_ceil(4);
            let consts = s.constants();
            return g.dispatch_items_specialised("conv2d", "forward_narrow", &consts, &params, &bind, quads);
        }
        g.dispatch_items("conv2d", "forward", &params, &bind, y.len)
    })
}

pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &Conv2d,
    x: &GpuTensor,
    w: &GpuTensor,
    dy: &GpuTensor,
    grads: Grads<'_, GpuTensor>,
) -> Result<()> {
    s.check(x.len, w.len, grads.db.map(|b| b.len), dy.len)?;
    check_grads("conv2d", x.len, w.len, grads)?;
    let bias_sum = {
        let (oh, ow) = s.out_hw();
        ChannelSum { n: s.n, channels: s.k, spatial: oh * ow }
    };
    if !g.ctx.tiled {
        return record_weighted_backward(g, "conv2d", &s.params(false), x, w, dy, grads, bias_sum);
    }
    if s.narrow() {
        let (params, consts) = (s.params(false), s.constants());
        if let Some(dx) = grads.dx {
            let quads = s.n * s.c * s.h * s.w.div_ceil(4);
            let bind = [(5, dy), (2, w), (6, dx)];
            g.dispatch_items_specialised("conv2d", "backward_input_narrow", &consts, &params, &bind, quads)?;
        }
        if let Some(dw) = grads.dw {
            let bind = [(5, dy), (1, x), (7, dw)];
            // One invocation per kernel row where the shader's window (SPAN) fits, else per weight.
            let items = if 3 * s.stride + s.kw <= 16 { s.k * s.c * s.kh } else { w.len };
            g.dispatch_items_specialised("conv2d", "backward_weight_narrow", &consts, &params, &bind, items)?;
        }
    } else {
        let geo = s.geometry();
        if let Some(dx) = grads.dx {
            im2col::adjoint(g, &geo, dy, w, (None, None), dx)?;
        }
        if let Some(dw) = grads.dw {
            im2col::weight_grad(g, &geo, x, dy, dw)?;
        }
    }
    if let Some(db) = grads.db {
        reduce::sum_channels(g, &bias_sum, dy, db, true)?;
    }
    Ok(())
}
