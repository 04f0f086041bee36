//! spectral_norm: a weight divided by its largest singular value (Miyato et al. 2018), the
//! weight viewed as a matrix [m, k] (m output channels or features). Forward (training only:
//! D never runs in evaluation mode): one power iteration on the persistent u (and v), then
//! w_sn = w / σ; backward: dL/dw from dL/dw_sn
//! through w/σ(w), in place. w, w_sn, dw [m, k]; u [m]; v [k]; state [2] (σ, Σ dw ⊙ w_sn).

use super::{GpuTensors, Pass, all, all_mut, expect, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectralNorm {
    pub m: usize,
    pub k: usize,
    /// Floor of the vector norms in the power iteration (PyTorch's 1e-12).
    pub eps: f32,
}

/// The vectors a spectral-normalised weight keeps between steps.
pub struct SpectralState<'a, T> {
    pub u: &'a T,
    pub v: &'a T,
    pub state: &'a T,
}

impl SpectralNorm {
    pub fn new(m: usize, k: usize) -> Self {
        SpectralNorm { m, k, eps: 1e-12 }
    }

    pub fn check(&self, w: usize, u_len: usize, v: usize, state: usize, w_sn: usize) -> Result<()> {
        expect("spectral_norm", "w", w, &[self.m, self.k])?;
        expect("spectral_norm", "u", u_len, &[self.m])?;
        expect("spectral_norm", "v", v, &[self.k])?;
        expect("spectral_norm", "state", state, &[2])?;
        expect("spectral_norm", "w_sn", w_sn, &[self.m, self.k])
    }

    fn params(&self) -> SpectralNormParams {
        SpectralNormParams { m: u(self.m), k: u(self.k), eps: self.eps }
    }
}

params! {
    pub struct SpectralNormParams { m: u32, k: u32, eps: f32 }
}

/// One power iteration on st.u, st.v, then w_sn = w / σ(w).
pub fn forward<B: Backend>(
    b: &mut B,
    s: &SpectralNorm,
    w: &B::T,
    st: &SpectralState<'_, B::T>,
    w_sn: &B::T,
) -> Result<()> {
    let pass = SpectralPass { s: *s, backward: false };
    b.run(&pass, &[Some(w)], &[Some(st.u), Some(st.v), Some(st.state), Some(w_sn)])
}

/// dw: dL/dw_sn in, dL/dw out (through σ's dependence on w).
pub fn backward<B: Backend>(
    b: &mut B,
    s: &SpectralNorm,
    w_sn: &B::T,
    st: &SpectralState<'_, B::T>,
    dw: &B::T,
) -> Result<()> {
    let pass = SpectralPass { s: *s, backward: true };
    b.run(&pass, &[Some(w_sn), Some(st.u), Some(st.v)], &[Some(st.state), Some(dw)])
}

/// Forward reads w, writes u, v, state, w_sn; backward reads w_sn, u, v, writes state, dw.
struct SpectralPass {
    s: SpectralNorm,
    backward: bool,
}

impl Pass for SpectralPass {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        if self.backward {
            let ([w_sn, u, v], [state, dw]) = (all(reads), all(writes));
            self.s.check(dw, u, v, state, w_sn)
        } else {
            let ([w], [u, v, state, w_sn]) = (all(reads), all(writes));
            self.s.check(w, u, v, state, w_sn)
        }
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        if self.backward {
            let ([w_sn, u, v], [state, dw]) = (all(reads), all_mut(writes));
            reference::spectral_norm_backward(&self.s, w_sn, u, v, state, dw);
        } else {
            let ([w], [u, v, state, w_sn]) = (all(reads), all_mut(writes));
            reference::spectral_norm_power(&self.s, w, u, v, state);
            reference::spectral_norm_scale(w, state, w_sn);
        }
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let p = self.s.params();
        if self.backward {
            let ([w_sn, u, v], [state, dw]) = (all(reads), all(writes));
            g.dispatch("spectral_norm", "backward_dot", &p, &[(4, state), (5, w_sn), (6, dw)], 1)?;
            g.dispatch_items("spectral_norm", "backward", &p, &[(2, u), (3, v), (4, state), (6, dw)], dw.len)
        } else {
            let ([w], [u, v, state, w_sn]) = (all(reads), all(writes));
            g.dispatch("spectral_norm", "power", &p, &[(1, w), (2, u), (3, v), (4, state)], 1)?;
            g.dispatch_items("spectral_norm", "scale", &p, &[(1, w), (4, state), (5, w_sn)], w.len)
        }
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    use crate::ops::spectral_norm::SpectralNorm;
    use crate::reference::Float;

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
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::reference::gradcheck::{Rng, check, vecf};

    /// Spectral norm: after a power iteration, w ↦ w / (uᵀ w v) with u, v held (PyTorch's
    /// semantics), whose gradient goes through σ as well; and the power iteration finds σ₁.
    #[test]
    fn spectral_norm_gradient_and_sigma() {
        let mut rng = Rng::new(31);
        let (m, k) = (5, 7);
        let s = SpectralNorm::new(m, k);
        let w = vecf(&mut rng, m * k);
        let r = vecf(&mut rng, m * k);
        let (mut u, mut v, mut state) = (vecf(&mut rng, m), vec![0.0; k], vec![0.0; 2]);
        spectral_norm_power(&s, &w, &mut u, &mut v, &mut state);
        let mut w_sn = vec![0.0; m * k];
        spectral_norm_scale(&w, &state, &mut w_sn);
        let mut dw = r.clone();
        spectral_norm_backward(&s, &w_sn, &u, &v, &mut state, &mut dw);
        let forward = |q: &[f64]| {
            let sigma: f64 = (0..m).map(|i| u[i] * (0..k).map(|j| q[i * k + j] * v[j]).sum::<f64>()).sum();
            q.iter().map(|x| x / sigma).collect()
        };
        check("spectral_norm", &w, &r, forward, &dw);

        // Many iterations converge to the largest singular value.
        for _ in 0..200 {
            spectral_norm_power(&s, &w, &mut u, &mut v, &mut state);
        }
        let sv = nalgebra::DMatrix::from_row_slice(m, k, &w).singular_values();
        let top = sv.iter().cloned().fold(0.0, f64::max);
        assert!((state[0] - top).abs() < 1e-9 * top, "sigma {} vs largest singular value {top}", state[0]);
    }
}
