//! gemm: C[m, n] (+)= Σ_k A[m, k] · B[k, n] (+ bias[n]) with arbitrary strides, register-tiled.
//! The GPU kernel behind `linear` (see [`crate::ops::linear`]); its reference is
//! [`crate::reference::gemm::gemm`].

use super::u;
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

/// Element (i, j) of an operand lives at i·s0 + j·s1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// A[m, k] strides.
    pub a: (usize, usize),
    /// B[k, n] strides.
    pub b: (usize, usize),
    /// C[m, n] strides.
    pub c: (usize, usize),
    /// Add into C instead of overwriting it.
    pub accumulate: bool,
}

impl Gemm {
    /// One past the largest index the operand with strides `s` over `r`×`q` touches.
    fn extent(r: usize, q: usize, s: (usize, usize)) -> usize {
        if r == 0 || q == 0 { 0 } else { (r - 1) * s.0 + (q - 1) * s.1 + 1 }
    }

    pub fn check(&self, a: usize, b: usize, bias: Option<usize>, c: usize) -> Result<()> {
        let fits = |what: &str, len: usize, need: usize| {
            if len >= need {
                Ok(())
            } else {
                Err(Error::shape("gemm", format!("{what} has {len} elements, the strides reach {need}")))
            }
        };
        fits("a", a, Self::extent(self.m, self.k, self.a))?;
        fits("b", b, Self::extent(self.k, self.n, self.b))?;
        fits("c", c, Self::extent(self.m, self.n, self.c))?;
        if let Some(bias) = bias {
            fits("bias", bias, self.n)?;
        }
        Ok(())
    }

    pub fn flops(&self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

pub(crate) fn record(
    g: &mut GpuBackend,
    s: &Gemm,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<()> {
    s.check(a.len, b.len, bias.map(|t| t.len), c.len)?;
    let dummy = g.dummy.clone();
    let params = [
        u(s.m),
        u(s.n),
        u(s.k),
        u(s.a.0),
        u(s.a.1),
        u(s.b.0),
        u(s.b.1),
        u(s.c.0),
        u(s.c.1),
        s.accumulate as u32,
        bias.is_some() as u32,
    ];
    let tiles = s.m.div_ceil(4) * s.n.div_ceil(4);
    let bind = [(1, a), (2, b), (3, bias.unwrap_or(&dummy)), (4, c)];
    g.dispatch_items("gemm", "tile4x4", &params, &bind, tiles)
}
