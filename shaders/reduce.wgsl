// reduce: deterministic sums (fixed order: strided per-lane partials, then a fixed tree),
// so the same input gives the same bits on every run. No float atomics.
// sum:          out[0] = alpha · Σ x[i]                 x [n], out [1]   (one workgroup)
// sum_channels: out[c] (+)= Σ_{b,s} x[b, c, s]          x [batch, channels, spatial], out [channels]
//               (one workgroup per channel; the bias gradient of linear and the convolutions)

struct Params {
    n: u32,
    channels: u32,
    spatial: u32,
    accumulate: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
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
        acc += x[i];
    }
    partial[lid] = acc;
    let total = tree_sum(lid);
    if (lid == 0u) {
        out[0] = p.alpha * total;
    }
}

@compute @workgroup_size(256)
fn sum_channels(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let c = group_id(wg, nwg);
    let per_channel = p.n * p.spatial;
    var acc = 0.0;
    if (c < p.channels) {
        for (var e = lid; e < per_channel; e += WG) {
            let b = e / p.spatial;
            let s = e % p.spatial;
            acc += x[(b * p.channels + c) * p.spatial + s];
        }
    }
    partial[lid] = acc;
    let total = tree_sum(lid);
    if (lid == 0u && c < p.channels) {
        out[c] = select(0.0, out[c], p.accumulate != 0u) + p.alpha * total;
    }
}
