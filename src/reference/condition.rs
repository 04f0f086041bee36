use super::random::{bits, standard_normal};
use crate::ops::condition::Condition;

/// x [n, dim], label [n] → out [n, dim + classes·spatial]: x plus sigma·N(seed, offset + i), then
/// one-hot label planes (as condition.wgsl's `forward`).
pub fn condition_forward(s: &Condition, x: &[f32], label: &[f32], out: &mut [f32]) {
    let row = s.out_dim();
    for i in 0..s.n {
        for j in 0..s.dim {
            let mut v = x[i * s.dim + j];
            if s.sigma != 0.0 {
                v += s.sigma * standard_normal(bits(s.seed, s.offset, (i * s.dim + j) as u64));
            }
            out[i * row + j] = v;
        }
        if s.classes > 0 {
            let c = (label[i].floor().max(0.0) as usize).min(s.classes - 1);
            for j in s.dim..row {
                out[i * row + j] = ((j - s.dim) / s.spatial == c) as u8 as f32;
            }
        }
    }
}

/// dout [n, dim + classes·spatial] → dx [n, dim].
pub fn condition_backward(s: &Condition, dout: &[f32], dx: &mut [f32]) {
    let row = s.out_dim();
    for i in 0..s.n {
        dx[i * s.dim..(i + 1) * s.dim].copy_from_slice(&dout[i * row..i * row + s.dim]);
    }
}
