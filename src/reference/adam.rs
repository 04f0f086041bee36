use crate::ops::adam::AdamStep;

/// One Adam step, in PyTorch's form: w −= lr/bc1 · m / (√v/√bc2 + eps).
pub fn adam_step(s: &AdamStep, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let (bc1, bc2) = s.bias_corrections();
    for i in 0..param.len() {
        let mut w = param[i];
        let mut g = grad[i];
        if s.decoupled {
            w -= s.lr * s.weight_decay * w;
        } else {
            g += s.weight_decay * w;
        }
        m[i] = s.beta1 * m[i] + (1.0 - s.beta1) * g;
        v[i] = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
        let denom = v[i].sqrt() / bc2.sqrt() + s.eps;
        param[i] = w - (s.lr / bc1) * m[i] / denom;
    }
}
