// adam: one step over a network's flat parameter buffer (Kingma & Ba 2015, PyTorch's form).
// weight_decay is L2 added to the gradient (torch.optim.Adam), or decoupled (AdamW) when
// decoupled != 0. bc1 = 1 − β1^t and bc2 = 1 − β2^t come from the host, which counts steps.
// param, grad, m, v [n]
// precondition: param = grad / (√v/√bc2 + eps), Adam's per-weight step scale applied to a
// vector with the moments held fixed (the unrolled GAN's look-ahead steps and their backward).

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn step(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    var w = param[i];
    var g = grad[i];
    if (p.decoupled != 0u) {
        w -= p.lr * p.weight_decay * w;
    } else {
        g += p.weight_decay * w;
    }
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let denom = sqrt(vi) / sqrt(p.bc2) + p.eps;
    param[i] = w - (p.lr / p.bc1) * mi / denom;
}

@compute @workgroup_size(256)
fn precondition(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    param[i] = grad[i] / (sqrt(v[i]) / sqrt(p.bc2) + p.eps);
}
