// hinge: the discriminator's hinge loss (Lim & Ye 2017; Miyato et al. 2018) with targets t as
// for BCE (1 real, 0 fake), i.e. sign s = 2t − 1.
// loss[i] = max(0, 1 − s·z[i])
// dz[i] = scale · (−s if 1 − s·z > 0 else 0) / n   — the gradient of scale · mean(loss).
// The generator's term −mean(D(G(z))) is wgan.wgsl's critic_backward with scale −1.
// z, t, loss, dz [n] (declared in loss.wgsl)

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let s = 2.0 * t[i] - 1.0;
    loss[i] = max(0.0, 1.0 - s * z[i]);
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let s = 2.0 * t[i] - 1.0;
    dz[i] = select(0.0, -s * p.scale / f32(p.n), 1.0 - s * z[i] > 0.0);
}
