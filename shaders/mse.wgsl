// mse: per-sample squared error, the LSGAN loss (Mao et al. 2017).
// loss[i] = (z − t)²;   dz[i] = scale · 2 · (z − t) / n   — the gradient of scale · mean(loss).
// z, t, loss, dz [n] (declared in loss.wgsl); reduce.wgsl's sum turns loss into the mean.

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let d = z[i] - t[i];
    loss[i] = d * d;
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    dz[i] = p.scale * 2.0 * (z[i] - t[i]) / f32(p.n);
}
