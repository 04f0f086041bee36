// mix: element-wise linear combinations, the adds of residual blocks and the fade-ins of
// progressive growing, and their backward.
// mix:  out = a · x + b · y          x, y, out [n]
// axpy: out = a · x + b · out        x, out [n] (b = 0 overwrites out, whatever it held)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// out[i] = a · x[i] + b · second, for an invocation inside the tensors.
fn combine(i: u32, second: f32) {
    if (i < p.n) {
        out[i] = p.a * x[i] + p.b * second;
    }
}

@compute @workgroup_size(256)
fn mix(inv: Invocation) {
    let i = flat_id(inv);
    combine(i, y[min(i, p.n - 1u)]);
}

@compute @workgroup_size(256)
fn axpy(inv: Invocation) {
    let i = flat_id(inv);
    // With b = 0, out's old value (NaN or not) must not reach the sum.
    combine(i, select(0.0, out[min(i, p.n - 1u)], p.b != 0.0));
}
