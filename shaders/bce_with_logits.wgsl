// bce_with_logits: per-sample binary cross-entropy on logits z with targets t in [0, 1]
// (per sample, so label smoothing and soft labels work).
// loss[i] = max(z,0) − z·t + log(1 + exp(−|z|))   (stable for any |z|)
// dz[i] = scale · (σ(z) − t) / n   — the gradient of scale · mean(loss).
// z, t, loss, dz [n] (declared in loss.wgsl); reduce.wgsl's sum turns loss into the mean.

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let v = z[i];
    loss[i] = max(v, 0.0) - v * t[i] + log(1.0 + exp(-abs(v)));
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    dz[i] = p.scale * (sigmoid_stable(z[i]) - t[i]) / f32(p.n);
}
