// class_affine: a per-class scale and shift of every channel, conditional batch norm's affine part
// (de Vries et al. 2017; Miyato & Koyama 2018): after a batch norm without its own affine, each
// sample's channels are scaled and shifted by its class's row of gamma and beta. Labels are class
// indices stored as f32, floored and clamped as `condition` and `projection` read them.
// forward:         y[s, ch, q]     = gamma[c_s, ch] · x[s, ch, q] + beta[c_s, ch]
// backward_input:  dx[s, ch, q]    = dy[s, ch, q] · gamma[c_s, ch]                     (overwrites)
// backward_params: dgamma[c, ch]  += Σ_{s: c_s = c} Σ_q dy · x, dbeta[c, ch] += Σ dy  (accumulates)
// x, y, dy, dx are [n, channels, spatial]; gamma, beta [classes, channels].

// x (forward, backward_params) or dy (backward_input).
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> label: array<f32>;
// gamma (forward, backward_input) or dy (backward_params).
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
// y, dx or dgamma.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;

fn class_of(s: u32) -> u32 {
    return min(u32(max(floor(label[s]), 0.0)), p.classes - 1u);
}

// The [classes, channels] row of element i of an [n, channels, spatial] tensor.
fn row_of(i: u32) -> u32 {
    let s = i / (p.channels * p.spatial);
    return class_of(s) * p.channels + (i / p.spatial) % p.channels;
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.channels * p.spatial) { return; }
    let r = row_of(i);
    out[i] = b[r] * a[i] + beta[r];
}

@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.channels * p.spatial) { return; }
    out[i] = a[i] * b[row_of(i)];
}

// One invocation per (class, channel); neighbouring invocations share the class, so the test on
// each sample's label branches alike across a workgroup.
@compute @workgroup_size(256)
fn backward_params(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.classes * p.channels) { return; }
    let c = i / p.channels;
    let ch = i % p.channels;
    var g = 0.0;
    var d = 0.0;
    for (var s = 0u; s < p.n; s++) {
        if (class_of(s) != c) { continue; }
        let at = (s * p.channels + ch) * p.spatial;
        for (var q = 0u; q < p.spatial; q++) {
            g += b[at + q] * a[at + q];
            d += b[at + q];
        }
    }
    out[i] += g;
    dbeta[i] += d;
}
