//! batch_norm over x [n, c, spatial]: gamma, beta [c]; running [2c] (mean, var); saved [2c]
//! (the mean and invstd the forward used, for backward).

use super::{expect, f, u};
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNorm {
    pub n: usize,
    pub c: usize,
    /// 1 for BatchNorm1d, h·w for BatchNorm2d.
    pub spatial: usize,
    pub eps: f32,
    pub momentum: f32,
}

impl BatchNorm {
    pub fn check(
        &self,
        x: usize,
        gamma: usize,
        beta: usize,
        running: usize,
        saved: usize,
        y: usize,
    ) -> Result<()> {
        expect("batch_norm", "x", x, &[self.n, self.c, self.spatial])?;
        expect("batch_norm", "gamma", gamma, &[self.c])?;
        expect("batch_norm", "beta", beta, &[self.c])?;
        expect("batch_norm", "running", running, &[2, self.c])?;
        expect("batch_norm", "saved", saved, &[2, self.c])?;
        expect("batch_norm", "y", y, &[self.n, self.c, self.spatial])
    }

    #[allow(clippy::too_many_arguments)]
    pub fn check_backward(
        &self,
        x: usize,
        gamma: usize,
        saved: usize,
        dy: usize,
        dx: usize,
        dgamma: usize,
        dbeta: usize,
    ) -> Result<()> {
        self.check(x, gamma, dgamma, saved, saved, dy)?;
        expect("batch_norm", "dbeta", dbeta, &[self.c])?;
        expect("batch_norm", "dx", dx, &[self.n, self.c, self.spatial])
    }

    fn params(&self) -> [u32; 5] {
        [u(self.n), u(self.c), u(self.spatial), f(self.eps), f(self.momentum)]
    }
}

/// The tensors a batch-norm layer holds besides its input and output.
pub struct BatchNormState<'a, T> {
    pub gamma: &'a T,
    pub beta: &'a T,
    pub running: &'a T,
    pub saved: &'a T,
}

pub(crate) fn forward(
    g: &mut GpuBackend,
    s: &BatchNorm,
    x: &GpuTensor,
    st: &BatchNormState<'_, GpuTensor>,
    y: &GpuTensor,
    training: bool,
) -> Result<()> {
    s.check(x.len, st.gamma.len, st.beta.len, st.running.len, st.saved.len, y.len)?;
    let p = s.params();
    if training {
        g.dispatch("batch_norm", "stats_train", &p, &[(1, x), (4, st.running), (5, st.saved)], s.c)?;
    } else {
        g.dispatch_items("batch_norm", "stats_eval", &p, &[(4, st.running), (5, st.saved)], s.c)?;
    }
    let bind = [(1, x), (2, st.gamma), (3, st.beta), (5, st.saved), (6, y)];
    g.dispatch_items("batch_norm", "normalize", &p, &bind, x.len)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    g: &mut GpuBackend,
    s: &BatchNorm,
    x: &GpuTensor,
    gamma: &GpuTensor,
    saved: &GpuTensor,
    dy: &GpuTensor,
    dx: &GpuTensor,
    dgamma: &GpuTensor,
    dbeta: &GpuTensor,
) -> Result<()> {
    s.check_backward(x.len, gamma.len, saved.len, dy.len, dx.len, dgamma.len, dbeta.len)?;
    let p = s.params();
    let scratch = g.scratch("batch_norm.stats", 2 * s.c)?;
    let bind = [(1, x), (5, saved), (7, dy), (9, dgamma), (10, dbeta), (11, &scratch)];
    g.dispatch("batch_norm", "backward_stats", &p, &bind, s.c)?;
    let bind = [(1, x), (2, gamma), (5, saved), (7, dy), (8, dx), (11, &scratch)];
    g.dispatch_items("batch_norm", "backward_input", &p, &bind, x.len)
}
