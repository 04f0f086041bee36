// softmax_cross_entropy: a classifier's loss on logits z [n, k] against class labels [n] (class
// indices stored as f32), one row per invocation, max-subtracted so any logits are safe.
// forward:  loss[i] = logsumexp(z[i, :]) − z[i, label[i]]
// probs:    p[i, c] = exp(z[i, c] − logsumexp(z[i, :]))
// backward: dz[i, c] = scale · (p[i, c] − [c == label[i]]) / n  — the gradient of scale · mean(loss)
// z, p, dz [n, k], label, loss [n]

@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> label: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn logsumexp(row: u32) -> f32 {
    var m = z[row * p.k];
    for (var c = 1u; c < p.k; c++) {
        m = max(m, z[row * p.k + c]);
    }
    var s = 0.0;
    for (var c = 0u; c < p.k; c++) {
        s += exp(z[row * p.k + c] - m);
    }
    return m + log(s);
}

fn class_of(row: u32) -> u32 {
    return min(u32(max(label[row], 0.0)), p.k - 1u);
}

// Bindings: 3 = loss [n].
@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    out[i] = logsumexp(i) - z[i * p.k + class_of(i)];
}

// Bindings: 3 = p [n, k]; the label binding is not used.
@compute @workgroup_size(256)
fn probs(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let lse = logsumexp(i);
    for (var c = 0u; c < p.k; c++) {
        out[i * p.k + c] = exp(z[i * p.k + c] - lse);
    }
}

// Bindings: 3 = dz [n, k].
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let lse = logsumexp(i);
    let y = class_of(i);
    for (var c = 0u; c < p.k; c++) {
        let hot = select(0.0, 1.0, c == y);
        out[i * p.k + c] = p.scale * (exp(z[i * p.k + c] - lse) - hot) / f32(p.n);
    }
}
