use super::Float;
use crate::ops::spectral_norm::SpectralNorm;

/// One power iteration on w [m, k]: v = wᵀu/‖wᵀu‖, u = wv/‖wv‖; state[0] = σ = uᵀwv = ‖wv‖.
pub fn spectral_norm_power<F: Float>(s: &SpectralNorm, w: &[F], u: &mut [F], v: &mut [F], state: &mut [F]) {
    let (m, k) = (s.m, s.k);
    let eps = F::from(s.eps).unwrap();
    for j in 0..k {
        v[j] = (0..m).fold(F::zero(), |a, i| a + w[i * k + j] * u[i]);
    }
    let nv = v.iter().fold(F::zero(), |a, &x| a + x * x).sqrt().max(eps);
    v.iter_mut().for_each(|x| *x = *x / nv);
    for i in 0..m {
        u[i] = (0..k).fold(F::zero(), |a, j| a + w[i * k + j] * v[j]);
    }
    let sigma = u.iter().fold(F::zero(), |a, &x| a + x * x).sqrt();
    let nu = sigma.max(eps);
    u.iter_mut().for_each(|x| *x = *x / nu);
    state[0] = sigma;
}

/// w_sn = w / σ
pub fn spectral_norm_scale<F: Float>(w: &[F], state: &[F], w_sn: &mut [F]) {
    for (o, &x) in w_sn.iter_mut().zip(w) {
        *o = x / state[0];
    }
}

/// dw (dL/dw_sn on entry) = (dw − (Σ dw ⊙ w_sn) · u vᵀ) / σ, with u, v constant; state[1] gets
/// the sum.
pub fn spectral_norm_backward<F: Float>(
    s: &SpectralNorm,
    w_sn: &[F],
    u: &[F],
    v: &[F],
    state: &mut [F],
    dw: &mut [F],
) {
    let dot = dw.iter().zip(w_sn).fold(F::zero(), |a, (&g, &w)| a + g * w);
    state[1] = dot;
    for (i, g) in dw.iter_mut().enumerate() {
        *g = (*g - dot * u[i / s.k] * v[i % s.k]) / state[0];
    }
}
