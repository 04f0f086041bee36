// pixel_norm: progressive growing's pixelwise feature vector normalisation (Karras et al. 2018),
// each sample's channel vector at each pixel scaled to unit mean square.
// forward:  y[s, ch, q]  = x[s, ch, q] / r[s, q],   r[s, q] = sqrt(mean_ch x[s, ch, q]² + eps)
// backward: dx[s, ch, q] = (dy − y · mean_ch(dy · y)) / r,   y = x / r             (overwrites)
// x, y, dy, dx are [n, c, spatial]. One invocation per (sample, pixel) walks its channels, so
// every sum runs in channel order (deterministic); neighbouring invocations read neighbouring
// pixels of one channel plane, so the loads coalesce.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
// y (forward) or dx (backward).
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The index of channel 0 of pixel i (of n · spatial).
fn base_of(i: u32) -> u32 {
    return (i / p.spatial) * p.c * p.spatial + i % p.spatial;
}

// The root mean square of the channel vector at `at`, eps inside the root.
fn rms(at: u32) -> f32 {
    var sq = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        let v = x[at + ch * p.spatial];
        sq += v * v;
    }
    return sqrt(sq / f32(p.c) + p.eps);
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.spatial) { return; }
    let at = base_of(i);
    let r = rms(at);
    for (var ch = 0u; ch < p.c; ch++) {
        let k = at + ch * p.spatial;
        out[k] = x[k] / r;
    }
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.spatial) { return; }
    let at = base_of(i);
    let r = rms(at);
    var dot = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        let k = at + ch * p.spatial;
        dot += dy[k] * x[k] / r;
    }
    let mean_dy_y = dot / f32(p.c);
    for (var ch = 0u; ch < p.c; ch++) {
        let k = at + ch * p.spatial;
        out[k] = (dy[k] - x[k] / r * mean_dy_y) / r;
    }
}
