// gemm_subgroup: gemm.wgsl's product (same parameters, same bindings) for CPU adapters whose
// subgroups are 8 lanes wide, like lavapipe's. There a buffer load runs lane by lane and costs far
// more than arithmetic, while a subgroup broadcast is a register move. So the 8 lanes of a
// subgroup share ROWS rows of C (16, 32 or 64: entry points tile16x4, tile32x4, tile64x4): each
// lane loads ROWS/8 vec4 of A and gets the rest by broadcast, and loads only its own 4 columns of
// B. The 16-row tile makes 6 vec4 loads per 256 multiply-adds where tile8x8_vec4 needs 16; the
// 64-row one 12 per 1024. A may run along k or m (A_VEC 0 or 1): in registers the two are the same
// numbers. (Naga takes subgroup builtins without WGSL's `enable subgroups;`, which it does not
// parse yet; the device must have the SUBGROUP feature.) Parameters, buffers and B's loads:
// gemm_tiles.wgsl.
//
// This file is a template: `gpu::shaders::expand_tiles` writes the entry point below once per
// tile height, replacing {rows} and repeating each `//% each load|row|group:` line for every load
// slot {j} of a lane, every row {r} of C (held by lane {l} of load {q} when A runs along k), or
// every group {g} of 4 rows {r0}..{r3} (whose values at k + kk are in load {qkk} of lane {lkk}
// when A runs along m). `//% dense:` lines read B from b4 (gemm_subgroup, gemm_subgroup_c4);
// `//% conv:` and `//% conv_weight:` lines instead gather it from an image (gemm_subgroup_conv:
// gemm_conv.wgsl; gemm_subgroup_conv_weight: gemm_conv_weight.wgsl). WGSL has no generics, and
// lavapipe keeps arrays in memory reached lane by lane, so the accumulators are separate
// variables c0, c1, ...
//
// A's loads: slot s = 8·j + lane is this lane's j-th load. A along k: slot s holds row m0 + s at
// k .. k+3. A along m: slot s holds rows 4g .. 4g+3 at k + kk, with g = s % (ROWS/4) and
// kk = s / (ROWS/4). Rows past the edge repeat the last valid ones and are never stored.

// Workgroups of 8 subgroups, not common.wgsl's 256 invocations: lavapipe gives each workgroup to
// one thread, and a product of a few hundred subgroups then splits unevenly between the cores
// (64 invocations made the DCGAN iteration 7-10% faster on 2 cores, 32 no more).
@compute @workgroup_size(64)
fn tile{rows}x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32,
                @builtin(subgroup_invocation_id) lane: u32) {
    let t = (wg.y * nwg.x + wg.x) * 64u + lid;
    let group = t / 8u;
    let tiles_n = (p.n + 3u) / 4u;
    let blocks_n = (tiles_n + 7u) / 8u;
    let blocks_m = (p.m + {rows}u - 1u) / {rows}u;
    let per_batch = blocks_m * blocks_n;
    // Whole subgroups leave together, so the broadcasts below always have all 8 lanes.
    if (group >= per_batch * p.batch) { return; }
    let bi = group / per_batch;
    let r = group % per_batch;
    let m0 = (r / blocks_n) * {rows}u;
    let n0 = ((r % blocks_n) * 8u + lane) * 4u;
    let abase = p.a0 + bi * p.a_b;
    let kstep = select(1u, p.a_k, A_VEC == 1u);
    //% each load: let ao{j} = a_slot(abase, m0, {j}u * 8u + lane, {rows}u);
    //% dense: let bo = b_columns(p.b0 + bi * p.b_b, n0);
    //% conv: let cols = conv_columns(n0);
    //% conv_weight: let cols = tap_columns(n0);
    //% each row: var c{r} = vec4<f32>(0.0);
    for (var ko = 0u; ko < p.k_outer; ko++) {
        //% dense: let bk = bo + vec4<u32>(ko * p.b_ko);
        //% each load: let ak{j} = ao{j} + ko * p.a_ko;
        for (var k0 = 0u; k0 < p.k; k0 += 4u) {
            //% each load: let q{j} = a4[(ak{j} + k0 * kstep) / 4u];
            //% dense: let b = b_rows(bk, k0);
            //% conv: let b = conv_rows(cols, k0);
            //% conv_weight: let b = tap_rows(cols, ko, k0);
            if (A_VEC == 0u) {
                //% each row: c{r} += dot_rows(subgroupBroadcast(q{q}, {l}u), b);
            } else {
                //% each group: { let x0 = subgroupBroadcast(q{q0}, {l0}u); let x1 = subgroupBroadcast(q{q1}, {l1}u); let x2 = subgroupBroadcast(q{q2}, {l2}u); let x3 = subgroupBroadcast(q{q3}, {l3}u); c{r0} += dot_rows(vec4<f32>(x0.x, x1.x, x2.x, x3.x), b); c{r1} += dot_rows(vec4<f32>(x0.y, x1.y, x2.y, x3.y), b); c{r2} += dot_rows(vec4<f32>(x0.z, x1.z, x2.z, x3.z), b); c{r3} += dot_rows(vec4<f32>(x0.w, x1.w, x2.w, x3.w), b); }
            }
        }
    }
    let cbase = p.c0 + bi * p.c_b;
    //% each row: store_row(cbase, m0 + {r}u, n0, c{r});
}

// The offset of A's load slot s (see above) in a tile of `rows` rows.
fn a_slot(abase: u32, m0: u32, s: u32, rows: u32) -> u32 {
    if (A_VEC == 0u) {
        return abase + min(m0 + s, p.m - 1u) * p.a_m;
    }
    let groups = rows / 4u;
    return abase + min(m0 + 4u * (s % groups), p.m - 4u) * p.a_m + (s / groups) * p.a_k;
}
