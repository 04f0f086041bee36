//! conv_transpose2d, NCHW: x [n, c, h, w], w [c, k, kh, kw], b [k], y [n, k, oh, ow],
//! oh = (h − 1)·stride − 2·pad + kh + output_padding.

use super::Weighted;
use super::activation;
use super::conv2d::ConvParams;
use super::im2col::{self, ConvGeometry};
use super::reduce::{self, ChannelSum};
pub use super::weighted::{backward, forward};
use super::{BackwardIo, ForwardIo, expect, record_weighted_backward};
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;

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
        let f =
            |i: usize, k: usize| ((i.max(1) - 1) * self.stride + k + self.output_padding).saturating_sub(2 * self.pad);
        (f(self.h, self.kh), f(self.w, self.kw))
    }

    pub fn validate(&self) -> Result<()> {
        if self.stride == 0 || self.kh == 0 || self.kw == 0 {
            return Err(Error::shape("conv_transpose2d", format!("stride and kernel must be positive: {self:?}")));
        }
        if self.output_padding >= self.stride {
            return Err(Error::shape(
                "conv_transpose2d",
                format!("output_padding {} must be smaller than stride {}", self.output_padding, self.stride),
            ));
        }
        let (oh, ow) = self.out_hw();
        if oh == 0 || ow == 0 {
            return Err(Error::shape("conv_transpose2d", format!("padding leaves an empty output: {self:?}")));
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

    /// The simple kernels' parameters: this op's own sizes, not its adjoint's as in `geometry`.
    fn params(&self, has_bias: bool) -> ConvParams {
        let (oh, ow) = self.out_hw();
        let ConvTranspose2d { n, c, h, w, k, kh, kw, stride, pad, .. } = *self;
        ConvParams::of(&ConvGeometry { n, c, h, w, k, oh, ow, kh, kw, stride, pad }, has_bias)
    }
}

impl Weighted for ConvTranspose2d {
    const NAME: &'static str = "conv_transpose2d";
    fn check(&self, x: usize, w: usize, b: Option<usize>, y: usize) -> Result<()> {
        ConvTranspose2d::check(self, x, w, b, y)
    }
    fn reference_forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
        reference::conv_transpose2d_forward(self, x, w, b, y);
    }
    fn reference_backward(&self, (x, w, dy): (&[f32], &[f32], &[f32]), [dx, dw, db]: [Option<&mut [f32]>; 3]) {
        reference::conv_transpose2d_backward(self, x, w, dy, dx, dw, db);
    }
    /// y = act(conv_transpose(x, w) + b); the activation is fused into col2im's stores.
    fn record_forward(&self, g: &mut GpuBackend, io: ForwardIo<'_>) -> Result<()> {
        let s = self;
        let tiled = g.plan.tiled;
        activation::applied(g, io, tiled, |g, io| {
            let ForwardIo { x, w, bias: b, y, .. } = io;
            if tiled {
                return im2col::adjoint(g, &s.geometry(), io);
            }
            let dummy = g.dummy.clone();
            let bind = [(1, x), (2, w), (3, b.unwrap_or(&dummy)), (4, y)];
            g.dispatch_items("conv_transpose2d", "forward", &s.params(b.is_some()), &bind, y.len)
        })
    }

    fn record_backward(&self, g: &mut GpuBackend, io: BackwardIo<'_>) -> Result<()> {
        let (s, BackwardIo { x, w, dy, grads }) = (self, io);
        let bias_sum = {
            let (oh, ow) = s.out_hw();
            ChannelSum { n: s.n, channels: s.k, spatial: oh * ow }
        };
        if g.plan.tiled {
            let geo = s.geometry();
            if let Some(dx) = grads.dx {
                im2col::forward(g, &geo, ForwardIo { x: dy, w, bias: None, act: None, y: dx })?;
            }
            if let Some(dw) = grads.dw {
                im2col::weight_grad(g, &geo, dy, x, dw)?;
            }
            if let Some(db) = grads.db {
                reduce::record_sum_channels(g, &bias_sum, dy, db, true)?;
            }
            return Ok(());
        }
        record_weighted_backward(g, "conv_transpose2d", &s.params(false), io, bias_sum)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::conv_transpose2d::ConvTranspose2d;
    use crate::reference::{Float, Taps, tap, taps_backward, taps_forward};

    impl Taps for ConvTranspose2d {
        fn output_planes(&self) -> (usize, usize, usize) {
            let (oh, ow) = self.out_hw();
            (self.n, self.k, oh * ow)
        }
        /// Input pixel by input pixel, then output channel and kernel position, skipping what falls
        /// outside the output.
        fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
            let s = self;
            let (oh, ow) = s.out_hw();
            for n in 0..s.n {
                for c in 0..s.c {
                    for iy in 0..s.h {
                        for ix in 0..s.w {
                            let xi = ((n * s.c + c) * s.h + iy) * s.w + ix;
                            for k in 0..s.k {
                                for i in 0..s.kh {
                                    let Some(oy) = tap(iy, i, s.stride, s.pad, oh) else {
                                        continue;
                                    };
                                    for j in 0..s.kw {
                                        let Some(ox) = tap(ix, j, s.stride, s.pad, ow) else {
                                            continue;
                                        };
                                        let yi = ((n * s.k + k) * oh + oy) * ow + ox;
                                        f(yi, xi, ((c * s.k + k) * s.kh + i) * s.kw + j);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// y [n, k, oh, ow] = conv_transpose(x [n, c, h, w], w [c, k, kh, kw]) + b [k], as the scatter
    /// of each input pixel through the kernel (the definition, not the GPU's gather).
    pub fn conv_transpose2d_forward<F: Float>(s: &ConvTranspose2d, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
        taps_forward(s, x, w, b, y);
    }

    /// dx (overwrite), dw += , db += from dy [n, k, oh, ow].
    pub fn conv_transpose2d_backward<F: Float>(
        s: &ConvTranspose2d,
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
    fn conv_transpose2d_gradients() {
        let mut rng = Rng::new(13);
        for s in [
            ConvTranspose2d { n: 2, c: 2, h: 3, w: 4, k: 3, kh: 3, kw: 3, stride: 2, pad: 1, output_padding: 1 },
            ConvTranspose2d { n: 1, c: 3, h: 3, w: 3, k: 2, kh: 4, kw: 4, stride: 2, pad: 1, output_padding: 0 },
        ] {
            let (oh, ow) = s.out_hw();
            let (nx, nw, nb, ny) = (s.n * s.c * s.h * s.w, s.c * s.k * s.kh * s.kw, s.k, s.n * s.k * oh * ow);
            let p = vecf(&mut rng, nx + nw + nb);
            let r = vecf(&mut rng, ny);
            let forward = |p: &[f64]| {
                let mut y = vec![0.0; ny];
                conv_transpose2d_forward(&s, &p[..nx], &p[nx..nx + nw], Some(&p[nx + nw..]), &mut y);
                y
            };
            let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; nb]);
            conv_transpose2d_backward(&s, &p[..nx], &p[nx..nx + nw], &r, Some(&mut dx), Some(&mut dw), Some(&mut db));
            check(&format!("conv_transpose2d {s:?}"), &p, &r, forward, &[dx, dw, db].concat());
        }
    }
}
