use crate::ops::gemm::Gemm;

/// C[m, n] (+)= Σ_k A[m, k] · B[k, n] (+ bias[n]), through the strides in `s`.
pub fn gemm(s: &Gemm, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    for i in 0..s.m {
        for j in 0..s.n {
            let mut acc = 0.0f32;
            for k in 0..s.k {
                acc += a[i * s.a.0 + k * s.a.1] * b[k * s.b.0 + j * s.b.1];
            }
            let at = i * s.c.0 + j * s.c.1;
            acc += bias.map_or(0.0, |b| b[j]);
            c[at] = if s.accumulate { c[at] + acc } else { acc };
        }
    }
}
