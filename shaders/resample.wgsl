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

// This invocation's element of planes of rows × cols: (plane, row, column, index); the plane is
// p.planes or more past the end.
fn at(inv: Invocation, rows: u32, cols: u32) -> vec4<u32> {
    let i = flat_id(inv);
    return vec4<u32>(i / (rows * cols), (i / cols) % rows, i % cols, i);
}

@compute @workgroup_size(256)
fn nearest_forward(inv: Invocation) {
    let q = at(inv, p.ho, p.wo);
    let o = q.w;
    if (q.x >= p.planes) { return; }
    y[o] = x[(q.x * p.h + q.y / 2u) * p.w + q.z / 2u];
}

// The sum of x's 2×2 block at `top` in rows of `row`.
fn block_sum(top: u32, row: u32) -> f32 {
    return (x[top] + x[top + 1u]) + (x[top + row] + x[top + row + 1u]);
}

@compute @workgroup_size(256)
fn nearest_backward(inv: Invocation) {
    let q = at(inv, p.h, p.w);
    if (q.x >= p.planes) { return; }
    y[q.w] = block_sum((q.x * p.ho + 2u * q.y) * p.wo + 2u * q.z, p.wo);
}

@compute @workgroup_size(256)
fn bilinear_forward(inv: Invocation) {
    let q = at(inv, p.ho, p.wo);
    let o = q.w;
    if (q.x >= p.planes) { return; }
    let ty = bilinear_taps(q.y, p.h);
    let tx = bilinear_taps(q.z, p.w);
    let row0 = (q.x * p.h + ty.i0) * p.w;
    let row1 = (q.x * p.h + ty.i1) * p.w;
    let top = (1.0 - tx.t) * x[row0 + tx.i0] + tx.t * x[row0 + tx.i1];
    let bottom = (1.0 - tx.t) * x[row1 + tx.i0] + tx.t * x[row1 + tx.i1];
    y[o] = (1.0 - ty.t) * top + ty.t * bottom;
}

@compute @workgroup_size(256)
fn bilinear_backward(inv: Invocation) {
    let q = at(inv, p.h, p.w);
    let i = q.w;
    if (q.x >= p.planes) { return; }
    var acc = 0.0;
    // Outputs 2i − 1 ..= 2i + 2 along each axis are the only ones that read pixel i.
    for (var a = 0u; a < 4u; a++) {
        let oy = 2u * q.y + a;
        if (oy < 1u || oy > p.ho) { continue; }
        let wy = bilinear_weight(oy - 1u, q.y, p.h);
        var row = 0.0;
        for (var b = 0u; b < 4u; b++) {
            let ox = 2u * q.z + b;
            if (ox < 1u || ox > p.wo) { continue; }
            row += bilinear_weight(ox - 1u, q.z, p.w) * x[(q.x * p.ho + oy - 1u) * p.wo + ox - 1u];
        }
        acc += wy * row;
    }
    y[i] = acc;
}

@compute @workgroup_size(256)
fn avg_pool_forward(inv: Invocation) {
    let q = at(inv, p.ho, p.wo);
    if (q.x >= p.planes) { return; }
    y[q.w] = 0.25 * block_sum((q.x * p.h + 2u * q.y) * p.w + 2u * q.z, p.w);
}

@compute @workgroup_size(256)
fn avg_pool_backward(inv: Invocation) {
    let q = at(inv, p.h, p.w);
    let i = q.w;
    if (q.x >= p.planes) { return; }
    // Rows and columns past 2·⌊h/2⌋ feed no output.
    let inside = q.y / 2u < p.ho && q.z / 2u < p.wo;
    y[i] = select(0.0, 0.25 * x[(q.x * p.ho + q.y / 2u) * p.wo + q.z / 2u], inside);
}
