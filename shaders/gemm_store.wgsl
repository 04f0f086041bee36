// Included after gemm_tiles.wgsl: C as scalars, for any strides.

@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// C[mi, n0 .. n0+4] (+)= v (+ bias), the columns inside C.
fn store_row(cbase: u32, mi: u32, n0: u32, v: vec4<f32>) {
    if (mi >= p.m) { return; }
    for (var j = 0u; j < 4u; j++) {
        store_one(cbase, mi, n0 + j, v[j]);
    }
}

// C[mi, nj] (+)= x (+ bias), when inside C.
fn store_one(cbase: u32, mi: u32, nj: u32, v: f32) {
    if (mi >= p.m || nj >= p.n) { return; }
    let at = cbase + mi * p.c_m + nj * p.c_n;
    var x = v;
    if (BIAS == 1u) { x += bias[nj]; }
    if (BIAS == 2u) { x += bias[mi]; }
    if (ACCUMULATE != 0u) { x += c[at]; }
    c[at] = epilogue(EPILOGUE, p.slope, x);
}
