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
    if (A_VEC == 0u) {
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
    if (B_VEC == 0u) {
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
            if (A_VEC == 0u) {
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

// tile32x4: tile16x4 with 32 rows of C per subgroup: each lane loads 4 vec4 of A (rows lane + 8j
// along k, or rows 4·lane .. 4·lane+3 at k + j along m) and 4 of B: 8 loads per 512
// multiply-adds instead of 6 per 256.
@compute @workgroup_size(256)
fn tile32x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32,
            @builtin(subgroup_invocation_id) lane: u32) {
    let t = flat_id(wg, nwg, lid);
    let group = t / 8u;
    let tiles_n = (p.n + 3u) / 4u;
    let blocks_n = (tiles_n + 7u) / 8u;
    let blocks_m = (p.m + 31u) / 32u;
    let per_batch = blocks_m * blocks_n;
    if (group >= per_batch * p.batch) { return; }
    let bi = group / per_batch;
    let r = group % per_batch;
    let m0 = (r / blocks_n) * 32u;
    let n0 = ((r % blocks_n) * 8u + lane) * 4u;
    let abase = p.a0 + bi * p.a_b;
    let bbase = p.b0 + bi * p.b_b;
    var aoff: vec4<u32>;
    var kstep: u32;
    if (A_VEC == 0u) {
        aoff = min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(p.m - 1u)) * p.a_m + vec4<u32>(abase);
        kstep = 1u;
    } else {
        let first = abase + min(m0 + 4u * lane, p.m - 4u) * p.a_m;
        aoff = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) * p.a_k;
        kstep = p.a_k;
    }
    let nc = min(n0, tiles_n * 4u - 4u);
    var bo: vec4<u32>;
    if (B_VEC == 0u) {
        bo = vec4<u32>(bbase + nc * p.b_n);
    } else {
        bo = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_n + bbase;
    }

    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0);
    var c5 = vec4<f32>(0.0);
    var c6 = vec4<f32>(0.0);
    var c7 = vec4<f32>(0.0);
    var c8 = vec4<f32>(0.0);
    var c9 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c12 = vec4<f32>(0.0);
    var c13 = vec4<f32>(0.0);
    var c14 = vec4<f32>(0.0);
    var c15 = vec4<f32>(0.0);
    var c16 = vec4<f32>(0.0);
    var c17 = vec4<f32>(0.0);
    var c18 = vec4<f32>(0.0);
    var c19 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c22 = vec4<f32>(0.0);
    var c23 = vec4<f32>(0.0);
    var c24 = vec4<f32>(0.0);
    var c25 = vec4<f32>(0.0);
    var c26 = vec4<f32>(0.0);
    var c27 = vec4<f32>(0.0);
    var c28 = vec4<f32>(0.0);
    var c29 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        let ak = aoff + vec4<u32>(ko * p.a_ko);
        let bk = bo + vec4<u32>(ko * p.b_ko);
        for (var k0 = 0u; k0 < p.k; k0 += 4u) {
            let q0 = a4[(ak.x + k0 * kstep) / 4u];
            let q1 = a4[(ak.y + k0 * kstep) / 4u];
            let q2 = a4[(ak.z + k0 * kstep) / 4u];
            let q3 = a4[(ak.w + k0 * kstep) / 4u];
            let b = b_rows(bk, k0);
            if (A_VEC == 0u) {
                c0 += dot_rows(subgroupBroadcast(q0, 0u), b);
                c1 += dot_rows(subgroupBroadcast(q0, 1u), b);
                c2 += dot_rows(subgroupBroadcast(q0, 2u), b);
                c3 += dot_rows(subgroupBroadcast(q0, 3u), b);
                c4 += dot_rows(subgroupBroadcast(q0, 4u), b);
                c5 += dot_rows(subgroupBroadcast(q0, 5u), b);
                c6 += dot_rows(subgroupBroadcast(q0, 6u), b);
                c7 += dot_rows(subgroupBroadcast(q0, 7u), b);
                c8 += dot_rows(subgroupBroadcast(q1, 0u), b);
                c9 += dot_rows(subgroupBroadcast(q1, 1u), b);
                c10 += dot_rows(subgroupBroadcast(q1, 2u), b);
                c11 += dot_rows(subgroupBroadcast(q1, 3u), b);
                c12 += dot_rows(subgroupBroadcast(q1, 4u), b);
                c13 += dot_rows(subgroupBroadcast(q1, 5u), b);
                c14 += dot_rows(subgroupBroadcast(q1, 6u), b);
                c15 += dot_rows(subgroupBroadcast(q1, 7u), b);
                c16 += dot_rows(subgroupBroadcast(q2, 0u), b);
                c17 += dot_rows(subgroupBroadcast(q2, 1u), b);
                c18 += dot_rows(subgroupBroadcast(q2, 2u), b);
                c19 += dot_rows(subgroupBroadcast(q2, 3u), b);
                c20 += dot_rows(subgroupBroadcast(q2, 4u), b);
                c21 += dot_rows(subgroupBroadcast(q2, 5u), b);
                c22 += dot_rows(subgroupBroadcast(q2, 6u), b);
                c23 += dot_rows(subgroupBroadcast(q2, 7u), b);
                c24 += dot_rows(subgroupBroadcast(q3, 0u), b);
                c25 += dot_rows(subgroupBroadcast(q3, 1u), b);
                c26 += dot_rows(subgroupBroadcast(q3, 2u), b);
                c27 += dot_rows(subgroupBroadcast(q3, 3u), b);
                c28 += dot_rows(subgroupBroadcast(q3, 4u), b);
                c29 += dot_rows(subgroupBroadcast(q3, 5u), b);
                c30 += dot_rows(subgroupBroadcast(q3, 6u), b);
                c31 += dot_rows(subgroupBroadcast(q3, 7u), b);
            } else {
                { let x0 = subgroupBroadcast(q0, 0u); let x1 = subgroupBroadcast(q1, 0u);
                  let x2 = subgroupBroadcast(q2, 0u); let x3 = subgroupBroadcast(q3, 0u);
                  c0 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c1 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c2 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c3 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 1u); let x1 = subgroupBroadcast(q1, 1u);
                  let x2 = subgroupBroadcast(q2, 1u); let x3 = subgroupBroadcast(q3, 1u);
                  c4 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c5 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c6 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c7 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 2u); let x1 = subgroupBroadcast(q1, 2u);
                  let x2 = subgroupBroadcast(q2, 2u); let x3 = subgroupBroadcast(q3, 2u);
                  c8 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c9 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c10 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c11 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 3u); let x1 = subgroupBroadcast(q1, 3u);
                  let x2 = subgroupBroadcast(q2, 3u); let x3 = subgroupBroadcast(q3, 3u);
                  c12 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c13 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c14 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c15 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 4u); let x1 = subgroupBroadcast(q1, 4u);
                  let x2 = subgroupBroadcast(q2, 4u); let x3 = subgroupBroadcast(q3, 4u);
                  c16 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c17 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c18 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c19 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 5u); let x1 = subgroupBroadcast(q1, 5u);
                  let x2 = subgroupBroadcast(q2, 5u); let x3 = subgroupBroadcast(q3, 5u);
                  c20 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c21 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c22 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c23 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 6u); let x1 = subgroupBroadcast(q1, 6u);
                  let x2 = subgroupBroadcast(q2, 6u); let x3 = subgroupBroadcast(q3, 6u);
                  c24 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c25 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c26 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c27 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 7u); let x1 = subgroupBroadcast(q1, 7u);
                  let x2 = subgroupBroadcast(q2, 7u); let x3 = subgroupBroadcast(q3, 7u);
                  c28 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c29 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c30 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c31 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
            }
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    store_row(cbase, m0 + 0u, n0, c0);
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
    store_row(cbase, m0 + 16u, n0, c16);
    store_row(cbase, m0 + 17u, n0, c17);
    store_row(cbase, m0 + 18u, n0, c18);
    store_row(cbase, m0 + 19u, n0, c19);
    store_row(cbase, m0 + 20u, n0, c20);
    store_row(cbase, m0 + 21u, n0, c21);
    store_row(cbase, m0 + 22u, n0, c22);
    store_row(cbase, m0 + 23u, n0, c23);
    store_row(cbase, m0 + 24u, n0, c24);
    store_row(cbase, m0 + 25u, n0, c25);
    store_row(cbase, m0 + 26u, n0, c26);
    store_row(cbase, m0 + 27u, n0, c27);
    store_row(cbase, m0 + 28u, n0, c28);
    store_row(cbase, m0 + 29u, n0, c29);
    store_row(cbase, m0 + 30u, n0, c30);
    store_row(cbase, m0 + 31u, n0, c31);
}


// tile64x4: experimental.
@compute @workgroup_size(256)
fn tile64x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32,
            @builtin(subgroup_invocation_id) lane: u32) {
    let t = flat_id(wg, nwg, lid);
    let group = t / 8u;
    let tiles_n = (p.n + 3u) / 4u;
    let blocks_n = (tiles_n + 7u) / 8u;
    let blocks_m = (p.m + 63u) / 64u;
    let per_batch = blocks_m * blocks_n;
    if (group >= per_batch * p.batch) { return; }
    let bi = group / per_batch;
    let r = group % per_batch;
    let m0 = (r / blocks_n) * 64u;
    let n0 = ((r % blocks_n) * 8u + lane) * 4u;
    let abase = p.a0 + bi * p.a_b;
    let bbase = p.b0 + bi * p.b_b;
    var a_lo: vec4<u32>;
    var a_hi: vec4<u32>;
    var kstep: u32;
    if (A_VEC == 0u) {
        a_lo = min(vec4<u32>(m0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(p.m - 1u)) * p.a_m + vec4<u32>(abase);
        a_hi = min(vec4<u32>(m0 + lane) + vec4<u32>(32u, 40u, 48u, 56u), vec4<u32>(p.m - 1u)) * p.a_m + vec4<u32>(abase);
        kstep = 1u;
    } else {
        let first = abase + min(m0 + 4u * lane, p.m - 4u) * p.a_m;
        let second = abase + min(m0 + 32u + 4u * lane, p.m - 4u) * p.a_m;
        a_lo = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) * p.a_k;
        a_hi = vec4<u32>(second) + vec4<u32>(0u, 1u, 2u, 3u) * p.a_k;
        kstep = p.a_k;
    }
    let nc = min(n0, tiles_n * 4u - 4u);
    var bo: vec4<u32>;
    if (B_VEC == 0u) {
        bo = vec4<u32>(bbase + nc * p.b_n);
    } else {
        bo = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_n + bbase;
    }

    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0);
    var c5 = vec4<f32>(0.0);
    var c6 = vec4<f32>(0.0);
    var c7 = vec4<f32>(0.0);
    var c8 = vec4<f32>(0.0);
    var c9 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c12 = vec4<f32>(0.0);
    var c13 = vec4<f32>(0.0);
    var c14 = vec4<f32>(0.0);
    var c15 = vec4<f32>(0.0);
    var c16 = vec4<f32>(0.0);
    var c17 = vec4<f32>(0.0);
    var c18 = vec4<f32>(0.0);
    var c19 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c22 = vec4<f32>(0.0);
    var c23 = vec4<f32>(0.0);
    var c24 = vec4<f32>(0.0);
    var c25 = vec4<f32>(0.0);
    var c26 = vec4<f32>(0.0);
    var c27 = vec4<f32>(0.0);
    var c28 = vec4<f32>(0.0);
    var c29 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    var c32 = vec4<f32>(0.0);
    var c33 = vec4<f32>(0.0);
    var c34 = vec4<f32>(0.0);
    var c35 = vec4<f32>(0.0);
    var c36 = vec4<f32>(0.0);
    var c37 = vec4<f32>(0.0);
    var c38 = vec4<f32>(0.0);
    var c39 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0);
    var c41 = vec4<f32>(0.0);
    var c42 = vec4<f32>(0.0);
    var c43 = vec4<f32>(0.0);
    var c44 = vec4<f32>(0.0);
    var c45 = vec4<f32>(0.0);
    var c46 = vec4<f32>(0.0);
    var c47 = vec4<f32>(0.0);
    var c48 = vec4<f32>(0.0);
    var c49 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0);
    var c51 = vec4<f32>(0.0);
    var c52 = vec4<f32>(0.0);
    var c53 = vec4<f32>(0.0);
    var c54 = vec4<f32>(0.0);
    var c55 = vec4<f32>(0.0);
    var c56 = vec4<f32>(0.0);
    var c57 = vec4<f32>(0.0);
    var c58 = vec4<f32>(0.0);
    var c59 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0);
    var c61 = vec4<f32>(0.0);
    var c62 = vec4<f32>(0.0);
    var c63 = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        let al = a_lo + vec4<u32>(ko * p.a_ko);
        let ah = a_hi + vec4<u32>(ko * p.a_ko);
        let bk = bo + vec4<u32>(ko * p.b_ko);
        for (var k0 = 0u; k0 < p.k; k0 += 4u) {
            let q0 = a4[(al.x + k0 * kstep) / 4u];
            let q1 = a4[(al.y + k0 * kstep) / 4u];
            let q2 = a4[(al.z + k0 * kstep) / 4u];
            let q3 = a4[(al.w + k0 * kstep) / 4u];
            let q4 = a4[(ah.x + k0 * kstep) / 4u];
            let q5 = a4[(ah.y + k0 * kstep) / 4u];
            let q6 = a4[(ah.z + k0 * kstep) / 4u];
            let q7 = a4[(ah.w + k0 * kstep) / 4u];
            let b = b_rows(bk, k0);
            if (A_VEC == 0u) {
                c0 += dot_rows(subgroupBroadcast(q0, 0u), b);
                c1 += dot_rows(subgroupBroadcast(q0, 1u), b);
                c2 += dot_rows(subgroupBroadcast(q0, 2u), b);
                c3 += dot_rows(subgroupBroadcast(q0, 3u), b);
                c4 += dot_rows(subgroupBroadcast(q0, 4u), b);
                c5 += dot_rows(subgroupBroadcast(q0, 5u), b);
                c6 += dot_rows(subgroupBroadcast(q0, 6u), b);
                c7 += dot_rows(subgroupBroadcast(q0, 7u), b);
                c8 += dot_rows(subgroupBroadcast(q1, 0u), b);
                c9 += dot_rows(subgroupBroadcast(q1, 1u), b);
                c10 += dot_rows(subgroupBroadcast(q1, 2u), b);
                c11 += dot_rows(subgroupBroadcast(q1, 3u), b);
                c12 += dot_rows(subgroupBroadcast(q1, 4u), b);
                c13 += dot_rows(subgroupBroadcast(q1, 5u), b);
                c14 += dot_rows(subgroupBroadcast(q1, 6u), b);
                c15 += dot_rows(subgroupBroadcast(q1, 7u), b);
                c16 += dot_rows(subgroupBroadcast(q2, 0u), b);
                c17 += dot_rows(subgroupBroadcast(q2, 1u), b);
                c18 += dot_rows(subgroupBroadcast(q2, 2u), b);
                c19 += dot_rows(subgroupBroadcast(q2, 3u), b);
                c20 += dot_rows(subgroupBroadcast(q2, 4u), b);
                c21 += dot_rows(subgroupBroadcast(q2, 5u), b);
                c22 += dot_rows(subgroupBroadcast(q2, 6u), b);
                c23 += dot_rows(subgroupBroadcast(q2, 7u), b);
                c24 += dot_rows(subgroupBroadcast(q3, 0u), b);
                c25 += dot_rows(subgroupBroadcast(q3, 1u), b);
                c26 += dot_rows(subgroupBroadcast(q3, 2u), b);
                c27 += dot_rows(subgroupBroadcast(q3, 3u), b);
                c28 += dot_rows(subgroupBroadcast(q3, 4u), b);
                c29 += dot_rows(subgroupBroadcast(q3, 5u), b);
                c30 += dot_rows(subgroupBroadcast(q3, 6u), b);
                c31 += dot_rows(subgroupBroadcast(q3, 7u), b);
                c32 += dot_rows(subgroupBroadcast(q4, 0u), b);
                c33 += dot_rows(subgroupBroadcast(q4, 1u), b);
                c34 += dot_rows(subgroupBroadcast(q4, 2u), b);
                c35 += dot_rows(subgroupBroadcast(q4, 3u), b);
                c36 += dot_rows(subgroupBroadcast(q4, 4u), b);
                c37 += dot_rows(subgroupBroadcast(q4, 5u), b);
                c38 += dot_rows(subgroupBroadcast(q4, 6u), b);
                c39 += dot_rows(subgroupBroadcast(q4, 7u), b);
                c40 += dot_rows(subgroupBroadcast(q5, 0u), b);
                c41 += dot_rows(subgroupBroadcast(q5, 1u), b);
                c42 += dot_rows(subgroupBroadcast(q5, 2u), b);
                c43 += dot_rows(subgroupBroadcast(q5, 3u), b);
                c44 += dot_rows(subgroupBroadcast(q5, 4u), b);
                c45 += dot_rows(subgroupBroadcast(q5, 5u), b);
                c46 += dot_rows(subgroupBroadcast(q5, 6u), b);
                c47 += dot_rows(subgroupBroadcast(q5, 7u), b);
                c48 += dot_rows(subgroupBroadcast(q6, 0u), b);
                c49 += dot_rows(subgroupBroadcast(q6, 1u), b);
                c50 += dot_rows(subgroupBroadcast(q6, 2u), b);
                c51 += dot_rows(subgroupBroadcast(q6, 3u), b);
                c52 += dot_rows(subgroupBroadcast(q6, 4u), b);
                c53 += dot_rows(subgroupBroadcast(q6, 5u), b);
                c54 += dot_rows(subgroupBroadcast(q6, 6u), b);
                c55 += dot_rows(subgroupBroadcast(q6, 7u), b);
                c56 += dot_rows(subgroupBroadcast(q7, 0u), b);
                c57 += dot_rows(subgroupBroadcast(q7, 1u), b);
                c58 += dot_rows(subgroupBroadcast(q7, 2u), b);
                c59 += dot_rows(subgroupBroadcast(q7, 3u), b);
                c60 += dot_rows(subgroupBroadcast(q7, 4u), b);
                c61 += dot_rows(subgroupBroadcast(q7, 5u), b);
                c62 += dot_rows(subgroupBroadcast(q7, 6u), b);
                c63 += dot_rows(subgroupBroadcast(q7, 7u), b);
            } else {
                { let x0 = subgroupBroadcast(q0, 0u); let x1 = subgroupBroadcast(q1, 0u);
                  let x2 = subgroupBroadcast(q2, 0u); let x3 = subgroupBroadcast(q3, 0u);
                  c0 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c1 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c2 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c3 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 1u); let x1 = subgroupBroadcast(q1, 1u);
                  let x2 = subgroupBroadcast(q2, 1u); let x3 = subgroupBroadcast(q3, 1u);
                  c4 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c5 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c6 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c7 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 2u); let x1 = subgroupBroadcast(q1, 2u);
                  let x2 = subgroupBroadcast(q2, 2u); let x3 = subgroupBroadcast(q3, 2u);
                  c8 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c9 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c10 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c11 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 3u); let x1 = subgroupBroadcast(q1, 3u);
                  let x2 = subgroupBroadcast(q2, 3u); let x3 = subgroupBroadcast(q3, 3u);
                  c12 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c13 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c14 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c15 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 4u); let x1 = subgroupBroadcast(q1, 4u);
                  let x2 = subgroupBroadcast(q2, 4u); let x3 = subgroupBroadcast(q3, 4u);
                  c16 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c17 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c18 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c19 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 5u); let x1 = subgroupBroadcast(q1, 5u);
                  let x2 = subgroupBroadcast(q2, 5u); let x3 = subgroupBroadcast(q3, 5u);
                  c20 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c21 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c22 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c23 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 6u); let x1 = subgroupBroadcast(q1, 6u);
                  let x2 = subgroupBroadcast(q2, 6u); let x3 = subgroupBroadcast(q3, 6u);
                  c24 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c25 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c26 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c27 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q0, 7u); let x1 = subgroupBroadcast(q1, 7u);
                  let x2 = subgroupBroadcast(q2, 7u); let x3 = subgroupBroadcast(q3, 7u);
                  c28 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c29 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c30 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c31 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 0u); let x1 = subgroupBroadcast(q5, 0u);
                  let x2 = subgroupBroadcast(q6, 0u); let x3 = subgroupBroadcast(q7, 0u);
                  c32 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c33 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c34 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c35 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 1u); let x1 = subgroupBroadcast(q5, 1u);
                  let x2 = subgroupBroadcast(q6, 1u); let x3 = subgroupBroadcast(q7, 1u);
                  c36 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c37 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c38 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c39 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 2u); let x1 = subgroupBroadcast(q5, 2u);
                  let x2 = subgroupBroadcast(q6, 2u); let x3 = subgroupBroadcast(q7, 2u);
                  c40 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c41 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c42 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c43 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 3u); let x1 = subgroupBroadcast(q5, 3u);
                  let x2 = subgroupBroadcast(q6, 3u); let x3 = subgroupBroadcast(q7, 3u);
                  c44 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c45 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c46 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c47 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 4u); let x1 = subgroupBroadcast(q5, 4u);
                  let x2 = subgroupBroadcast(q6, 4u); let x3 = subgroupBroadcast(q7, 4u);
                  c48 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c49 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c50 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c51 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 5u); let x1 = subgroupBroadcast(q5, 5u);
                  let x2 = subgroupBroadcast(q6, 5u); let x3 = subgroupBroadcast(q7, 5u);
                  c52 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c53 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c54 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c55 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 6u); let x1 = subgroupBroadcast(q5, 6u);
                  let x2 = subgroupBroadcast(q6, 6u); let x3 = subgroupBroadcast(q7, 6u);
                  c56 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c57 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c58 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c59 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
                { let x0 = subgroupBroadcast(q4, 7u); let x1 = subgroupBroadcast(q5, 7u);
                  let x2 = subgroupBroadcast(q6, 7u); let x3 = subgroupBroadcast(q7, 7u);
                  c60 += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b);
                  c61 += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b);
                  c62 += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b);
                  c63 += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b);
                }
            }
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    store_row(cbase, m0 + 0u, n0, c0);
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
    store_row(cbase, m0 + 16u, n0, c16);
    store_row(cbase, m0 + 17u, n0, c17);
    store_row(cbase, m0 + 18u, n0, c18);
    store_row(cbase, m0 + 19u, n0, c19);
    store_row(cbase, m0 + 20u, n0, c20);
    store_row(cbase, m0 + 21u, n0, c21);
    store_row(cbase, m0 + 22u, n0, c22);
    store_row(cbase, m0 + 23u, n0, c23);
    store_row(cbase, m0 + 24u, n0, c24);
    store_row(cbase, m0 + 25u, n0, c25);
    store_row(cbase, m0 + 26u, n0, c26);
    store_row(cbase, m0 + 27u, n0, c27);
    store_row(cbase, m0 + 28u, n0, c28);
    store_row(cbase, m0 + 29u, n0, c29);
    store_row(cbase, m0 + 30u, n0, c30);
    store_row(cbase, m0 + 31u, n0, c31);
    store_row(cbase, m0 + 32u, n0, c32);
    store_row(cbase, m0 + 33u, n0, c33);
    store_row(cbase, m0 + 34u, n0, c34);
    store_row(cbase, m0 + 35u, n0, c35);
    store_row(cbase, m0 + 36u, n0, c36);
    store_row(cbase, m0 + 37u, n0, c37);
    store_row(cbase, m0 + 38u, n0, c38);
    store_row(cbase, m0 + 39u, n0, c39);
    store_row(cbase, m0 + 40u, n0, c40);
    store_row(cbase, m0 + 41u, n0, c41);
    store_row(cbase, m0 + 42u, n0, c42);
    store_row(cbase, m0 + 43u, n0, c43);
    store_row(cbase, m0 + 44u, n0, c44);
    store_row(cbase, m0 + 45u, n0, c45);
    store_row(cbase, m0 + 46u, n0, c46);
    store_row(cbase, m0 + 47u, n0, c47);
    store_row(cbase, m0 + 48u, n0, c48);
    store_row(cbase, m0 + 49u, n0, c49);
    store_row(cbase, m0 + 50u, n0, c50);
    store_row(cbase, m0 + 51u, n0, c51);
    store_row(cbase, m0 + 52u, n0, c52);
    store_row(cbase, m0 + 53u, n0, c53);
    store_row(cbase, m0 + 54u, n0, c54);
    store_row(cbase, m0 + 55u, n0, c55);
    store_row(cbase, m0 + 56u, n0, c56);
    store_row(cbase, m0 + 57u, n0, c57);
    store_row(cbase, m0 + 58u, n0, c58);
    store_row(cbase, m0 + 59u, n0, c59);
    store_row(cbase, m0 + 60u, n0, c60);
    store_row(cbase, m0 + 61u, n0, c61);
    store_row(cbase, m0 + 62u, n0, c62);
    store_row(cbase, m0 + 63u, n0, c63);
}
