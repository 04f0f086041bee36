// adam: one step over a network's flat parameter buffer (Kingma & Ba 2015, PyTorch's form).
// weight_decay is L2 added to the gradient (torch.optim.Adam), or decoupled (AdamW) when
// decoupled != 0. bc1 = 1 − β1^t and bc2 = 1 − β2^t come from the host, which counts steps.
// param, grad, m, v [n]
// held_step: param −= lr · Δ(grad), the step Adam takes from moments m, v without keeping the
//   moments it updates: Δ(g) = (β1 m + (1 − β1) g)/bc1 / (√((β2 v + (1 − β2) g²)/bc2) + eps).
// held_slope: param = x · dΔ/dg (grad), the derivative of that step, element by element.
//   (The unrolled GAN's look-ahead steps, and its way back through them.)

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

@group(0) @binding(5) var<storage, read> x: array<f32>;

// Adam's step from the held moments (without lr) and its derivative, for gradient g at i.
struct Held {
    step: f32,
    slope: f32,
}

fn held(i: u32, g: f32) -> Held {
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    let s = sqrt(vi / p.bc2);
    let denom = s + p.eps;
    // ds/dg = (1 − β2) g / (bc2 s), 0 where s = 0 (then g = 0 and v = 0).
    let ds = select(0.0, (1.0 - p.beta2) * g / (p.bc2 * s), s > 0.0);
    return Held(mi / p.bc1 / denom, ((1.0 - p.beta1) * denom - mi * ds) / (p.bc1 * denom * denom));
}

@compute @workgroup_size(256)
fn held_step(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    param[i] -= p.lr * held(i, grad[i]).step;
}

@compute @workgroup_size(256)
fn held_slope(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    param[i] = x[i] * held(i, grad[i]).slope;
}
