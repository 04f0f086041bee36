//! gemm: C[b, m, n] (+)= Σ_{ko, k} A[b, m, ko, k] · B[b, ko, k, n] (+ bias), register-tiled, with
//! arbitrary strides. The GPU kernel behind `linear` and the convolutions (see
//! [`crate::ops::linear`], [`crate::ops::im2col`]); its reference is [`crate::ops::gemm::reference::gemm`].

use super::activation::{Activation, epilogue_code};
use super::{GpuTensors, Pass, all, all_mut, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::params::params;
use crate::gpu::{GemmKernel, GpuBackend, GpuTensor};

/// Where an operand's elements live: element (i, j) of batch item `b` at reduction step `ko` is at
/// `offset + b·batch + ko·outer + i·s0 + j·s1` (`outer` is unused for C).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strides {
    pub s0: usize,
    pub s1: usize,
    pub outer: usize,
    pub batch: usize,
    pub offset: usize,
}

impl From<(usize, usize)> for Strides {
    fn from((s0, s1): (usize, usize)) -> Self {
        Strides { s0, s1, ..Strides::default() }
    }
}

/// Which index the bias is added along.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BiasAxis {
    /// bias[n]: a linear layer's output features.
    #[default]
    N,
    /// bias[m]: a convolution's output channels.
    M,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// The reduction runs over `k_outer` × `k` (e.g. samples × pixels); 1 for a plain product.
    pub k_outer: usize,
    pub batch: usize,
    /// A[m, k] strides.
    pub a: Strides,
    /// B[k, n] strides.
    pub b: Strides,
    /// C[m, n] strides.
    pub c: Strides,
    /// Add into C instead of overwriting it.
    pub accumulate: bool,
    pub bias_axis: BiasAxis,
    /// An activation applied to C as it is stored (a layer's forward); not with `accumulate`.
    pub epilogue: Option<Activation>,
}

impl Gemm {
    /// A single C[m, n] (+)= A[m, k] · B[k, n] through 2-D strides.
    pub fn plain(
        (m, n, k): (usize, usize, usize),
        a: (usize, usize),
        b: (usize, usize),
        c: (usize, usize),
        accumulate: bool,
    ) -> Self {
        Gemm {
            m,
            n,
            k,
            k_outer: 1,
            batch: 1,
            a: a.into(),
            b: b.into(),
            c: c.into(),
            accumulate,
            bias_axis: BiasAxis::N,
            epilogue: None,
        }
    }

    /// One past the largest index an operand with strides `s` over `r`×`q` touches.
    fn extent(&self, r: usize, q: usize, s: Strides, outer: bool) -> usize {
        if r == 0 || q == 0 || self.batch == 0 || self.k_outer == 0 {
            return 0;
        }
        let ko = if outer { (self.k_outer - 1) * s.outer } else { 0 };
        s.offset + (self.batch - 1) * s.batch + ko + (r - 1) * s.s0 + (q - 1) * s.s1 + 1
    }

    pub fn check(&self, a: usize, b: usize, bias: Option<usize>, c: usize) -> Result<()> {
        fits("a", a, self.extent(self.m, self.k, self.a, true))?;
        fits("b", b, self.extent(self.k, self.n, self.b, true))?;
        fits("c", c, self.extent(self.m, self.n, self.c, false))?;
        if let Some(bias) = bias {
            fits("bias", bias, if self.bias_axis == BiasAxis::M { self.m } else { self.n })?;
        }
        if self.accumulate && self.epilogue.is_some() {
            return Err(Error::shape("gemm", "an activation epilogue needs a product that overwrites C"));
        }
        Ok(())
    }

    /// How the vec4 kernels can read A (0: along k, 1: along m) and B (0: along n, 1: along k),
    /// or None when it cannot: k must be a multiple of 4 and each operand contiguous along one
    /// axis, with every other stride and offset a multiple of 4. Reading B along n may run past
    /// column n up to the next multiple of 4 (those columns are never stored), so that padding
    /// must lie inside the tensor.
    pub fn vec4_layout(&self, a_len: usize, b_len: usize) -> Option<(u32, u32)> {
        let all4 = |v: &[usize]| v.iter().all(|x| x.is_multiple_of(4));
        if !self.k.is_multiple_of(4) || self.m == 0 || self.n == 0 {
            return None;
        }
        let (a, b) = (self.a, self.b);
        let a_vec = if self.a_along_k() {
            0
        } else if a.s0 == 1 && self.m.is_multiple_of(4) && all4(&[a.s1, a.outer, a.batch, a.offset]) {
            1
        } else {
            return None;
        };
        let b_vec = if b.s1 == 1
            && all4(&[b.s0, b.outer, b.batch, b.offset])
            && self.extent(self.k, self.n.next_multiple_of(4), b, true) <= b_len / 4 * 4
        {
            0
        } else if b.s0 == 1 && all4(&[b.s1, b.outer, b.batch, b.offset]) {
            1
        } else {
            return None;
        };
        (self.extent(self.m, self.k, a, true) <= a_len / 4 * 4 && self.extent(self.k, self.n, b, true) <= b_len / 4 * 4)
            .then_some((a_vec, b_vec))
    }

    /// Whether the vec4 kernels can read A 4 along k (A_VEC 0): contiguous along k, every other
    /// stride and offset a multiple of 4 (k itself and A's extent: [`Gemm::vec4_layout`]).
    fn a_along_k(&self) -> bool {
        let a = self.a;
        a.s1 == 1 && [a.s0, a.outer, a.batch, a.offset].iter().all(|x| x.is_multiple_of(4))
    }

    /// Whether the subgroup kernel can run `s` with B gathered ([`record_gathered`],
    /// [`record_weight_gathered`]): one product (no batch), A read 4 along k and inside `a_len`.
    fn gathering(&self, g: &GpuBackend, a_len: usize) -> bool {
        g.plan.gemm == GemmKernel::Subgroup
            && self.batch == 1
            && self.k.is_multiple_of(4)
            && self.a_along_k()
            && self.extent(self.m, self.k, self.a, true) <= a_len / 4 * 4
    }

    /// Whether C can be stored as vec4 rows: contiguous along n, n and every other stride and
    /// offset multiples of 4, and the tensor a whole number of vec4.
    pub fn c_vec4(&self, c_len: usize) -> bool {
        let c = self.c;
        c.s1 == 1 && [self.n, c.s0, c.batch, c.offset, c_len].iter().all(|x| x.is_multiple_of(4))
    }

    pub fn flops(&self) -> u64 {
        2 * (self.batch * self.m * self.n * self.k_outer * self.k) as u64
    }
}

/// C (+)= A·B (+ bias) through arbitrary strides.
pub fn gemm<B: Backend>(b: &mut B, s: &Gemm, a: &B::T, m: &B::T, bias: Option<&B::T>, c: &B::T) -> Result<()> {
    b.run(s, &[Some(a), Some(m), bias], &[Some(c)])
}

/// Reads a, b and the optional bias; writes c.
impl Pass for Gemm {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        self.check(reads[0].expect("a"), reads[1].expect("b"), reads[2], all::<_, 1>(writes)[0])
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [c] = all_mut(writes);
        reference::gemm(self, reads[0].expect("a"), reads[1].expect("b"), reads[2], c);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        record(g, self, reads[0].expect("a"), reads[1].expect("b"), reads[2], all::<_, 1>(writes)[0])
    }
}

pub(crate) fn record(
    g: &mut GpuBackend,
    s: &Gemm,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<()> {
    s.check(a.len, b.len, bias.map(|t| t.len), c.len)?;
    let dummy = g.dummy.clone();
    let vec4 = s.vec4_layout(a.len, b.len);
    let (params, store) = params(s, bias.is_some());
    g.count_flops(s.flops());
    if g.plan.gemm == GemmKernel::Shared {
        return record_shared(g, s, (a, b, bias, c), (&params, &store));
    }
    if let Some((a_vec, b_vec)) = vec4 {
        let bind = [(5, a), (6, b), (3, bias.unwrap_or(&dummy)), (4, c)];
        let [epi, bias_c, acc] = store;
        let layout = [("A_VEC", a_vec), ("B_VEC", b_vec), epi, bias_c, acc];
        // Where subgroups are 8 lanes wide on a CPU adapter, lanes share A (fewer loads per
        // multiply-add); elsewhere each invocation owns an 8×8 tile.
        if g.plan.gemm == GemmKernel::Subgroup {
            let (entry, groups) = subgroup_tiles(g, s);
            let shader = if s.c_vec4(c.len) { "gemm_subgroup_c4" } else { "gemm_subgroup" };
            return g.dispatch_specialised(shader, entry, &layout, &params, &bind, groups);
        }
        let tiles = s.batch * s.m.div_ceil(8) * s.n.div_ceil(8);
        return g.dispatch_items_specialised("gemm", "tile8x8_vec4", &layout, &params, &bind, tiles);
    }
    let tiles = s.batch * s.m.div_ceil(4) * s.n.div_ceil(4);
    let bind = [(1, a), (2, b), (3, bias.unwrap_or(&dummy)), (4, c)];
    g.dispatch_items_specialised("gemm", "tile4x4", &store, &params, &bind, tiles)
}

/// A product should fill a GPU: at least this many workgroups where it has more than
/// [`BIG_PRODUCT`] FLOPs to do (`wgan-gpu bench` lists those that do not).
pub const MIN_WORKGROUPS: usize = 64;
pub const BIG_PRODUCT: u64 = 1_000_000;

/// `gemm_shared.wgsl`'s C tile: 64×64 per workgroup.
const SHARED_TILE: usize = 64;

/// The GPU product: one workgroup per 64×64 tile of C, or where that leaves a GPU mostly idle (a
/// weight gradient's few tiles over a reduction of samples × pixels, a layer with one output),
/// split-K: the reduction is cut into equal chunks whose partial products land side by side in a
/// workspace, then `sum_splits` adds them in chunk order (the same order every run, so results
/// stay bit-identical from run to run) with C's bias, accumulation and activation.
fn record_shared(
    g: &mut GpuBackend,
    s: &Gemm,
    (a, b, bias, c): (&GpuTensor, &GpuTensor, Option<&GpuTensor>, &GpuTensor),
    (params, store): (&GemmParams, &[(&'static str, u32); 3]),
) -> Result<()> {
    let dummy = g.dummy.clone();
    let bias = bias.unwrap_or(&dummy);
    let tiles = s.batch * s.m.div_ceil(SHARED_TILE) * s.n.div_ceil(SHARED_TILE);
    let Some(part) = s.split_k(tiles, g.workspace_floats) else {
        let bind = [(1, a), (2, b), (3, bias), (4, c)];
        return g.dispatch_specialised("gemm_shared", "tile64", &s.staging(store), params, &bind, tiles);
    };
    let parts = part.batch;
    let partials = g.scratch("gemm_splits", parts * s.m * s.n)?;
    let (part_params, part_store) = self::params(&part, false);
    let bind = [(1, a), (2, b), (3, &dummy), (4, &partials)];
    let constants = part.staging(&part_store);
    g.dispatch_specialised("gemm_shared", "tile64", &constants, &part_params, &bind, tiles * parts)?;
    // The sum reads the partials through A's binding; k carries the number of chunks.
    let sum = GemmParams { k: u(parts), ..*params };
    let bind = [(1, &partials), (3, bias), (4, c)];
    g.dispatch_items_specialised("gemm_shared", "sum_splits", store, &sum, &bind, s.m * s.n)
}

impl Gemm {
    /// gemm_shared's staging order with the store's constants: neighbouring invocations load
    /// along A's k (A_VEC 0) or m (1) and along B's n (B_VEC 0) or k (1), whichever is
    /// contiguous, so that a GPU coalesces the loads of a warp.
    fn staging(&self, store: &[(&'static str, u32); 3]) -> [(&'static str, u32); 5] {
        let a_along_m = self.a.s0 == 1 && self.a.s1 != 1;
        let b_along_k = self.b.s0 == 1 && self.b.s1 != 1;
        [("A_VEC", a_along_m as u32), ("B_VEC", b_along_k as u32), store[0], store[1], store[2]]
    }

    /// The partial products of split-K as one batched product over chunks of the reduction
    /// (along the outer reduction when there is one, else along k), writing [chunk, m, n]; or
    /// None where the product already fills [`MIN_WORKGROUPS`] with `tiles`, is small, is
    /// batched, or has no chunking that helps. Chunks divide the reduction exactly, so the
    /// kernel needs no ragged edge, and the workspace stays within `workspace_floats`.
    fn split_k(&self, tiles: usize, workspace_floats: usize) -> Option<Gemm> {
        if tiles >= MIN_WORKGROUPS || self.flops() <= BIG_PRODUCT || self.batch != 1 {
            return None;
        }
        let along_outer = self.k_outer > 1;
        // At least two of the kernel's 16-deep steps per chunk, or the sum costs more than it saves.
        let (total, min_chunk) = if along_outer { (self.k_outer, 32usize.div_ceil(self.k)) } else { (self.k, 32) };
        let want = MIN_WORKGROUPS.div_ceil(tiles);
        let most = (total / min_chunk).min(workspace_floats / (self.m * self.n).max(1));
        let divisors = (2..=most).filter(|d| total.is_multiple_of(*d));
        let parts = divisors.clone().find(|d| *d >= want).or_else(|| divisors.clone().next_back())?;
        let chunk = total / parts;
        let (mut a, mut b) = (self.a, self.b);
        if along_outer {
            (a.batch, b.batch) = (chunk * a.outer, chunk * b.outer);
        } else {
            (a.batch, b.batch) = (chunk * a.s1, chunk * b.s0);
        }
        let c = Strides { s0: self.n, s1: 1, outer: 0, batch: self.m * self.n, offset: 0 };
        Some(Gemm {
            k: if along_outer { self.k } else { chunk },
            k_outer: if along_outer { chunk } else { self.k_outer },
            batch: parts,
            a,
            b,
            c,
            accumulate: false,
            epilogue: None,
            ..*self
        })
    }
}

/// An operand of `len` elements that a product reads up to element `need`.
fn fits(what: &str, len: usize, need: usize) -> Result<()> {
    if len >= need {
        Ok(())
    } else {
        Err(Error::shape("gemm", format!("{what} has {len} elements, the product reaches {need}")))
    }
}

/// Invocations per workgroup of `gemm_subgroup.wgsl` (its `@workgroup_size`).
const SUBGROUP_WG: usize = 64;

/// Where [`record_gathered`] finds B and puts C (`gemm_conv.wgsl` says it with formulas): column n
/// of B is point (qy, qx) of sample n / q_pixels on a grid q_w wide, row t = (ci, i, j) a kernel
/// tap, read at img[sample, ci, qy·step + off_y + i·dir, qx·step + off_x + j·dir] (0 off the
/// image); C's column goes to pixel (qy·out_step + out_y0, qx·out_step + out_x0) of rows out_w
/// long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ImageTaps {
    /// The image: channels, height, width.
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Taps per channel.
    pub kh: usize,
    pub kw: usize,
    pub q_w: usize,
    pub q_pixels: usize,
    pub step: usize,
    pub off: (isize, isize),
    /// +1 or −1.
    pub dir: isize,
    pub out_w: usize,
    pub out_step: usize,
    pub out_origin: (usize, usize),
}

impl ImageTaps {
    /// Writes the image fields of `p`.
    fn set(&self, p: &mut GemmParams) {
        // Offsets and directions wrap, as the shader's unsigned arithmetic expects.
        let wrap = |v: isize| v as i32 as u32;
        (p.img_c, p.img_h, p.img_w, p.q_w, p.q_pixels) =
            (u(self.c), u(self.h), u(self.w), u(self.q_w), u(self.q_pixels));
        (p.step, p.off_y, p.off_x, p.dir) = (u(self.step), wrap(self.off.0), wrap(self.off.1), wrap(self.dir));
        (p.out_w, p.out_step) = (u(self.out_w), u(self.out_step));
        (p.out_y0, p.out_x0) = (u(self.out_origin.0), u(self.out_origin.1));
    }
}

/// Whether [`record_gathered`] can run `s` on this backend: the subgroup kernel (CPU adapters),
/// with A read 4 taps at a time.
pub(crate) fn gathers(g: &GpuBackend, s: &Gemm, a_len: usize) -> bool {
    s.k_outer == 1 && s.gathering(g, a_len)
}

/// The implicit-GEMM convolution (`gemm_conv.wgsl`): C = A · B (+ bias[m]) with B gathered from
/// `img` as `taps` says instead of read from an im2col workspace, and C's column n stored at
/// `c.offset + sample·c.batch + m·c.s0` plus the pixel `taps` maps it to. Only where [`gathers`]
/// says so.
pub(crate) fn record_gathered(
    g: &mut GpuBackend,
    s: &Gemm,
    taps: &ImageTaps,
    a: &GpuTensor,
    img: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<()> {
    if !gathers(g, s, a.len) || s.bias_axis != BiasAxis::M {
        return Err(Error::shape("gemm", format!("no gathering kernel for {s:?} on this adapter")));
    }
    if s.m == 0 || s.n == 0 {
        return Ok(());
    }
    let samples = s.n.div_ceil(taps.q_pixels.max(1));
    fits("img", img.len, samples * taps.c * taps.h * taps.w)?;
    fits("bias", bias.map_or(s.m, |b| b.len), s.m)?;
    let last = |q: usize| (q - 1) * taps.out_step;
    let rows = taps.q_pixels / taps.q_w.max(1);
    let end = (last(rows) + taps.out_origin.0) * taps.out_w + last(taps.q_w) + taps.out_origin.1 + 1;
    fits("c", c.len, s.c.offset + (samples - 1) * s.c.batch + (s.m - 1) * s.c.s0 + end)?;
    dispatch_gathered(g, "gemm_subgroup_conv", s, taps, &[], (a, img, bias, c))
}

/// Whether [`record_weight_gathered`] can run `s`: the subgroup kernel, A read 4 pixels at a time,
/// C stored as vec4 rows.
pub(crate) fn gathers_weight(g: &GpuBackend, s: &Gemm, a_len: usize, c_len: usize) -> bool {
    s.gathering(g, a_len) && s.c_vec4(c_len) && s.extent(s.m, s.n, s.c, false) <= c_len
}

/// A convolution's weight gradient as an implicit GEMM (`gemm_conv_weight.wgsl`): C (+)= A · B
/// with A the output gradient [samples (k_outer), m, k pixels] and B[pixel, tap] gathered from
/// `img` as `taps` says (its kernel size, step and offsets; the pixels lie on a grid `taps.q_w`
/// wide). Only where [`gathers_weight`] says so.
pub(crate) fn record_weight_gathered(
    g: &mut GpuBackend,
    s: &Gemm,
    taps: &ImageTaps,
    a: &GpuTensor,
    img: &GpuTensor,
    c: &GpuTensor,
) -> Result<()> {
    if !gathers_weight(g, s, a.len, c.len) || taps.dir != 1 || s.epilogue.is_some() {
        return Err(Error::shape("gemm", format!("no gathering kernel for {s:?} on this adapter")));
    }
    fits("img", img.len, s.k_outer * taps.c * taps.h * taps.w)?;
    let ow = [("OW", u(taps.q_w))];
    dispatch_gathered(g, "gemm_subgroup_conv_weight", s, taps, &ow, (a, img, None, c))
}

/// The dispatch shared by the gathering products: the subgroup kernel's tiles with the image's
/// fields after gemm_tiles.wgsl's parameters.
fn dispatch_gathered(
    g: &mut GpuBackend,
    shader: &'static str,
    s: &Gemm,
    taps: &ImageTaps,
    more: &[(&'static str, u32)],
    (a, img, bias, c): (&GpuTensor, &GpuTensor, Option<&GpuTensor>, &GpuTensor),
) -> Result<()> {
    let (mut params, store) = params(s, bias.is_some());
    taps.set(&mut params);
    let kernel = [("A_VEC", 0), ("KH", u(taps.kh)), ("KW", u(taps.kw))];
    let constants: Vec<_> = kernel.into_iter().chain(more.iter().copied()).chain(store).collect();
    let dummy = g.dummy.clone();
    let bind = [(5, a), (7, img), (3, bias.unwrap_or(&dummy)), (4, c)];
    let (entry, groups) = subgroup_tiles(g, s);
    g.count_flops(s.flops());
    g.dispatch_specialised(shader, entry, &constants, &params, &bind, groups)
}

params! {
    /// gemm_tiles.wgsl's parameters: the product's sizes, the strides and offsets of A, B and C,
    /// the fused LeakyReLU's slope, and for gemm_conv*.wgsl only the image B is gathered from.
    pub struct GemmParams {
        m: u32, n: u32, k: u32, k_outer: u32, batch: u32,
        a_m: u32, a_k: u32, a_ko: u32, a_b: u32, a0: u32,
        b_k: u32, b_n: u32, b_ko: u32, b_b: u32, b0: u32,
        c_m: u32, c_n: u32, c_b: u32, c0: u32,
        // LeakyReLU's slope when EPILOGUE is 1.
        slope: f32,
        // For gemm_conv.wgsl only (other products leave these unset): the image B is gathered from,
        // the grid of B's columns per sample, and where they read and write (see there).
        img_c: u32, img_h: u32, img_w: u32, q_w: u32, q_pixels: u32,
        step: u32, off_y: u32, off_x: u32, dir: u32,
        out_w: u32, out_step: u32, out_y0: u32, out_x0: u32,
    }
}

/// The parameter block of gemm_tiles.wgsl (the image fields unset) and the store's constants.
fn params(s: &Gemm, has_bias: bool) -> (GemmParams, [(&'static str, u32); 3]) {
    let bias_code = match (has_bias, s.bias_axis) {
        (false, _) => 0,
        (true, BiasAxis::N) => 1,
        (true, BiasAxis::M) => 2,
    };
    let (epilogue, slope) = epilogue_code(s.epilogue);
    let params = GemmParams {
        m: u(s.m),
        n: u(s.n),
        k: u(s.k),
        k_outer: u(s.k_outer),
        batch: u(s.batch),
        a_m: u(s.a.s0),
        a_k: u(s.a.s1),
        a_ko: u(s.a.outer),
        a_b: u(s.a.batch),
        a0: u(s.a.offset),
        b_k: u(s.b.s0),
        b_n: u(s.b.s1),
        b_ko: u(s.b.outer),
        b_b: u(s.b.batch),
        b0: u(s.b.offset),
        c_m: u(s.c.s0),
        c_n: u(s.c.s1),
        c_b: u(s.c.batch),
        c0: u(s.c.offset),
        slope,
        ..GemmParams::default()
    };
    (params, [("EPILOGUE", epilogue), ("BIAS", bias_code), ("ACCUMULATE", s.accumulate as u32)])
}

/// The subgroup kernel's entry point for `s` and its workgroup count: the tallest tile that the
/// rows fill (taller ones load less per multiply-add), one subgroup of 8 lanes per block of rows ×
/// 32 columns, in workgroups of `SUBGROUP_WG` invocations.
fn subgroup_tiles(g: &GpuBackend, s: &Gemm) -> (&'static str, usize) {
    let rows = g.plan.gemm_rows.unwrap_or(s.m.next_power_of_two().clamp(16, 64));
    let entry = match rows {
        16 => "tile16x4",
        32 => "tile32x4",
        _ => "tile64x4",
    };
    let lanes = 8 * s.batch * s.m.div_ceil(rows) * s.n.div_ceil(4).div_ceil(8);
    (entry, lanes.div_ceil(SUBGROUP_WG))
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::activation::reference::activation_forward;
    use crate::ops::gemm::{BiasAxis, Gemm};

    /// C[b, m, n] (+)= Σ_{ko, k} A[b, m, ko, k] · B[b, ko, k, n] (+ bias), through the strides in `s`.
    pub fn gemm(s: &Gemm, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
        let (sa, sb, sc) = (s.a, s.b, s.c);
        for bi in 0..s.batch {
            for i in 0..s.m {
                for j in 0..s.n {
                    let mut acc = 0.0f32;
                    for ko in 0..s.k_outer {
                        let a0 = sa.offset + bi * sa.batch + ko * sa.outer + i * sa.s0;
                        let b0 = sb.offset + bi * sb.batch + ko * sb.outer + j * sb.s1;
                        for k in 0..s.k {
                            acc += a[a0 + k * sa.s1] * b[b0 + k * sb.s0];
                        }
                    }
                    if let Some(bias) = bias {
                        acc += bias[if s.bias_axis == BiasAxis::M { i } else { j }];
                    }
                    let at = sc.offset + bi * sc.batch + i * sc.s0 + j * sc.s1;
                    c[at] = if s.accumulate { c[at] + acc } else { acc };
                    if let Some(f) = s.epilogue {
                        let v = [c[at]];
                        activation_forward(f, &v, &mut c[at..at + 1]);
                    }
                }
            }
        }
    }
}
