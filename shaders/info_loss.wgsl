// info_loss: InfoGAN's lower bound on the mutual information between G's latent codes and its
// samples (Chen et al. 2016), as a loss on the Q head's outputs q [n, k + c]: softmax
// cross-entropy of the first k (logits of the categorical code) against the code drawn, plus a
// unit-variance Gaussian's negative log-likelihood (up to a constant) of the last c against the
// continuous codes, which are columns z_off.. of G's latent z [n, z_dim], weighted by cont_weight.
// forward:  loss[i] = logsumexp(q[i, :k]) − q[i, code[i]] + cont_weight · ½ Σ_j (q[i, k + j] − z[i, z_off + j])²
// backward: dq[i, j] = scale · (softmax_j − [j == code[i]]) / n              j < k
//           dq[i, k + j] = scale · cont_weight · (q[i, k + j] − z[i, z_off + j]) / n
// draw_codes: z[i, z_off + j] = U(−1, 1) from the counter-based generator at (seed, i·c + j):
//           the continuous codes, uniform as Chen et al. drew them (the rest of z stays normal).
// q, dq [n, k + c], code, loss [n] (class indices as f32), z [n, z_dim]

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> code: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn row_len() -> u32 {
    return p.k + p.c;
}

fn logsumexp(i: u32) -> f32 {
    let base = i * row_len();
    var m = q[base];
    for (var j = 1u; j < p.k; j++) {
        m = max(m, q[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < p.k; j++) {
        s += exp(q[base + j] - m);
    }
    return m + log(s);
}

fn code_of(i: u32) -> u32 {
    return min(u32(max(code[i], 0.0)), p.k - 1u);
}

// One row per invocation. Bindings: 4 = loss [n].
@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let base = i * row_len();
    var l = 0.0;
    if (p.k > 0u) {
        l = logsumexp(i) - q[base + code_of(i)];
    }
    for (var j = 0u; j < p.c; j++) {
        let d = q[base + p.k + j] - z[i * p.z_dim + p.z_off + j];
        l += 0.5 * p.cont_weight * d * d;
    }
    out[i] = l;
}

// One element per invocation. Bindings: 4 = dq [n, k + c].
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let e = flat_id(inv);
    if (e >= p.n * row_len()) { return; }
    let i = e / row_len();
    let j = e % row_len();
    var d = 0.0;
    if (j < p.k) {
        let hot = select(0.0, 1.0, j == code_of(i));
        d = exp(q[e] - logsumexp(i)) - hot;
    } else {
        d = p.cont_weight * (q[e] - z[i * p.z_dim + p.z_off + j - p.k]);
    }
    out[e] = p.scale * d / f32(p.n);
}

// One code per invocation. Bindings: 4 = z [n, z_dim], written in place.
@compute @workgroup_size(256)
fn draw_codes(inv: Invocation) {
    let e = flat_id(inv);
    if (e >= p.n * p.c) { return; }
    let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), counter_at(0u, 0u, e));
    out[(e / p.c) * p.z_dim + p.z_off + e % p.c] = 2.0 * unit_float(r.x) - 1.0;
}
