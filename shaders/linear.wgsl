// linear: y = x · wᵀ + b   (PyTorch's nn.Linear layout)
// x [batch, in], wt [out, in], b [out], y [batch, out] (buffers declared in weighted.wgsl)
// The bias gradient is reduce.wgsl's sum_channels over dy.

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.batch * p.out_f) { return; }
    let o = idx % p.out_f;
    let n = idx / p.out_f;
    var acc = select(0.0, b[o], p.has_bias != 0u);
    let xr = n * p.in_f;
    let wr = o * p.in_f;
    for (var i = 0u; i < p.in_f; i++) {
        acc += x[xr + i] * wt[wr + i];
    }
    y[idx] = acc;
}

// dx = dy · w   (overwrites dx)
@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.batch * p.in_f) { return; }
    let i = idx % p.in_f;
    let n = idx / p.in_f;
    var acc = 0.0;
    for (var o = 0u; o < p.out_f; o++) {
        acc += dy[n * p.out_f + o] * wt[o * p.in_f + i];
    }
    dx[idx] = acc;
}

// dw += dyᵀ · x   (accumulates, so several backward passes can add into one gradient)
@compute @workgroup_size(256)
fn backward_weight(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.out_f * p.in_f) { return; }
    let i = idx % p.in_f;
    let o = idx / p.in_f;
    var acc = 0.0;
    for (var n = 0u; n < p.batch; n++) {
        acc += dy[n * p.out_f + o] * x[n * p.in_f + i];
    }
    dw[idx] += acc;
}
