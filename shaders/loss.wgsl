// Included into the per-sample losses (bce_with_logits, mse, hinge): they share one layout, so
// one Rust pass (ops::LossPass) binds and parameterises all three.
// z, t, loss, dz [n]; `scale` multiplies the gradient of mean(loss).

struct Params {
    n: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;
