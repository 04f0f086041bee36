//! Convolutions as matrix products: `shaders/im2col.wgsl` lays a chunk of samples' input taps out
//! as columns, [`gemm`] multiplies them with the weights, and col2im folds columns back into an
//! image. Where the subgroup GEMM runs (CPU adapters), all three are implicit GEMMs instead: the
//! product gathers the columns from the image itself (`gemm_conv.wgsl`, `gemm_conv_weight.wgsl`),
//! and the adjoint is one product per stride phase of its output, with no col2im.
//! conv2d and conv_transpose2d are each other's adjoint, so the three functions here serve
//! both: conv2d's forward is conv_transpose2d's input gradient and the other way round.
//! (The direct one-output-per-invocation kernels in `conv2d.wgsl` and `conv_transpose2d.wgsl`
//! remain, selected by `WGAN_KERNELS=simple`.)

use super::activation::epilogue_code;
use super::gemm::{self, BiasAxis, Gemm, ImageTaps, Strides};
use super::{ForwardIo, u};
use crate::error::Result;
use crate::gpu::params::params;
use crate::gpu::{GemmKernel, GpuBackend, GpuTensor};

params! {
    /// im2col.wgsl's parameters: the chunk of samples, the geometry, and for `phase_weights` the
    /// phase's first taps and counts.
    pub struct Im2colParams {
        chunk: u32, n0: u32, c: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32,
        stride: u32, pad: u32, has_bias: u32, row: u32,
        // LeakyReLU's slope when EPILOGUE is 1.
        slope: f32,
        // phase_weights only: the weights' output channels, the phase's first tap and its taps.
        k: u32, i0: u32, j0: u32, ka: u32, kb: u32,
    }
}

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

    fn params(&self, n0: usize, chunk: usize, has_bias: bool) -> Im2colParams {
        self.params_rows(n0, chunk, self.c, has_bias)
    }

    /// The convolution as [`gemm::record_gathered`] reads it: B's columns are the output pixels,
    /// each reading the image at pixel·stride − pad + tap, and written to the same pixel of out.
    fn image_taps(&self) -> ImageTaps {
        let pad = self.pad as isize;
        ImageTaps {
            c: self.c,
            h: self.h,
            w: self.w,
            kh: self.kh,
            kw: self.kw,
            q_w: self.ow,
            q_pixels: self.pixels(),
            step: self.stride,
            off: (-pad, -pad),
            dir: 1,
            out_w: self.ow,
            out_step: 1,
            out_origin: (0, 0),
        }
    }

    /// The taps of `w` that reach the image pixels of phase (py, px) (≡ mod stride): the first
    /// (i0, j0) and how many along each axis (every stride-th from there).
    fn phase(&self, py: usize, px: usize) -> ((usize, usize), (usize, usize)) {
        let first = |p: usize| (p + self.pad) % self.stride;
        let count = |first: usize, k: usize| k.saturating_sub(first).div_ceil(self.stride);
        let (i0, j0) = (first(py), first(px));
        ((i0, j0), (count(i0, self.kh), count(j0, self.kw)))
    }

    fn params_rows(&self, n0: usize, chunk: usize, rows: usize, has_bias: bool) -> Im2colParams {
        Im2colParams {
            chunk: u(chunk),
            n0: u(n0),
            c: u(rows),
            h: u(self.h),
            w: u(self.w),
            oh: u(self.oh),
            ow: u(self.ow),
            kh: u(self.kh),
            kw: u(self.kw),
            stride: u(self.stride),
            pad: u(self.pad),
            has_bias: has_bias as u32,
            row: u(self.row()),
            ..Im2colParams::default()
        }
    }

    fn im2col(&self, g: &mut GpuBackend, img: &GpuTensor, n0: usize, chunk: usize) -> Result<GpuTensor> {
        let col = self.workspace(g, chunk)?;
        let params = self.params(n0, chunk, false);
        let rows = chunk * self.taps();
        let (entry, items) = layout(g, ("im2col", rows), ("im2col_wide", rows * self.row() / 4));
        g.dispatch_items("im2col", entry, &params, &[(1, img), (6, &col)], items)?;
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
        let rows = chunk * self.k;
        let (entry, items) = layout(g, ("pad_rows", rows), ("pad_rows_wide", rows * self.row() / 4));
        g.dispatch_items("im2col", entry, &params, &[(1, dout), (6, &padded)], items)?;
        Ok((padded, 0, self.row()))
    }
}

/// The entry point and invocation count of one of im2col.wgsl's passes: under the GPU plan its
/// `_wide` form, one invocation per vec4 or element so that neighbours touch neighbouring
/// addresses; on CPU adapters the form that walks whole rows without dividing.
fn layout(g: &GpuBackend, by_row: (&'static str, usize), wide: (&'static str, usize)) -> (&'static str, usize) {
    if g.gemm_kernel() == GemmKernel::Shared { wide } else { by_row }
}

/// out = act(conv(img, w) (+ bias[k])), overwriting out (`io.x` is the image, `io.y` out).
pub(crate) fn forward(g: &mut GpuBackend, geo: &ConvGeometry, io: ForwardIo<'_>) -> Result<()> {
    let ForwardIo { x: img, w, bias, act, y: out } = io;
    let (q, p, row) = (geo.taps(), geo.pixels(), geo.row());
    // On CPU adapters the product gathers its columns from the image itself, over all samples at
    // once: no im2col pass, no workspace, no tiles half empty at the end of a sample's pixels.
    let implicit = Gemm {
        m: geo.k,
        n: geo.n * p,
        k: q,
        k_outer: 1,
        batch: 1,
        a: (q, 1).into(),
        b: Strides::default(),
        c: Strides { s0: p, s1: 1, batch: geo.k * p, ..Strides::default() },
        accumulate: false,
        bias_axis: BiasAxis::M,
        epilogue: act,
    };
    if gemm::gathers(g, &implicit, w.len) {
        return gemm::record_gathered(g, &implicit, &geo.image_taps(), w, img, bias, out);
    }
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
/// conv_transpose2d's forward (`io.x` is out, `io.y` the image).
pub(crate) fn adjoint(g: &mut GpuBackend, geo: &ConvGeometry, io: ForwardIo<'_>) -> Result<()> {
    if adjoint_by_phases(g, geo, io)? {
        return Ok(());
    }
    let ForwardIo { x: out, w, bias, act, y: img } = io;
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
        let params = Im2colParams { slope, ..geo.params(n0, chunk, bias.is_some()) };
        let bind = [(3, &col), (4, img), (5, bias.unwrap_or(&dummy))];
        let constants = [("EPILOGUE", epilogue)];
        let rows = chunk * geo.c * geo.h;
        let (entry, items) = layout(g, ("col2im", rows), ("col2im_wide", rows * geo.w));
        g.dispatch_items_specialised("im2col", entry, &constants, &params, &bind, items)?;
    }
    Ok(())
}

/// [`adjoint`] without zero insertion or col2im, where the implicit GEMM runs (CPU adapters): each
/// of the stride² phases of image pixels ((iy, ix) ≡ (py, px) mod stride) is one product over the
/// taps that reach it, gathering `out` (see `gemm_conv.wgsl`). False when it does not apply: every
/// phase needs taps, in multiples of 4, and the image channels must fill the kernel's 16-row tiles
/// (an image of 1 channel, the DCGAN's, ran 10x slower so than as one product and col2im).
fn adjoint_by_phases(g: &mut GpuBackend, geo: &ConvGeometry, io: ForwardIo<'_>) -> Result<bool> {
    let ForwardIo { x: out, w, bias, act, y: img } = io;
    let s = geo.stride;
    let phases: Vec<(usize, usize)> =
        (0..s.min(geo.h)).flat_map(|py| (0..s.min(geo.w)).map(move |px| (py, px))).collect();
    let product = |(py, px): (usize, usize)| {
        let (_, (ka, kb)) = geo.phase(py, px);
        let (qh, qw) = ((geo.h - py).div_ceil(s), (geo.w - px).div_ceil(s));
        let taps = geo.k * ka * kb;
        Gemm {
            m: geo.c,
            n: geo.n * qh * qw,
            k: taps,
            k_outer: 1,
            batch: 1,
            a: (taps, 1).into(),
            b: Strides::default(),
            c: Strides { s0: geo.h * geo.w, s1: 1, batch: geo.c * geo.h * geo.w, ..Strides::default() },
            accumulate: false,
            bias_axis: BiasAxis::M,
            epilogue: act,
        }
    };
    let most = geo.c * geo.k * geo.kh.div_ceil(s) * geo.kw.div_ceil(s);
    if geo.c < 16
        || !phases.iter().all(|&ph| {
            let mm = product(ph);
            mm.k > 0 && gemm::gathers(g, &mm, most)
        })
    {
        return Ok(false);
    }
    let wp = g.scratch("im2col.phase_w", most)?;
    for (py, px) in phases {
        let ((i0, j0), (ka, kb)) = geo.phase(py, px);
        let params =
            Im2colParams { k: u(geo.k), i0: u(i0), j0: u(j0), ka: u(ka), kb: u(kb), ..geo.params(0, 0, false) };
        let items = geo.c * geo.k * ka * kb;
        g.dispatch_items("im2col", "phase_weights", &params, &[(1, w), (4, &wp)], items)?;
        // Image row iy = py + stride·qy is reached from out row (iy + pad − i) / stride =
        // qy + (py + pad − i0) / stride − a for tap i = i0 + stride·a; likewise along x.
        let (qh, qw) = ((geo.h - py).div_ceil(s), (geo.w - px).div_ceil(s));
        let origin = |p: usize, first: usize| ((p + geo.pad - first) / s) as isize;
        let taps = ImageTaps {
            c: geo.k,
            h: geo.oh,
            w: geo.ow,
            kh: ka,
            kw: kb,
            q_w: qw,
            q_pixels: qh * qw,
            step: 1,
            off: (origin(py, i0), origin(px, j0)),
            dir: -1,
            out_w: geo.w,
            out_step: s,
            out_origin: (py, px),
        };
        gemm::record_gathered(g, &product((py, px)), &taps, &wp, out, bias, img)?;
    }
    Ok(true)
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
    // Where the implicit GEMM runs, the product gathers im2col's rows from the image itself.
    let implicit = |stride: usize, offset: usize| Gemm {
        m: geo.k,
        n: q,
        k: stride,
        k_outer: geo.n,
        batch: 1,
        a: Strides { s0: stride, s1: 1, outer: geo.k * stride, offset, ..Strides::default() },
        b: Strides::default(),
        c: (q, 1).into(),
        accumulate: true,
        bias_axis: BiasAxis::M,
        epilogue: None,
    };
    if gemm::gathers_weight(g, &implicit(row, 0), geo.n * geo.k * row, dw.len) {
        let (rows, offset, stride) = geo.output_rows(g, dout, 0, geo.n)?;
        return gemm::record_weight_gathered(g, &implicit(stride, offset), &geo.image_taps(), &rows, img, dw);
    }
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
