// spectral_norm: W_sn = W / σ(W) for a weight W viewed as a matrix [m, k] (m = output channels
// or features, k = the rest; Miyato et al. 2018), σ estimated by power iteration with a
// persistent u, as torch.nn.utils.spectral_norm does.
// power:         one iteration v = Wᵀu/‖Wᵀu‖, u = Wv/‖Wv‖, σ = uᵀWv (= ‖Wv‖) into state[0].
//                One workgroup: these matrices are small (≤ 64k elements in our discriminators)
//                and the two reductions need every element of the other vector.
// scale:         w_sn[i] = w[i] / σ.
// backward_dot:  state[1] = Σ dw ⊙ w_sn (one workgroup, fixed order).
// backward:      dw = (dw − state[1] · u vᵀ) / σ: the gradient through W/σ(W), with u and v
//                held constant as in PyTorch (σ = uᵀWv, so dσ/dW = u vᵀ); in place on the
//                layer's gradient dL/dW_sn.
// w, w_sn, dw [m, k]; u [m]; v [k]; state [2] (σ, the dot above)

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> w_sn: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

var<workgroup> part: array<f32, 256>;

// The sum of every invocation's x, in a fixed tree order; all invocations get it.
fn workgroup_sum(x: f32, lid: u32) -> f32 {
    part[lid] = x;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if (lid < half) { part[lid] += part[lid + half]; }
        workgroupBarrier();
    }
    let total = part[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn power(@builtin(local_invocation_index) lid: u32) {
    var ss = 0.0;
    for (var j = lid; j < p.k; j += WG) {
        var acc = 0.0;
        for (var i = 0u; i < p.m; i++) { acc += w[i * p.k + j] * u[i]; }
        v[j] = acc;
        ss += acc * acc;
    }
    let nv = max(sqrt(workgroup_sum(ss, lid)), p.eps);
    for (var j = lid; j < p.k; j += WG) { v[j] = v[j] / nv; }
    storageBarrier();
    ss = 0.0;
    for (var i = lid; i < p.m; i += WG) {
        var acc = 0.0;
        for (var j = 0u; j < p.k; j++) { acc += w[i * p.k + j] * v[j]; }
        u[i] = acc;
        ss += acc * acc;
    }
    let sigma = sqrt(workgroup_sum(ss, lid));
    let nu = max(sigma, p.eps);
    for (var i = lid; i < p.m; i += WG) { u[i] = u[i] / nu; }
    if (lid == 0u) { state[0] = sigma; }
}

@compute @workgroup_size(256)
fn scale(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.m * p.k) { return; }
    w_sn[i] = w[i] / state[0];
}

@compute @workgroup_size(256)
fn backward_dot(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.m * p.k; i += WG) { acc += dw[i] * w_sn[i]; }
    let total = workgroup_sum(acc, lid);
    if (lid == 0u) { state[1] = total; }
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.m * p.k) { return; }
    dw[i] = (dw[i] - state[1] * u[i / p.k] * v[i % p.k]) / state[0];
}
