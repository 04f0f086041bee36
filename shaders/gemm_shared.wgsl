// gemm_shared: gemm.wgsl's product (same parameters, same bindings) for GPUs, where workgroup
// memory is fast and shared by the workgroup's 256 invocations. Each workgroup owns a 64×64 tile
// of C; every step of 16 along k, the invocations stage A's 64×16 and B's 16×64 sub-tiles in
// workgroup memory (4 elements each, any strides, zeros past the edges), then each computes 4×4
// outputs from it: rows ty + 16i and columns tx + 16j, so that neighbouring invocations read
// neighbouring words of B's tile and the same word of A's. Parameters and C: gemm_tiles.wgsl.
// A product of few tiles over a long reduction is split along it (split-K, `sum_splits`).

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

const TILE: u32 = 64u;
const STEP: u32 = 16u;

// [STEP][TILE]: sa[kk * TILE + mm] = A[m0 + mm, k0 + kk], sb[kk * TILE + nn] = B[k0 + kk, n0 + nn].
var<workgroup> sa: array<f32, 1024>;
var<workgroup> sb: array<f32, 1024>;

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
    var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        for (var k0 = 0u; k0 < p.k; k0 += STEP) {
            for (var q = 0u; q < 4u; q++) {
                let e = lid + 256u * q;
                // A's element e: k fastest; B's: n fastest (their contiguous axes in most layouts).
                let am = m0 + e / STEP;
                let ak = k0 + e % STEP;
                var av = 0.0;
                if (am < p.m && ak < p.k) { av = a[abase + ko * p.a_ko + am * p.a_m + ak * p.a_k]; }
                sa[(e % STEP) * TILE + e / STEP] = av;
                let bk = k0 + e / TILE;
                let bn = n0 + e % TILE;
                var bv = 0.0;
                if (bk < p.k && bn < p.n) { bv = b[bbase + ko * p.b_ko + bk * p.b_k + bn * p.b_n]; }
                sb[e] = bv;
            }
            workgroupBarrier();
            for (var kk = 0u; kk < STEP; kk++) {
                let row = kk * TILE;
                let bv = vec4<f32>(sb[row + tx], sb[row + tx + 16u], sb[row + tx + 32u], sb[row + tx + 48u]);
                c0 += sa[row + ty] * bv;
                c1 += sa[row + ty + 16u] * bv;
                c2 += sa[row + ty + 32u] * bv;
                c3 += sa[row + ty + 48u] * bv;
            }
            workgroupBarrier();
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    store_strided(cbase, m0 + ty, n0 + tx, c0);
    store_strided(cbase, m0 + ty + 16u, n0 + tx, c1);
    store_strided(cbase, m0 + ty + 32u, n0 + tx, c2);
    store_strided(cbase, m0 + ty + 48u, n0 + tx, c3);
}

// C[mi, n + 16j] for j < 4.
fn store_strided(cbase: u32, mi: u32, n: u32, v: vec4<f32>) {
    store_one(cbase, mi, n, v.x);
    store_one(cbase, mi, n + 16u, v.y);
    store_one(cbase, mi, n + 32u, v.z);
    store_one(cbase, mi, n + 48u, v.w);
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
