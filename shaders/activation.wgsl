// activation: element-wise y = f(x); backward uses the saved output y, not x.
// kind 0: LeakyReLU(slope) (ReLU is slope 0), 1: sigmoid, 2: tanh.
// x, y, dy, dx [n]

struct Params {
    n: u32,
    kind: u32,
    slope: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> yin: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wg, nwg, lid);
    if (i >= p.n) { return; }
    let v = x[i];
    var r: f32;
    switch p.kind {
        case 1u: { r = sigmoid_stable(v); }
        case 2u: { r = tanh_stable(v); }
        default: { r = select(p.slope * v, v, v > 0.0); }
    }
    y[i] = r;
}

// dx = dy · f'(x), written in terms of y = f(x)   (overwrites dx)
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wg, nwg, lid);
    if (i >= p.n) { return; }
    let v = yin[i];
    var d: f32;
    switch p.kind {
        case 1u: { d = v * (1.0 - v); }
        case 2u: { d = 1.0 - v * v; }
        default: { d = select(p.slope, 1.0, v > 0.0); }
    }
    dx[i] = dy[i] * d;
}
