// condition: what a network sees when it is told a class or given instance noise. Each sample's
// features (plus optional Gaussian noise), then the one-hot code of its label repeated over
// `spatial` positions: one constant plane per class for a conv net, one feature per class for an
// MLP (spatial = 1). Labels are class indices stored as f32; a fraction is floored, so uniform
// noise in [0, classes) is a uniformly drawn label.
// forward:  out[i, j] = x[i, j] + sigma · N(seed, offset + i·dim + j)                 j < dim
//           out[i, dim + c·spatial + t] = (floor(label[i]) == c)                   c < classes
// backward: dx[i, j] = dout[i, j]   (the label planes have no gradient)
// x, dx [n, dim], label [n], out, dout [n, dim + classes·spatial]

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> label: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn row() -> u32 {
    return p.dim + p.classes * p.spatial;
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * row()) { return; }
    let s = i / row();
    let j = i % row();
    if (j < p.dim) {
        var v = x[s * p.dim + j];
        if (p.sigma != 0.0) {
            let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), counter_at(p.off_lo, p.off_hi, s * p.dim + j));
            v += p.sigma * standard_normal(r);
        }
        out[i] = v;
    } else {
        let c = min(u32(max(floor(label[s]), 0.0)), p.classes - 1u);
        out[i] = select(0.0, 1.0, (j - p.dim) / p.spatial == c);
    }
}

// Bindings: 1 = dout, 3 = dx.
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.dim) { return; }
    let s = i / p.dim;
    out[i] = x[s * row() + i % p.dim];
}
