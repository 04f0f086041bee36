// wgan: the Wasserstein critic's pieces (Arjovsky et al. 2017).
// critic_backward: dz[i] = scale / n, the gradient of scale · mean(z) (the loss itself is
//                  reduce.wgsl's sum with alpha = scale / n).
// clip:            w = clamp(w, −c, c), the critic's weight clipping.
// z, dz, w [n]

@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn critic_backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    out[i] = p.a / f32(p.n);
}

@compute @workgroup_size(256)
fn clip(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    out[i] = clamp(out[i], -p.a, p.a);
}
