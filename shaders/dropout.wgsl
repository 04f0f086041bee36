// dropout (inverted): keep element i when uniform(seed, offset + i) >= prob, scaled by 1/(1 − prob).
// The mask is never stored: backward draws the same counters again, so it must get the same
// seed and offset as the forward it undoes.
// x, y, dy, dx [n]

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn keep_scale(i: u32) -> f32 {
    let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), counter_at(p.off_lo, p.off_hi, i));
    return select(0.0, 1.0 / (1.0 - p.prob), unit_float(r.x) >= p.prob);
}

// y = x · mask / (1 − prob); backward is the same map applied to dy (bind dy as x, dx as y).
@compute @workgroup_size(256)
fn apply(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    y[i] = x[i] * keep_scale(i);
}
