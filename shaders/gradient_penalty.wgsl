// gradient_penalty: a penalty on the discriminator's input gradient g, one value per row (one
// decision of D): weight · (‖g‖ − target)². WGAN-GP (Gulrajani et al. 2017) uses target 1 on
// interpolates of real and fake rows; R1 (Mescheder et al. 2018) target 0 on real rows. Only the
// first `dim` features of each row of `row_len` count: the image, not the label planes after it.
// interpolate: mixed[r, j] = a[r, j] + t[r] · (b[r, j] − a[r, j])        (a real, b fake)
// forward:     norm[r] = ‖g[r, :dim]‖,  loss[r] = weight · (norm[r] − target)²
// backward:    dg[r, j] = 2 · weight · (norm[r] − target) / max(norm[r], tiny) · g[r, j] / rows
//              for j < dim, else 0: the gradient of mean(loss), given forward's norm.
// a, b, mixed, g, dg [rows, row_len]; t, norm, loss [rows]

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> t: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> norm: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

var<workgroup> partial: array<f32, WG>;

// Bindings: 1 = a, 2 = b, 3 = t, 4 = mixed.
@compute @workgroup_size(256)
fn interpolate(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.rows * p.row_len) { return; }
    out[i] = a[i] + t[i / p.row_len] * (b[i] - a[i]);
}

// One workgroup per row: strided partial sums of squares, then a fixed tree, so reruns give
// the same bits. Bindings: 1 = g, 5 = norm, 6 = loss.
@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let lid = inv.lid;
    let r = group_id(inv);
    if (r >= p.rows) { return; }
    var acc = 0.0;
    for (var j = lid; j < p.dim; j += WG) {
        let v = a[r * p.row_len + j];
        acc += v * v;
    }
    partial[lid] = acc;
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
    }
    workgroupBarrier();
    if (lid == 0u) {
        let n = sqrt(partial[0]);
        norm[r] = n;
        loss[r] = p.weight * (n - p.target_norm) * (n - p.target_norm);
    }
}

// Bindings: 1 = g, 5 = norm (read), 4 = dg.
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.rows * p.row_len) { return; }
    let r = i / p.row_len;
    let n = norm[r];
    let coef = 2.0 * p.weight * (n - p.target_norm) / (max(n, 1e-12) * f32(p.rows));
    out[i] = select(0.0, coef * a[i], i % p.row_len < p.dim);
}
