// gemm_subgroup: gemm.wgsl's product (same parameters, same bindings) for CPU adapters whose
// subgroups are 8 lanes wide, like lavapipe's. There a buffer load runs lane by lane and costs far
// more than arithmetic, while a subgroup broadcast is a register move. So the 8 lanes of a
// subgroup share 16 rows of C: each loads 2 of the 16 A rows and gets the others by broadcast,
// and loads only its own 4 columns of B: 6 vec4 loads per 256 multiply-adds where tile8x8_vec4
// needs 16. A may run along k or m (a_vec 0 or 1): in registers the two are the same numbers. (Naga takes
// subgroup builtins without WGSL's `enable subgroups;`, which it does not parse yet; the device
// must have the SUBGROUP feature.) Parameters, buffers and B's loads: gemm_tiles.wgsl.

@compute @workgroup_size(256)
fn tile16x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32,
            @builtin(subgroup_invocation_id) lane: u32) {
    let t = flat_id(wg, nwg, lid);
    let group = t / 8u;
    let tiles_n = (p.n + 3u) / 4u;
    let blocks_n = (tiles_n + 7u) / 8u;
    let blocks_m = (p.m + 15u) / 16u;
    let per_batch = blocks_m * blocks_n;
    // Whole subgroups leave together, so the broadcasts below always have all 8 lanes.
    if (group >= per_batch * p.batch) { return; }
    let bi = group / per_batch;
    let r = group % per_batch;
    let m0 = (r / blocks_n) * 16u;
    let n0 = ((r % blocks_n) * 8u + lane) * 4u;
    let abase = p.a0 + bi * p.a_b;
    let bbase = p.b0 + bi * p.b_b;
    // This lane's two loads of A per step of 4 k: rows lane and lane + 8 (A along k), or rows
    // 4g .. 4g+3 at k + kk and k + kk + 2 with g = lane % 4, kk = lane / 4 (A along m). Rows past
    // the edge repeat the last valid ones and are never stored.
    var aoff: vec2<u32>;
    var kstep: u32;
    if (p.a_vec == 0u) {
        aoff = vec2<u32>(min(m0 + lane, p.m - 1u), min(m0 + 8u + lane, p.m - 1u)) * p.a_m + vec2<u32>(abase);
        kstep = 1u;
    } else {
        let first = abase + min(m0 + 4u * (lane % 4u), p.m - 4u) * p.a_m + (lane / 4u) * p.a_k;
        aoff = vec2<u32>(first, first + 2u * p.a_k);
        kstep = p.a_k;
    }
    // Columns past the edge read the last valid group of 4 and are never stored.
    let nc = min(n0, tiles_n * 4u - 4u);
    var bo: vec4<u32>;
    if (p.b_vec == 0u) {
        bo = vec4<u32>(bbase + nc * p.b_n);
    } else {
        bo = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_n + bbase;
    }
    var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0); var c5 = vec4<f32>(0.0); var c6 = vec4<f32>(0.0); var c7 = vec4<f32>(0.0);
    var c8 = vec4<f32>(0.0); var c9 = vec4<f32>(0.0); var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
    var c12 = vec4<f32>(0.0); var c13 = vec4<f32>(0.0); var c14 = vec4<f32>(0.0); var c15 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        let ak = aoff + vec2<u32>(ko * p.a_ko);
        let bk = bo + vec4<u32>(ko * p.b_ko);
        for (var k0 = 0u; k0 < p.k; k0 += 4u) {
            let lo = a4[(ak.x + k0 * kstep) / 4u];
            let hi = a4[(ak.y + k0 * kstep) / 4u];
            let b = b_rows(bk, k0);
            // The 16 values every lane needs, then rows of A along k in either layout.
            let l0 = subgroupBroadcast(lo, 0u); let l1 = subgroupBroadcast(lo, 1u);
            let l2 = subgroupBroadcast(lo, 2u); let l3 = subgroupBroadcast(lo, 3u);
            let l4 = subgroupBroadcast(lo, 4u); let l5 = subgroupBroadcast(lo, 5u);
            let l6 = subgroupBroadcast(lo, 6u); let l7 = subgroupBroadcast(lo, 7u);
            let h0 = subgroupBroadcast(hi, 0u); let h1 = subgroupBroadcast(hi, 1u);
            let h2 = subgroupBroadcast(hi, 2u); let h3 = subgroupBroadcast(hi, 3u);
            let h4 = subgroupBroadcast(hi, 4u); let h5 = subgroupBroadcast(hi, 5u);
            let h6 = subgroupBroadcast(hi, 6u); let h7 = subgroupBroadcast(hi, 7u);
            if (p.a_vec == 0u) {
                c0 += dot_rows(l0, b); c1 += dot_rows(l1, b); c2 += dot_rows(l2, b); c3 += dot_rows(l3, b);
                c4 += dot_rows(l4, b); c5 += dot_rows(l5, b); c6 += dot_rows(l6, b); c7 += dot_rows(l7, b);
                c8 += dot_rows(h0, b); c9 += dot_rows(h1, b); c10 += dot_rows(h2, b); c11 += dot_rows(h3, b);
                c12 += dot_rows(h4, b); c13 += dot_rows(h5, b); c14 += dot_rows(h6, b); c15 += dot_rows(h7, b);
            } else {
                // Group g's rows at k + kk: l_g (kk 0), l_{g+4} (1), h_g (2), h_{g+4} (3).
                c0 += dot_rows(vec4<f32>(l0.x, l4.x, h0.x, h4.x), b);
                c1 += dot_rows(vec4<f32>(l0.y, l4.y, h0.y, h4.y), b);
                c2 += dot_rows(vec4<f32>(l0.z, l4.z, h0.z, h4.z), b);
                c3 += dot_rows(vec4<f32>(l0.w, l4.w, h0.w, h4.w), b);
                c4 += dot_rows(vec4<f32>(l1.x, l5.x, h1.x, h5.x), b);
                c5 += dot_rows(vec4<f32>(l1.y, l5.y, h1.y, h5.y), b);
                c6 += dot_rows(vec4<f32>(l1.z, l5.z, h1.z, h5.z), b);
                c7 += dot_rows(vec4<f32>(l1.w, l5.w, h1.w, h5.w), b);
                c8 += dot_rows(vec4<f32>(l2.x, l6.x, h2.x, h6.x), b);
                c9 += dot_rows(vec4<f32>(l2.y, l6.y, h2.y, h6.y), b);
                c10 += dot_rows(vec4<f32>(l2.z, l6.z, h2.z, h6.z), b);
                c11 += dot_rows(vec4<f32>(l2.w, l6.w, h2.w, h6.w), b);
                c12 += dot_rows(vec4<f32>(l3.x, l7.x, h3.x, h7.x), b);
                c13 += dot_rows(vec4<f32>(l3.y, l7.y, h3.y, h7.y), b);
                c14 += dot_rows(vec4<f32>(l3.z, l7.z, h3.z, h7.z), b);
                c15 += dot_rows(vec4<f32>(l3.w, l7.w, h3.w, h7.w), b);
            }
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    store_row(cbase, m0, n0, c0);
    store_row(cbase, m0 + 1u, n0, c1);
    store_row(cbase, m0 + 2u, n0, c2);
    store_row(cbase, m0 + 3u, n0, c3);
    store_row(cbase, m0 + 4u, n0, c4);
    store_row(cbase, m0 + 5u, n0, c5);
    store_row(cbase, m0 + 6u, n0, c6);
    store_row(cbase, m0 + 7u, n0, c7);
    store_row(cbase, m0 + 8u, n0, c8);
    store_row(cbase, m0 + 9u, n0, c9);
    store_row(cbase, m0 + 10u, n0, c10);
    store_row(cbase, m0 + 11u, n0, c11);
    store_row(cbase, m0 + 12u, n0, c12);
    store_row(cbase, m0 + 13u, n0, c13);
    store_row(cbase, m0 + 14u, n0, c14);
    store_row(cbase, m0 + 15u, n0, c15);
}
