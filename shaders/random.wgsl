// random: counter-based samplers (Threefry-2x32-20, see common.wgsl). Element i of a draw uses
// counter offset + i under key seed, so a (seed, offset) pair reproduces the same numbers on any
// adapter and on the CPU reference.
// out [n]

@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// Normal(mean = a, std = b).
@compute @workgroup_size(256)
fn fill_normal(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), counter_at(p.off_lo, p.off_hi, i));
    out[i] = p.a + p.b * standard_normal(r);
}

// Uniform in [a, b).
@compute @workgroup_size(256)
fn fill_uniform(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), counter_at(p.off_lo, p.off_hi, i));
    out[i] = p.a + (p.b - p.a) * unit_float(r.x);
}
