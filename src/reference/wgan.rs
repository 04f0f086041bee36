/// dz[i] = scale / n
pub fn wgan_critic_backward(dz: &mut [f32], scale: f32) {
    let n = dz.len() as f32;
    dz.fill(scale / n);
}

/// w = clamp(w, −c, c)
pub fn wgan_clip(w: &mut [f32], c: f32) {
    for v in w {
        *v = v.clamp(-c, c);
    }
}
