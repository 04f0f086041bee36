// minibatch_stddev: progressive growing's minibatch standard deviation feature for D (Karras et
// al. 2018). With m = c · spatial features per sample:
// std[j]   = sqrt(mean_s (x[s, j] − mean_s x[s, j])² + eps)               (biased, over the batch)
// y[s, ch, q] = x[s, ch, q] for ch < c;   y[s, c, q] = mean_j std[j]       y [n, c + 1, spatial]
// dx[s, j] = dy[s, j] + (Σ_{s', q} dy[s', c, q]) / m · (x[s, j] − mean_j) / (n · std[j])
//                                                                          (overwrites)
// Sums over features and pixels run in one workgroup (a strided walk, then a tree), and sums over
// the batch in one invocation per feature, so every sum has a fixed order (reruns give the same
// bits) for any n.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
// y (forward) or dx (backward).
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// Forward: std [m], then their mean at m. Backward: Σ of the extra channel's dy at 0.
@group(0) @binding(4) var<storage, read_write> scratch: array<f32>;

var<workgroup> part: array<f32, WG>;

fn tree_sum(lid: u32) {
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) {
            part[lid] += part[lid + s];
        }
    }
    workgroupBarrier();
}

// Feature j's mean over the batch and sqrt(biased variance + eps), two passes as batch_norm's.
fn stats_of(j: u32) -> vec2<f32> {
    let m = p.c * p.spatial;
    var s = 0.0;
    for (var i = 0u; i < p.n; i++) { s += x[i * m + j]; }
    let mean = s / f32(p.n);
    var q = 0.0;
    for (var i = 0u; i < p.n; i++) { let d = x[i * m + j] - mean; q += d * d; }
    return vec2<f32>(mean, sqrt(q / f32(p.n) + p.eps));
}

@compute @workgroup_size(256)
fn stats(inv: Invocation) {
    let j = flat_id(inv);
    if (j >= p.c * p.spatial) { return; }
    scratch[j] = stats_of(j).y;
}

// One workgroup: scratch[m] = mean of scratch[0..m].
@compute @workgroup_size(256)
fn average(inv: Invocation) {
    let lid = inv.lid;
    let m = p.c * p.spatial;
    var s = 0.0;
    for (var j = lid; j < m; j += WG) { s += scratch[j]; }
    part[lid] = s;
    tree_sum(lid);
    if (lid == 0u) {
        scratch[m] = part[0] / f32(m);
    }
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    let m = p.c * p.spatial;
    let row = m + p.spatial;
    if (i >= p.n * row) { return; }
    let r = i % row;
    if (r < m) {
        out[i] = x[(i / row) * m + r];
    } else {
        out[i] = scratch[m];
    }
}

// One workgroup: scratch[0] = Σ over samples and pixels of dy's extra channel.
@compute @workgroup_size(256)
fn backward_sum(inv: Invocation) {
    let lid = inv.lid;
    let m = p.c * p.spatial;
    let row = m + p.spatial;
    var s = 0.0;
    for (var e = lid; e < p.n * p.spatial; e += WG) {
        s += dy[(e / p.spatial) * row + m + e % p.spatial];
    }
    part[lid] = s;
    tree_sum(lid);
    if (lid == 0u) {
        scratch[0] = part[0];
    }
}

// One invocation per feature j, over the batch.
@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let j = flat_id(inv);
    let m = p.c * p.spatial;
    if (j >= m) { return; }
    let st = stats_of(j);
    let scale = scratch[0] / f32(m) / (f32(p.n) * st.y);
    for (var i = 0u; i < p.n; i++) {
        let k = i * m + j;
        out[k] = dy[i * (m + p.spatial) + j] + scale * (x[k] - st.x);
    }
}
