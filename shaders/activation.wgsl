// activation: element-wise y = f(x); backward uses the saved output y, not x.
// KIND (a pipeline constant, so the other kinds' code is not run masked on CPU adapters):
// 0: LeakyReLU(slope) (ReLU is slope 0), 1: sigmoid, 2: tanh.
// x, y, dy, dx [n]. The *4 entries take 4 elements per invocation (n a multiple of 4): on CPU
// adapters a vec4 load or store costs about what a scalar one does.

override KIND: u32 = 0u;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> yin: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> yin4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> dx4: array<vec4<f32>>;

fn f(v: f32) -> f32 {
    return activate(KIND, p.slope, v);
}

// f'(x) written in terms of y = f(x).
fn df(v: f32) -> f32 {
    switch KIND {
        case 1u: { return v * (1.0 - v); }
        case 2u: { return 1.0 - v * v; }
        default: { return select(p.slope, 1.0, v > 0.0); }
    }
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    y[i] = f(x[i]);
}

// dx = dy · f'(x)   (overwrites dx)
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    dx[i] = dy[i] * df(yin[i]);
}

@compute @workgroup_size(256)
fn forward4(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n / 4u) { return; }
    let v = x4[i];
    y4[i] = vec4<f32>(f(v.x), f(v.y), f(v.z), f(v.w));
}

@compute @workgroup_size(256)
fn backward4(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n / 4u) { return; }
    let v = yin4[i];
    dx4[i] = dy4[i] * vec4<f32>(df(v.x), df(v.y), df(v.z), df(v.w));
}
