// Included after gemm_tiles.wgsl instead of gemm_store.wgsl where C's rows are contiguous,
// 4-aligned and a multiple of 4 long (gemm.rs checks): one vec4 store (and load, when
// accumulating) per row of a tile instead of 4 scalar ones, which on CPU adapters each run lane by
// lane.

@group(0) @binding(4) var<storage, read_write> c: array<vec4<f32>>;

// C[mi, n0 .. n0+4] (+)= v (+ bias); n0 is a multiple of 4 and so is n.
fn store_row(cbase: u32, mi: u32, n0: u32, v: vec4<f32>) {
    if (mi >= p.m || n0 >= p.n) { return; }
    var x = v;
    if (BIAS == 1u) { x += vec4<f32>(bias[n0], bias[n0 + 1u], bias[n0 + 2u], bias[n0 + 3u]); }
    if (BIAS == 2u) { x += vec4<f32>(bias[mi]); }
    let at = (cbase + mi * p.c_m + n0) / 4u;
    if (ACCUMULATE != 0u) { x += c[at]; }
    let s = p.slope;
    c[at] = vec4<f32>(epilogue(EPILOGUE, s, x.x), epilogue(EPILOGUE, s, x.y), epilogue(EPILOGUE, s, x.z),
                      epilogue(EPILOGUE, s, x.w));
}
