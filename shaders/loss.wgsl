// Included into the per-sample losses (bce_with_logits, mse, hinge): they share one layout
// (and ops::LossParams), so one Rust pass (ops::LossPass) binds all three.
// z, t, loss, dz [n]; `scale` multiplies the gradient of mean(loss).

@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;
