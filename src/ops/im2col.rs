//! Convolutions as matrix products: `shaders/im2col.wgsl` lays a chunk of samples' input taps out
//! as columns, [`gemm`] multiplies them with the weights, and col2im folds columns back into an
//! image. conv2d and conv_transpose2d are each other's adjoint, so the three functions here serve
//! both: conv2d's forward is conv_transpose2d's input gradient and the other way round.
//! (The direct one-output-per-invocation kernels in `conv2d.wgsl` and `conv_transpose2d.wgsl`
//! remain, selected by `WGAN_KERNELS=simple`.)

use super::activation::{Activation, epilogue_code};
use super::gemm::{self, BiasAxis, Gemm, Strides};
use super::u;
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

/// A conv2d's geometry: img [n, c, h, w] → out [n, k, oh, ow] with weights [k, c, kh, kw].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvGeometry {
    fn taps(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn pixels(&self) -> usize {
        self.oh * self.ow
    }

    /// The padded length of a row of pixels in the workspaces (see `im2col.wgsl`).
    fn row(&self) -> usize {
        self.pixels().next_multiple_of(4)
    }

    /// The sample ranges that each fit one workspace.
    fn chunks(&self, g: &GpuBackend) -> impl Iterator<Item = (usize, usize)> + use<> {
        // 64 MiB by default: batch 256 of the DCGAN's wide layers in one go.
        let limit = g.workspace_floats.min(g.ctx.limits.max_storage_buffer_binding_size as usize / 4);
        let per = (limit / (self.taps() * self.row()).max(1)).clamp(1, self.n.max(1));
        let n = self.n;
        (0..n).step_by(per).map(move |n0| (n0, per.min(n - n0)))
    }

    fn workspace(&self, g: &mut GpuBackend, chunk: usize) -> Result<GpuTensor> {
        g.scratch("im2col.col", chunk * self.taps() * self.row())
    }

    fn params(&self, n0: usize, chunk: usize, has_bias: bool) -> [u32; 14] {
        self.params_rows(n0, chunk, self.c, has_bias)
    }

    fn params_rows(&self, n0: usize, chunk: usize, rows: usize, has_bias: bool) -> [u32; 14] {
        [
            u(chunk),
            u(n0),
            u(rows),
            u(self.h),
            u(self.w),
            u(self.oh),
            u(self.ow),
            u(self.kh),
            u(self.kw),
            u(self.stride),
            u(self.pad),
            has_bias as u32,
            u(self.row()),
            0,
        ]
    }

    fn im2col(&self, g: &mut GpuBackend, img: &GpuTensor, n0: usize, chunk: usize) -> Result<GpuTensor> {
        let col = self.workspace(g, chunk)?;
        let params = self.params(n0, chunk, false);
        g.dispatch_items("im2col", "im2col", &params, &[(1, img), (6, &col)], chunk * self.taps())?;
        Ok(col)
    }

    /// A chunk of a gradient at the output, [n, k, oh·ow], as gemm wants it: itself when its rows
    /// are already a multiple of 4 long, else copied into rows padded with zeros. Returns the
    /// tensor, the element offset of the chunk in it, and its row length.
    fn output_rows(
        &self,
        g: &mut GpuBackend,
        dout: &GpuTensor,
        n0: usize,
        chunk: usize,
    ) -> Result<(GpuTensor, usize, usize)> {
        let p = self.pixels();
        if p.is_multiple_of(4) {
            return Ok((dout.clone(), n0 * self.k * p, p));
        }
        let padded = g.scratch("im2col.rows", chunk * self.k * self.row())?;
        let params = self.params_rows(n0, chunk, self.k, false);
        g.dispatch_items("im2col", "pad_rows", &params, &[(1, dout), (6, &padded)], chunk * self.k)?;
        Ok((padded, 0, self.row()))
    }
}

/// out = act(conv(img, w) (+ bias[k])), overwriting out.
pub(crate) fn forward(
    g: &mut GpuBackend,
    geo: &ConvGeometry,
    img: &GpuTensor,
    w: &GpuTensor,
    (bias, act): (Option<&GpuTensor>, Option<Activation>),
    out: &GpuTensor,
) -> Result<()> {
    let (q, p, row) = (geo.taps(), geo.pixels(), geo.row());
    for (n0, chunk) in geo.chunks(g) {
        let col = geo.im2col(g, img, n0, chunk)?;
        // out_s[k, p] = w[k, q] · col_s[q, p]
        let mm = Gemm {
            m: geo.k,
            n: p,
            k: q,
            k_outer: 1,
            batch: chunk,
            a: (q, 1).into(),
            b: Strides { s0: row, s1: 1, batch: q * row, ..Strides::default() },
            c: Strides { s0: p, s1: 1, batch: geo.k * p, offset: n0 * geo.k * p, ..Strides::default() },
            accumulate: false,
            bias_axis: BiasAxis::M,
            epilogue: act,
        };
        gemm::record(g, &mm, w, &col, bias, out)?;
    }
    Ok(())
}

/// img = act(convᵀ(out, w) (+ bias[c])), overwriting img: conv2d's input gradient and
/// conv_transpose2d's forward.
pub(crate) fn adjoint(
    g: &mut GpuBackend,
    geo: &ConvGeometry,
    out: &GpuTensor,
    w: &GpuTensor,
    (bias, act): (Option<&GpuTensor>, Option<Activation>),
    img: &GpuTensor,
) -> Result<()> {
    let (q, row) = (geo.taps(), geo.row());
    let dummy = g.dummy.clone();
    let (epilogue, slope) = epilogue_code(act);
    for (n0, chunk) in geo.chunks(g) {
        let (rows, offset, stride) = geo.output_rows(g, out, n0, chunk)?;
        let col = geo.workspace(g, chunk)?;
        // col_s[q, p] = (w[k, q])ᵀ · out_s[k, p], over whole padded rows (their padding is zero in
        // `rows` and unread in col) so that C's rows are vec4.
        let mm = Gemm {
            m: q,
            n: row,
            k: geo.k,
            k_outer: 1,
            batch: chunk,
            a: (1, q).into(),
            b: Strides { s0: stride, s1: 1, batch: geo.k * stride, offset, ..Strides::default() },
            c: Strides { s0: row, s1: 1, batch: q * row, ..Strides::default() },
            accumulate: false,
            bias_axis: BiasAxis::M,
            epilogue: None,
        };
        gemm::record(g, &mm, w, &rows, None, &col)?;
        let mut params = geo.params(n0, chunk, bias.is_some());
        params[13] = slope.to_bits();
        let bind = [(3, &col), (4, img), (5, bias.unwrap_or(&dummy))];
        let constants = [("EPILOGUE", epilogue)];
        g.dispatch_items_specialised("im2col", "col2im", &constants, &params, &bind, chunk * geo.c * geo.h)?;
    }
    Ok(())
}

/// dw[k, q] += Σ_{samples, pixels} dout[k, p] · im2col(img)[q, p].
pub(crate) fn weight_grad(
    g: &mut GpuBackend,
    geo: &ConvGeometry,
    img: &GpuTensor,
    dout: &GpuTensor,
    dw: &GpuTensor,
) -> Result<()> {
    let (q, row) = (geo.taps(), geo.row());
    for (n0, chunk) in geo.chunks(g) {
        let (rows, offset, stride) = geo.output_rows(g, dout, n0, chunk)?;
        let col = geo.im2col(g, img, n0, chunk)?;
        // Both operands' padding columns are zero, so the reduction may run over whole rows.
        let mm = Gemm {
            m: geo.k,
            n: q,
            k: stride,
            k_outer: chunk,
            batch: 1,
            a: Strides { s0: stride, s1: 1, outer: geo.k * stride, offset, ..Strides::default() },
            b: Strides { s0: 1, s1: row, outer: q * row, ..Strides::default() },
            c: (q, 1).into(),
            accumulate: true,
            bias_axis: BiasAxis::M,
            epilogue: None,
        };
        gemm::record(g, &mm, &rows, &col, None, dw)?;
    }
    Ok(())
}
