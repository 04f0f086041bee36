// mse: per-sample squared error, the LSGAN loss (Mao et al. 2017).
// loss[i] = (z − t)²;   dz[i] = scale · 2 · (z − t) / n   — the gradient of scale · mean(loss).
// z, t, loss, dz [n]; reduce.wgsl's sum turns loss into the mean.

struct Params {
    n: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;

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
