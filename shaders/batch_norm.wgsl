// batch_norm over [n, c, spatial] (BatchNorm1d: spatial = 1; BatchNorm2d: spatial = h·w).
// y = gamma[c] · (x − mean[c]) · invstd[c] + beta[c]
// running [2c] = running mean then running (unbiased) variance, PyTorch's momentum convention.
// saved   [2c] = the mean and invstd the forward used, read by backward.
// scratch [2c] = Σ dy and Σ dy·x̂ per channel, between the two backward kernels.
// Channel reductions give one workgroup to each channel and sum in a fixed order (deterministic);
// where a channel has few elements (BatchNorm1d: m = n) the `_narrow` entry points give one
// invocation to each channel instead: a workgroup of 256 lanes on 16 or 32 values would idle most
// lanes through its barriers (on lavapipe those barriers cost 60% of the default model's step),
// and neighbouring invocations read neighbouring channels, so the loads coalesce.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> running: array<f32>;
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(9) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(10) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(11) var<storage, read_write> scratch: array<f32>;

var<workgroup> part_a: array<f32, WG>;
var<workgroup> part_b: array<f32, WG>;

fn tree_sum2(lid: u32) {
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) {
            part_a[lid] += part_a[lid + s];
            part_b[lid] += part_b[lid + s];
        }
    }
    workgroupBarrier();
}

fn at(c: u32, e: u32) -> u32 {
    return ((e / p.spatial) * p.c + c) * p.spatial + e % p.spatial;
}

// Training statistics (two passes: mean, then centred variance) and the running update.
@compute @workgroup_size(256)
fn stats_train(inv: Invocation) {
    let lid = inv.lid;
    let c = group_id(inv);
    let m = p.n * p.spatial;
    let valid = c < p.c;
    var s = 0.0;
    if (valid) {
        for (var e = lid; e < m; e += WG) { s += x[at(c, e)]; }
    }
    part_a[lid] = s;
    part_b[lid] = 0.0;
    tree_sum2(lid);
    let mean = part_a[0] / f32(m);
    workgroupBarrier();
    var q = 0.0;
    if (valid) {
        for (var e = lid; e < m; e += WG) { let d = x[at(c, e)] - mean; q += d * d; }
    }
    part_a[lid] = q;
    tree_sum2(lid);
    if (lid == 0u && valid) {
        finish_stats(c, mean, part_a[0] / f32(m), m);
    }
}

// The per-channel results of stats_train from its sums, shared by both variants.
fn finish_stats(c: u32, mean: f32, var_b: f32, m: u32) {
    saved[c] = mean;
    saved[p.c + c] = inverseSqrt(var_b + p.eps);
    let var_u = select(var_b, var_b * f32(m) / f32(m - 1u), m > 1u);
    running[c] = (1.0 - p.momentum) * running[c] + p.momentum * mean;
    running[p.c + c] = (1.0 - p.momentum) * running[p.c + c] + p.momentum * var_u;
}

// stats_train with one invocation per channel.
@compute @workgroup_size(256)
fn stats_train_narrow(inv: Invocation) {
    let c = flat_id(inv);
    if (c >= p.c) { return; }
    let m = p.n * p.spatial;
    var s = 0.0;
    for (var e = 0u; e < m; e++) { s += x[at(c, e)]; }
    let mean = s / f32(m);
    var q = 0.0;
    for (var e = 0u; e < m; e++) { let d = x[at(c, e)] - mean; q += d * d; }
    finish_stats(c, mean, q / f32(m), m);
}

// Evaluation mode: normalise with the running statistics.
@compute @workgroup_size(256)
fn stats_eval(inv: Invocation) {
    let c = flat_id(inv);
    if (c >= p.c) { return; }
    saved[c] = running[c];
    saved[p.c + c] = inverseSqrt(running[p.c + c] + p.eps);
}

@compute @workgroup_size(256)
fn normalize(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.c * p.spatial) { return; }
    let c = (i / p.spatial) % p.c;
    y[i] = gamma[c] * (x[i] - saved[c]) * saved[p.c + c] + beta[c];
}

// Per-channel Σ dy and Σ dy·x̂; dgamma += Σ dy·x̂, dbeta += Σ dy.
@compute @workgroup_size(256)
fn backward_stats(inv: Invocation) {
    let lid = inv.lid;
    let c = group_id(inv);
    let m = p.n * p.spatial;
    let valid = c < p.c;
    var a = 0.0;
    var b = 0.0;
    if (valid) {
        let mean = saved[c];
        let invstd = saved[p.c + c];
        for (var e = lid; e < m; e += WG) {
            let k = at(c, e);
            let g = dy[k];
            a += g;
            b += g * (x[k] - mean) * invstd;
        }
    }
    part_a[lid] = a;
    part_b[lid] = b;
    tree_sum2(lid);
    if (lid == 0u && valid) {
        finish_backward_stats(c, part_a[0], part_b[0]);
    }
}

fn finish_backward_stats(c: u32, sum_dy: f32, sum_dy_xhat: f32) {
    scratch[c] = sum_dy;
    scratch[p.c + c] = sum_dy_xhat;
    dgamma[c] += sum_dy_xhat;
    dbeta[c] += sum_dy;
}

// backward_stats with one invocation per channel.
@compute @workgroup_size(256)
fn backward_stats_narrow(inv: Invocation) {
    let c = flat_id(inv);
    if (c >= p.c) { return; }
    let m = p.n * p.spatial;
    let mean = saved[c];
    let invstd = saved[p.c + c];
    var a = 0.0;
    var b = 0.0;
    for (var e = 0u; e < m; e++) {
        let k = at(c, e);
        let g = dy[k];
        a += g;
        b += g * (x[k] - mean) * invstd;
    }
    finish_backward_stats(c, a, b);
}

// dx = gamma · invstd / m · (m·dy − Σdy − x̂·Σdy·x̂)   (overwrites dx)
@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n * p.c * p.spatial) { return; }
    let c = (i / p.spatial) % p.c;
    let m = f32(p.n * p.spatial);
    let invstd = saved[p.c + c];
    let xhat = (x[i] - saved[c]) * invstd;
    dx[i] = gamma[c] * invstd / m * (m * dy[i] - scratch[c] - xhat * scratch[p.c + c]);
}
