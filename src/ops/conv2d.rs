//! conv2d, NCHW: x [n, c, h, w], w [k, c, kh, kw], b [k], y [n, k, oh, ow].

use super::Weighted;
use super::activation;
use super::im2col::{self, ConvGeometry};
use super::reduce::{self, ChannelSum};
pub use super::weighted::{backward, forward};
use super::{BackwardIo, ForwardIo, expect, record_weighted_backward, u};
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

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

    fn params(&self, has_bias: bool) -> ConvParams {
        ConvParams::of(&self.geometry(), has_bias)
    }
}

params! {
    /// conv2d.wgsl's and conv_transpose2d.wgsl's parameters.
    pub struct ConvParams { n: u32, c: u32, h: u32, w: u32, k: u32, oh: u32, ow: u32, kh: u32, kw: u32, stride: u32, pad: u32, has_bias: u32 }
}

impl ConvParams {
    /// The block of a convolution, either direction, with these sizes.
    pub(crate) fn of(s: &ConvGeometry, has_bias: bool) -> ConvParams {
        ConvParams {
            n: u(s.n),
            c: u(s.c),
            h: u(s.h),
            w: u(s.w),
            k: u(s.k),
            oh: u(s.oh),
            ow: u(s.ow),
            kh: u(s.kh),
            kw: u(s.kw),
            stride: u(s.stride),
            pad: u(s.pad),
            has_bias: has_bias as u32,
        }
    }
}

impl Weighted for Conv2d {
    const NAME: &'static str = "conv2d";
    fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        Conv2d::check(self, x, w, b, y)
    }
    fn reference_forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
        reference::conv2d_forward(self, x, w, b, y);
    }
    fn reference_backward(&self, (x, w, dy): (&[f32], &[f32], &[f32]), [dx, dw, db]: [Option<&mut [f32]>; 3]) {
        reference::conv2d_backward(self, x, w, dy, dx, dw, db);
    }
    /// y = act(conv(x, w) + b); the activation is fused into the GEMM's stores (tiled kernels, not
    /// narrow convolutions).
    fn record_forward(&self, g: &mut GpuBackend, io: ForwardIo<'_>) -> Result<()> {
        let s = self;
        let narrow = g.plan.tiled && s.narrow();
        let as_gemm = g.plan.tiled && !narrow;
        activation::applied(g, io, as_gemm, |g, io| {
            let ForwardIo { x, w, bias: b, y, .. } = io;
            if as_gemm {
                return im2col::forward(g, &s.geometry(), io);
            }
            let dummy = g.dummy.clone();
            let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
            let params = s.params(b.is_some());
            if narrow {
                let (oh, ow) = s.out_hw();
                let quads = s.n * s.k * oh * ow.div_ceil(4);
                let consts = s.constants();
                g.count_flops(s.flops_forward());
                return g.dispatch_items_specialised("conv2d", "forward_narrow", &consts, &params, &bind, quads);
            }
            g.dispatch_items("conv2d", "forward", &params, &bind, y.len)
        })
    }

    fn record_backward(&self, g: &mut GpuBackend, io: BackwardIo<'_>) -> Result<()> {
        let (s, BackwardIo { x, w, dy, grads }) = (self, io);
        let bias_sum = {
            let (oh, ow) = s.out_hw();
            ChannelSum { n: s.n, channels: s.k, spatial: oh * ow }
        };
        if !g.plan.tiled {
            return record_weighted_backward(g, "conv2d", &s.params(false), io, bias_sum);
        }
        if s.narrow() {
            let (params, consts) = (s.params(false), s.constants());
            if let Some(dx) = grads.dx {
                let quads = s.n * s.c * s.h * s.w.div_ceil(4);
                let bind = [(5, dy), (2, w), (6, dx)];
                g.count_flops(s.flops_forward());
                g.dispatch_items_specialised("conv2d", "backward_input_narrow", &consts, &params, &bind, quads)?;
            }
            if let Some(dw) = grads.dw {
                let bind = [(5, dy), (1, x), (7, dw)];
                // One invocation per kernel row where the shader's window (SPAN) fits, else per weight.
                let items = if 3 * s.stride + s.kw <= 16 { s.k * s.c * s.kh } else { w.len };
                g.count_flops(s.flops_forward());
                g.dispatch_items_specialised("conv2d", "backward_weight_narrow", &consts, &params, &bind, items)?;
            }
        } else {
            let geo = s.geometry();
            if let Some(dx) = grads.dx {
                im2col::adjoint(g, &geo, ForwardIo { x: dy, w, bias: None, act: None, y: dx })?;
            }
            if let Some(dw) = grads.dw {
                im2col::weight_grad(g, &geo, x, dy, dw)?;
            }
        }
        if let Some(db) = grads.db {
            reduce::record_sum_channels(g, &bias_sum, dy, db, true)?;
        }
        Ok(())
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::conv2d::Conv2d;
    use crate::reference::{Float, Taps, tap, taps_backward, taps_forward};

    impl Taps for Conv2d {
        fn output_planes(&self) -> (usize, usize, usize) {
            let (oh, ow) = self.out_hw();
            (self.n, self.k, oh * ow)
        }
        /// Output pixel by output pixel, then input channel and kernel position, skipping the
        /// padding.
        fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
            let s = self;
            let (oh, ow) = s.out_hw();
            for n in 0..s.n {
                for k in 0..s.k {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let yi = ((n * s.k + k) * oh + oy) * ow + ox;
                            for c in 0..s.c {
                                for i in 0..s.kh {
                                    let Some(iy) = tap(oy, i, s.stride, s.pad, s.h) else {
                                        continue;
                                    };
                                    for j in 0..s.kw {
                                        let Some(ix) = tap(ox, j, s.stride, s.pad, s.w) else {
                                            continue;
                                        };
                                        let xi = ((n * s.c + c) * s.h + iy) * s.w + ix;
                                        f(yi, xi, ((k * s.c + c) * s.kh + i) * s.kw + j);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// y [n, k, oh, ow] = conv(x [n, c, h, w], w [k, c, kh, kw]) + b [k]
    pub fn conv2d_forward<F: Float>(s: &Conv2d, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
        taps_forward(s, x, w, b, y);
    }

    /// dx (overwrite), dw += , db += from dy [n, k, oh, ow], written as the scatter that is the
    /// transpose of the forward gather.
    pub fn conv2d_backward<F: Float>(
        s: &Conv2d,
        x: &[F],
        w: &[F],
        dy: &[F],
        dx: Option<&mut [F]>,
        dw: Option<&mut [F]>,
        db: Option<&mut [F]>,
    ) {
        taps_backward(s, (x, w, dy), dx, dw, db);
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    #[test]
    fn conv2d_gradients() {
        let mut rng = Rng::new(12);
        for s in [
            Conv2d { n: 2, c: 2, h: 5, w: 6, k: 3, kh: 3, kw: 2, stride: 2, pad: 1 },
            Conv2d { n: 1, c: 3, h: 4, w: 4, k: 2, kh: 4, kw: 4, stride: 2, pad: 1 },
        ] {
            let (oh, ow) = s.out_hw();
            let (nx, nw, nb, ny) = (s.n * s.c * s.h * s.w, s.k * s.c * s.kh * s.kw, s.k, s.n * s.k * oh * ow);
            let p = vecf(&mut rng, nx + nw + nb);
            let r = vecf(&mut rng, ny);
            let forward = |p: &[f64]| {
                let mut y = vec![0.0; ny];
                conv2d_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
                y
            };
            let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
            conv2d_backward(&s, &p[..nx], &p[nx..nx + nw], &r, Some(&mut dx), Some(&mut dw), Some(&mut db));
            check(&format!("conv2d {s:?}"), &p, &r, forward, &[dx, dw, db].concat());
        }
    }
}
