//! spectral_norm: a weight divided by its largest singular value (Miyato et al. 2018), the
//! weight viewed as a matrix [m, k] (m output channels or features). Forward (training only:
//! D never runs in evaluation mode): one power iteration on the persistent u (and v), then
//! w_sn = w / σ; backward: dL/dw from dL/dw_sn
//! through w/σ(w), in place. w, w_sn, dw [m, k]; u [m]; v [k]; state [2] (σ, Σ dw ⊙ w_sn).

use super::{expect, f, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

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

    fn params(&self) -> [u32; 3] {
        [u(self.m), u(self.k), f(self.eps)]
    }
}

/// One power iteration, then w_sn = w / σ.
pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &SpectralNorm,
    w: &GpuTensor,
    st: &SpectralState<'_, GpuTensor>,
    w_sn: &GpuTensor,
) -> Result<()> {
    s.check(w.len, st.u.len, st.v.len, st.state.len, w_sn.len)?;
    let p = s.params();
    g.dispatch("spectral_norm", "power", &p, &[(1, w), (2, st.u), (3, st.v), (4, st.state)], 1)?;
    g.dispatch_items("spectral_norm", "scale", &p, &[(1, w), (4, st.state), (5, w_sn)], w.len)
}

/// dw (dL/dw_sn on entry) becomes dL/dw.
pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &SpectralNorm,
    w_sn: &GpuTensor,
    st: &SpectralState<'_, GpuTensor>,
    dw: &GpuTensor,
) -> Result<()> {
    s.check(dw.len, st.u.len, st.v.len, st.state.len, w_sn.len)?;
    let p = s.params();
    g.dispatch("spectral_norm", "backward_dot", &p, &[(4, st.state), (5, w_sn), (6, dw)], 1)?;
    let bind = [(2, st.u), (3, st.v), (4, st.state), (6, dw)];
    g.dispatch_items("spectral_norm", "backward", &p, &bind, dw.len)
}
