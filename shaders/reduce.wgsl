// reduce: deterministic sums (fixed order: strided per-lane partials, then a fixed tree),
// so the same input gives the same bits on every run. No float atomics.
// sum:          out[0] = alpha · Σ x[i]                 x [n], out [1]   (one workgroup)
//               (alpha · Σ x[i]² when square = 1: a squared norm)
// sum_channels: out[c] (+)= Σ_{b,s} x[b, c, s]          x [batch, channels, spatial], out [channels]
//               (the bias gradient of linear and the convolutions), in two passes when long

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn tree_sum(lid: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
    }
    workgroupBarrier();
    return partial[0];
}

@compute @workgroup_size(256)
fn sum(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        acc += select(x[i], x[i] * x[i], p.square != 0u);
    }
    partial[lid] = acc;
    let total = tree_sum(lid);
    if (lid == 0u) {
        out[0] = p.alpha * total;
    }
}

// One invocation per (channel, run of `per_run` consecutive elements of that channel, walked in
// (b, s) order): no division per element and no barriers, which both run lane by lane on CPU
// adapters, and lanes take neighbouring channels. With one run per channel it writes out
// directly (direct = 1); otherwise partial[run, c], summed by sum_runs in run order.
@compute @workgroup_size(256)
fn sum_channels(inv: Invocation) {
    let t = flat_id(inv);
    let c = t % p.channels;
    let run = t / p.channels;
    let per_channel = p.n * p.spatial;
    let first = run * p.per_run;
    if (first >= per_channel && per_channel > 0u) { return; }
    let last = min(first + p.per_run, per_channel);
    var s = first % p.spatial;
    var at = (first / p.spatial * p.channels + c) * p.spatial + s;
    var acc = 0.0;
    for (var e = first; e < last; e++) {
        acc += x[at];
        s++;
        at++;
        if (s == p.spatial) {
            s = 0u;
            at += (p.channels - 1u) * p.spatial;
        }
    }
    if (p.direct != 0u) {
        out[c] = select(0.0, out[c], p.accumulate != 0u) + p.alpha * acc;
    } else {
        out[run * p.channels + c] = acc;
    }
}

// out[c] (+)= alpha · Σ_run x[run, c] for x [runs = n, channels].
@compute @workgroup_size(256)
fn sum_runs(inv: Invocation) {
    let c = flat_id(inv);
    if (c >= p.channels) { return; }
    var acc = 0.0;
    for (var r = 0u; r < p.n; r++) {
        acc += x[r * p.channels + c];
    }
    out[c] = select(0.0, out[c], p.accumulate != 0u) + p.alpha * acc;
}
