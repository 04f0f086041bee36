// gemm: C[b, m, n] (+)= Σ_{ko, k} A[b, m, ko, k] · B[b, ko, k, n] (+ bias), every operand addressed
// through its own strides and base offset. The strides let one kernel serve linear's forward
// (x · wᵀ), input gradient (dy · w) and weight gradient (dyᵀ · x) without transposing anything in
// memory; the batch index runs convolutions sample by sample over im2col columns; the two-level
// reduction (ko outer, k inner) sums a convolution's weight gradient over samples × pixels.
// The parameters, bias, C and the vec4 views are in gemm_tiles.wgsl (included before this file).
// tile4x4: each invocation owns a 4×4 tile of C held in registers: per step of k it loads 4 values of A and
// 4 of B for 16 multiply-adds. On lavapipe (8 invocations per SIMD, every load per lane, no real
// shared memory) cutting loads per FMA is what pays; see BENCHMARKS.md.

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

@compute @workgroup_size(256)
fn tile4x4(inv: Invocation) {
    let t = flat_id(inv);
    let tiles_n = (p.n + 3u) / 4u;
    let tiles_m = (p.m + 3u) / 4u;
    let per_batch = tiles_m * tiles_n;
    if (t >= per_batch * p.batch) { return; }
    let bi = t / per_batch;
    let r = t % per_batch;
    let m0 = (r / tiles_n) * 4u;
    let n0 = (r % tiles_n) * 4u;
    // Rows and columns past the edge read row/column 0 (always valid) and are never stored.
    var am = vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u);
    var bn = vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u);
    am = select(vec4<u32>(0u), am, am < vec4<u32>(p.m)) * p.a_m + vec4<u32>(p.a0 + bi * p.a_b);
    bn = select(vec4<u32>(0u), bn, bn < vec4<u32>(p.n)) * p.b_n + vec4<u32>(p.b0 + bi * p.b_b);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        var ak = ko * p.a_ko;
        var bk = ko * p.b_ko;
        for (var kk = 0u; kk < p.k; kk++) {
            let bv = vec4<f32>(b[bk + bn.x], b[bk + bn.y], b[bk + bn.z], b[bk + bn.w]);
            acc0 += a[am.x + ak] * bv;
            acc1 += a[am.y + ak] * bv;
            acc2 += a[am.z + ak] * bv;
            acc3 += a[am.w + ak] * bv;
            ak += p.a_k;
            bk += p.b_k;
        }
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let cbase = p.c0 + bi * p.c_b;
    for (var i = 0u; i < 4u; i++) {
        let mi = m0 + i;
        if (mi >= p.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let nj = n0 + j;
            if (nj >= p.n) { break; }
            let at = cbase + mi * p.c_m + nj * p.c_n;
            var v = rows[i][j];
            if (BIAS == 1u) { v += bias[nj]; }
            if (BIAS == 2u) { v += bias[mi]; }
            if (ACCUMULATE != 0u) { v += c[at]; }
            c[at] = epilogue(EPILOGUE, p.slope, v);
        }
    }
}

// The same product for operands that can be read as vec4 (k a multiple of 4, the contiguous axis
// of each operand aligned to 4 and padded to a multiple of 4): each invocation owns an 8×8 tile
// and takes k four steps at a time, so 16 vec4 loads feed 256 multiply-adds where tile4x4 needs
// 64 scalar loads. On lavapipe a load costs about the same whatever its width, and loads, not
// arithmetic, bound these kernels (see BENCHMARKS.md). Which axis is contiguous is a uniform
// branch; in registers the two layouts are the same numbers, so the arithmetic is shared.

// Eight rows of 4 consecutive k (A) or four rows of 4 consecutive n (B), as plain values: no
// arrays, so nothing is left in per-invocation memory, which lavapipe also reaches lane by lane.
struct Rows8 { r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
               r4: vec4<f32>, r5: vec4<f32>, r6: vec4<f32>, r7: vec4<f32> }
// Element offsets: the 8 A rows when A runs along k (lo, hi: rows 0-3 and 4-7); the first row of
// each 4-row group when A runs along m (lo.x, hi.x).
struct ARows { lo: vec4<u32>, hi: vec4<u32> }

// A[m0 + i, k .. k+4] for i < 8.
fn a_rows(o: ARows, k: u32) -> Rows8 {
    if (A_VEC == 0u) {
        return Rows8(a4[(o.lo.x + k) / 4u], a4[(o.lo.y + k) / 4u], a4[(o.lo.z + k) / 4u],
                     a4[(o.lo.w + k) / 4u], a4[(o.hi.x + k) / 4u], a4[(o.hi.y + k) / 4u],
                     a4[(o.hi.z + k) / 4u], a4[(o.hi.w + k) / 4u]);
    }
    let l0 = a4[(o.lo.x + k * p.a_k) / 4u];
    let l1 = a4[(o.lo.x + (k + 1u) * p.a_k) / 4u];
    let l2 = a4[(o.lo.x + (k + 2u) * p.a_k) / 4u];
    let l3 = a4[(o.lo.x + (k + 3u) * p.a_k) / 4u];
    let h0 = a4[(o.hi.x + k * p.a_k) / 4u];
    let h1 = a4[(o.hi.x + (k + 1u) * p.a_k) / 4u];
    let h2 = a4[(o.hi.x + (k + 2u) * p.a_k) / 4u];
    let h3 = a4[(o.hi.x + (k + 3u) * p.a_k) / 4u];
    return Rows8(vec4<f32>(l0.x, l1.x, l2.x, l3.x), vec4<f32>(l0.y, l1.y, l2.y, l3.y),
                 vec4<f32>(l0.z, l1.z, l2.z, l3.z), vec4<f32>(l0.w, l1.w, l2.w, l3.w),
                 vec4<f32>(h0.x, h1.x, h2.x, h3.x), vec4<f32>(h0.y, h1.y, h2.y, h3.y),
                 vec4<f32>(h0.z, h1.z, h2.z, h3.z), vec4<f32>(h0.w, h1.w, h2.w, h3.w));
}

@compute @workgroup_size(256)
fn tile8x8_vec4(inv: Invocation) {
    let t = flat_id(inv);
    let tiles_n = (p.n + 7u) / 8u;
    let tiles_m = (p.m + 7u) / 8u;
    let per_batch = tiles_m * tiles_n;
    if (t >= per_batch * p.batch) { return; }
    let bi = t / per_batch;
    let r = t % per_batch;
    let m0 = (r / tiles_n) * 8u;
    let n0 = (r % tiles_n) * 8u;
    let abase = p.a0 + bi * p.a_b;
    let bbase = p.b0 + bi * p.b_b;
    // Rows and columns past the edge repeat the last valid ones and are never stored.
    let last_m = vec4<u32>(p.m - 1u);
    var ao: ARows;
    if (A_VEC == 0u) {
        ao = ARows(min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), last_m) * p.a_m + abase,
                   min(vec4<u32>(m0) + vec4<u32>(4u, 5u, 6u, 7u), last_m) * p.a_m + abase);
    } else {
        ao = ARows(vec4<u32>(abase + m0 * p.a_m), vec4<u32>(abase + min(m0 + 4u, p.m - 4u) * p.a_m));
    }
    var bo: vec4<u32>;
    var bo2: vec4<u32>;
    if (B_VEC == 0u) {
        bo = vec4<u32>(bbase + n0 * p.b_n);
        bo2 = vec4<u32>(bbase + min(n0 + 4u, ((p.n + 3u) / 4u) * 4u - 4u) * p.b_n);
    } else {
        bo = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_n + bbase;
        bo2 = min(vec4<u32>(n0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(p.n - 1u)) * p.b_n + bbase;
    }
    var acc0 = vec4<f32>(0.0);
    var bcc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var bcc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var bcc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var bcc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var bcc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var bcc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var bcc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var bcc7 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        let ak = ARows(ao.lo + vec4<u32>(ko * p.a_ko), ao.hi + vec4<u32>(ko * p.a_ko));
        let bk = bo + vec4<u32>(ko * p.b_ko);
        let bk2 = bo2 + vec4<u32>(ko * p.b_ko);
        for (var k0 = 0u; k0 < p.k; k0 += 4u) {
            let a = a_rows(ak, k0);
            let b = b_rows(bk, k0);
            let b2 = b_rows(bk2, k0);
            acc0 += dot_rows(a.r0, b);
            bcc0 += dot_rows(a.r0, b2);
            acc1 += dot_rows(a.r1, b);
            bcc1 += dot_rows(a.r1, b2);
            acc2 += dot_rows(a.r2, b);
            bcc2 += dot_rows(a.r2, b2);
            acc3 += dot_rows(a.r3, b);
            bcc3 += dot_rows(a.r3, b2);
            acc4 += dot_rows(a.r4, b);
            bcc4 += dot_rows(a.r4, b2);
            acc5 += dot_rows(a.r5, b);
            bcc5 += dot_rows(a.r5, b2);
            acc6 += dot_rows(a.r6, b);
            bcc6 += dot_rows(a.r6, b2);
            acc7 += dot_rows(a.r7, b);
            bcc7 += dot_rows(a.r7, b2);
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    store_row(cbase, m0, n0, acc0);
    store_row(cbase, m0, n0 + 4u, bcc0);
    store_row(cbase, m0 + 1u, n0, acc1);
    store_row(cbase, m0 + 1u, n0 + 4u, bcc1);
    store_row(cbase, m0 + 2u, n0, acc2);
    store_row(cbase, m0 + 2u, n0 + 4u, bcc2);
    store_row(cbase, m0 + 3u, n0, acc3);
    store_row(cbase, m0 + 3u, n0 + 4u, bcc3);
    store_row(cbase, m0 + 4u, n0, acc4);
    store_row(cbase, m0 + 4u, n0 + 4u, bcc4);
    store_row(cbase, m0 + 5u, n0, acc5);
    store_row(cbase, m0 + 5u, n0 + 4u, bcc5);
    store_row(cbase, m0 + 6u, n0, acc6);
    store_row(cbase, m0 + 6u, n0 + 4u, bcc6);
    store_row(cbase, m0 + 7u, n0, acc7);
    store_row(cbase, m0 + 7u, n0 + 4u, bcc7);
}
