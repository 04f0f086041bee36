// gemm: C[m, n] (+)= alpha · Σ_k A[m, k] · B[k, n] (+ bias[n]), every operand addressed through
// its own strides, so one kernel serves linear's forward (x · wᵀ), input gradient (dy · w) and
// weight gradient (dyᵀ · x) without transposing anything in memory.
// Each invocation owns a 4×4 tile of C held in registers: per step of k it loads 4 values of A and
// 4 of B for 16 multiply-adds. On lavapipe (8 invocations per SIMD, every load per lane, no real
// shared memory) cutting loads per FMA is what pays; see DEVELOPERS.md.

struct Params {
    m: u32, n: u32, k: u32,
    a_m: u32, a_k: u32,
    b_k: u32, b_n: u32,
    c_m: u32, c_n: u32,
    accumulate: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(256)
fn tile4x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let t = flat_id(wg, nwg, lid);
    let tiles_n = (p.n + 3u) / 4u;
    let tiles_m = (p.m + 3u) / 4u;
    if (t >= tiles_m * tiles_n) { return; }
    let m0 = (t / tiles_n) * 4u;
    let n0 = (t % tiles_n) * 4u;
    // Rows and columns past the edge read row/column 0 (always valid) and are never stored.
    var am = vec4<u32>(m0, m0 + 1u, m0 + 2u, m0 + 3u);
    var bn = vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u);
    am = select(vec4<u32>(0u), am, am < vec4<u32>(p.m)) * p.a_m;
    bn = select(vec4<u32>(0u), bn, bn < vec4<u32>(p.n)) * p.b_n;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let ak = kk * p.a_k;
        let bk = kk * p.b_k;
        let bv = vec4<f32>(b[bk + bn.x], b[bk + bn.y], b[bk + bn.z], b[bk + bn.w]);
        acc0 += a[am.x + ak] * bv;
        acc1 += a[am.y + ak] * bv;
        acc2 += a[am.z + ak] * bv;
        acc3 += a[am.w + ak] * bv;
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
        let mi = m0 + i;
        if (mi >= p.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let nj = n0 + j;
            if (nj >= p.n) { break; }
            let at = mi * p.c_m + nj * p.c_n;
            var v = rows[i][j];
            if (p.has_bias != 0u) { v += bias[nj]; }
            if (p.accumulate != 0u) { v += c[at]; }
            c[at] = v;
        }
    }
}
