// gemm_shared: gemm.wgsl's product (same parameters, same bindings) for GPUs, where workgroup
// memory is fast and shared by the workgroup's 256 invocations. Each workgroup owns a 64×64 tile
// of C; every step of 16 along k, the invocations stage A's 64×16 and B's 16×64 sub-tiles in
// workgroup memory as vec4s (4 elements each, any strides, zeros past the edges), then each
// computes the 4×4 outputs of rows 4·ty.. and columns 4·tx.. from one vec4 of each tile per k:
// two workgroup loads per 16 multiply-adds. Parameters and C: gemm_tiles.wgsl.
// A product of few tiles over a long reduction is split along it (split-K, `sum_splits`).

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

const TILE: u32 = 64u;
const STEP: u32 = 16u;
// The staged tiles' row pitch in vec4s: 17 rather than 16, so that invocations staging
// consecutive k (16 vec4s apart otherwise) write to different banks.
const PITCH: u32 = 17u;

// sa[kk * PITCH + i] = A[m0 + 4i .. 4i + 3, k0 + kk], sb[kk * PITCH + j] = B[k0 + kk, n0 + 4j .. 4j + 3].
var<workgroup> sa: array<vec4<f32>, 272>;
var<workgroup> sb: array<vec4<f32>, 272>;

fn a_at(base: u32, mi: u32, ki: u32) -> f32 {
    if (mi < p.m && ki < p.k) { return a[base + mi * p.a_m + ki * p.a_k]; }
    return 0.0;
}

fn b_at(base: u32, ki: u32, nj: u32) -> f32 {
    if (ki < p.k && nj < p.n) { return b[base + ki * p.b_k + nj * p.b_n]; }
    return 0.0;
}

@compute @workgroup_size(256)
fn tile64(inv: Invocation) {
    let lid = inv.lid;
    let group = group_id(inv);
    let tiles_n = (p.n + TILE - 1u) / TILE;
    let per_batch = ((p.m + TILE - 1u) / TILE) * tiles_n;
    // The whole workgroup leaves together (group is uniform), so the barriers below are safe.
    if (group >= per_batch * p.batch) { return; }
    let bi = group / per_batch;
    let r = group % per_batch;
    let m0 = (r / tiles_n) * TILE;
    let n0 = (r % tiles_n) * TILE;
    let abase = p.a0 + bi * p.a_b;
    let bbase = p.b0 + bi * p.b_b;
    let tx = lid % 16u;
    let ty = lid / 16u;
    // The (k, quad) each invocation stages, neighbouring invocations along the operand's
    // contiguous axis (A_VEC, B_VEC: gemm.rs) so that a warp's loads coalesce.
    var a_kk = lid % 16u;
    var a_i = lid / 16u;
    if (A_VEC == 1u) { a_kk = lid / 16u; a_i = lid % 16u; }
    var b_kk = lid / 16u;
    var b_j = lid % 16u;
    if (B_VEC == 1u) { b_kk = lid % 16u; b_j = lid / 16u; }
    var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        let ab = abase + ko * p.a_ko;
        let bb = bbase + ko * p.b_ko;
        for (var k0 = 0u; k0 < p.k; k0 += STEP) {
            let am = m0 + 4u * a_i;
            let ak = k0 + a_kk;
            sa[a_kk * PITCH + a_i] = vec4<f32>(a_at(ab, am, ak), a_at(ab, am + 1u, ak), a_at(ab, am + 2u, ak), a_at(ab, am + 3u, ak));
            let bk = k0 + b_kk;
            let bn = n0 + 4u * b_j;
            sb[b_kk * PITCH + b_j] = vec4<f32>(b_at(bb, bk, bn), b_at(bb, bk, bn + 1u), b_at(bb, bk, bn + 2u), b_at(bb, bk, bn + 3u));
            workgroupBarrier();
            for (var kk = 0u; kk < STEP; kk++) {
                let av = sa[kk * PITCH + ty];
                let bv = sb[kk * PITCH + tx];
                c0 += av.x * bv;
                c1 += av.y * bv;
                c2 += av.z * bv;
                c3 += av.w * bv;
            }
            workgroupBarrier();
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    let mi = m0 + 4u * ty;
    let nj = n0 + 4u * tx;
    store_row(cbase, mi, nj, c0);
    store_row(cbase, mi + 1u, nj, c1);
    store_row(cbase, mi + 2u, nj, c2);
    store_row(cbase, mi + 3u, nj, c3);
}

// Split-K's second half (gemm.rs, record_shared): C[i, j] (+)= Σ_s a[s, i, j] (+ bias), the
// partial products of the reduction's p.k chunks summed in chunk order, one invocation each.
@compute @workgroup_size(256)
fn sum_splits(inv: Invocation) {
    let e = flat_id(inv);
    let size = p.m * p.n;
    if (e >= size) { return; }
    var sum = 0.0;
    for (var s = 0u; s < p.k; s++) {
        sum += a[s * size + e];
    }
    store_one(p.c0, e / p.n, e % p.n, sum);
}
