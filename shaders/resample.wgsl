// resample: 2× changes of resolution per plane of [planes = n·c, h, w], as PyTorch computes them.
// nearest_*:  y [planes, 2h, 2w], y[o] = x[o / 2]
// bilinear_*: y [planes, 2h, 2w], align_corners=False: source (o + ½)/2 − ½ clamped at 0
// avg_pool_*: y [planes, ⌊h/2⌋, ⌊w/2⌋], the mean of each 2×2 block
// Forward: one invocation per output pixel (x → y). Backward: one per input pixel, gathering
// from the few outputs that read it (dy in `x`, dx in `y`), so no atomics and a fixed order.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// The two input pixels output `o` reads along an axis of `len`, and the second one's weight.
struct Taps {
    i0: u32,
    i1: u32,
    t: f32,
}

fn bilinear_taps(o: u32, len: u32) -> Taps {
    let src = max((f32(o) + 0.5) * 0.5 - 0.5, 0.0);
    let i0 = min(u32(floor(src)), len - 1u);
    return Taps(i0, min(i0 + 1u, len - 1u), src - f32(i0));
}

// The weight with which output `o` reads input `i` (0 when it does not).
fn bilinear_weight(o: u32, i: u32, len: u32) -> f32 {
    let taps = bilinear_taps(o, len);
    return select(0.0, 1.0 - taps.t, taps.i0 == i) + select(0.0, taps.t, taps.i1 == i);
}

@compute @workgroup_size(256)
fn nearest_forward(inv: Invocation) {
    let o = flat_id(inv);
    if (o >= p.planes * p.ho * p.wo) { return; }
    let plane = o / (p.ho * p.wo);
    let r = o % (p.ho * p.wo);
    y[o] = x[(plane * p.h + (r / p.wo) / 2u) * p.w + (r % p.wo) / 2u];
}

@compute @workgroup_size(256)
fn nearest_backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.planes * p.h * p.w) { return; }
    let plane = i / (p.h * p.w);
    let r = i % (p.h * p.w);
    let top = (plane * p.ho + 2u * (r / p.w)) * p.wo + 2u * (r % p.w);
    y[i] = (x[top] + x[top + 1u]) + (x[top + p.wo] + x[top + p.wo + 1u]);
}

@compute @workgroup_size(256)
fn bilinear_forward(inv: Invocation) {
    let o = flat_id(inv);
    if (o >= p.planes * p.ho * p.wo) { return; }
    let plane = o / (p.ho * p.wo);
    let r = o % (p.ho * p.wo);
    let ty = bilinear_taps(r / p.wo, p.h);
    let tx = bilinear_taps(r % p.wo, p.w);
    let row0 = (plane * p.h + ty.i0) * p.w;
    let row1 = (plane * p.h + ty.i1) * p.w;
    let top = (1.0 - tx.t) * x[row0 + tx.i0] + tx.t * x[row0 + tx.i1];
    let bottom = (1.0 - tx.t) * x[row1 + tx.i0] + tx.t * x[row1 + tx.i1];
    y[o] = (1.0 - ty.t) * top + ty.t * bottom;
}

@compute @workgroup_size(256)
fn bilinear_backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.planes * p.h * p.w) { return; }
    let plane = i / (p.h * p.w);
    let iy = (i % (p.h * p.w)) / p.w;
    let ix = i % p.w;
    var acc = 0.0;
    // Outputs 2i − 1 ..= 2i + 2 along each axis are the only ones that read pixel i.
    for (var a = 0u; a < 4u; a++) {
        let oy = 2u * iy + a;
        if (oy < 1u || oy > p.ho) { continue; }
        let wy = bilinear_weight(oy - 1u, iy, p.h);
        var row = 0.0;
        for (var b = 0u; b < 4u; b++) {
            let ox = 2u * ix + b;
            if (ox < 1u || ox > p.wo) { continue; }
            row += bilinear_weight(ox - 1u, ix, p.w) * x[(plane * p.ho + oy - 1u) * p.wo + ox - 1u];
        }
        acc += wy * row;
    }
    y[i] = acc;
}

@compute @workgroup_size(256)
fn avg_pool_forward(inv: Invocation) {
    let o = flat_id(inv);
    if (o >= p.planes * p.ho * p.wo) { return; }
    let plane = o / (p.ho * p.wo);
    let r = o % (p.ho * p.wo);
    let top = (plane * p.h + 2u * (r / p.wo)) * p.w + 2u * (r % p.wo);
    y[o] = 0.25 * ((x[top] + x[top + 1u]) + (x[top + p.w] + x[top + p.w + 1u]));
}

@compute @workgroup_size(256)
fn avg_pool_backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.planes * p.h * p.w) { return; }
    let plane = i / (p.h * p.w);
    let oy = ((i % (p.h * p.w)) / p.w) / 2u;
    let ox = (i % p.w) / 2u;
    // Rows and columns past 2·⌊h/2⌋ feed no output.
    y[i] = select(0.0, 0.25 * x[(plane * p.ho + oy) * p.wo + ox], oy < p.ho && ox < p.wo);
}
