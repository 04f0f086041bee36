use crate::ops::sgd::SgdStep;

/// One SGD step with momentum (torch.optim.SGD, no dampening): buf = μ·buf + g; w −= lr·buf.
pub fn sgd_step(s: &SgdStep, param: &mut [f32], grad: &[f32], buf: &mut [f32]) {
    for i in 0..param.len() {
        let g = grad[i] + s.weight_decay * param[i];
        buf[i] = s.momentum * buf[i] + g;
        param[i] -= s.lr * buf[i];
    }
}
