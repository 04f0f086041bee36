// projection: the class term of a projection discriminator (Miyato & Koyama 2018), added to the
// logit its linear head already wrote: y[s] += ⟨embed[label[s]], x[s]⟩. Labels are class indices
// stored as f32, floored and clamped as `condition` reads them. Every entry accumulates.
// forward:        y[s]       += Σ_f embed[c_s, f] · x[s, f]                  x [n, features], y [n]
// backward_input: dx[s, f]   += dy[s] · embed[c_s, f]                        dy [n], dx [n, features]
// backward_embed: dembed[c, f] += Σ_{s: c_s = c} dy[s] · x[s, f]             dembed [classes, features]

// x (forward, backward_embed) or dy (backward_input).
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> label: array<f32>;
// embed (forward, backward_input) or dy (backward_embed).
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn class_of(s: u32) -> u32 {
    return min(u32(max(floor(label[s]), 0.0)), p.classes - 1u);
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let s = flat_id(inv);
    if (s >= p.n) { return; }
    let e = class_of(s) * p.features;
    let x0 = s * p.features;
    var acc = 0.0;
    for (var f = 0u; f < p.features; f++) {
        acc += b[e + f] * a[x0 + f];
    }
    out[s] += acc;
}

@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.features) { return; }
    let s = i / p.features;
    out[i] += a[s] * b[class_of(s) * p.features + i % p.features];
}

@compute @workgroup_size(256)
fn backward_embed(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.classes * p.features) { return; }
    let c = i / p.features;
    let f = i % p.features;
    var acc = 0.0;
    for (var s = 0u; s < p.n; s++) {
        acc += select(0.0, b[s] * a[s * p.features + f], class_of(s) == c);
    }
    out[i] += acc;
}
