use super::activation::activation_forward;
use crate::ops::gemm::{BiasAxis, Gemm};

/// C[b, m, n] (+)= Σ_{ko, k} A[b, m, ko, k] · B[b, ko, k, n] (+ bias), through the strides in `s`.
pub fn gemm(s: &Gemm, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    let (sa, sb, sc) = (s.a, s.b, s.c);
    for bi in 0..s.batch {
        for i in 0..s.m {
            for j in 0..s.n {
                let mut acc = 0.0f32;
                for ko in 0..s.k_outer {
                    let a0 = sa.offset + bi * sa.batch + ko * sa.outer + i * sa.s0;
                    let b0 = sb.offset + bi * sb.batch + ko * sb.outer + j * sb.s1;
                    for k in 0..s.k {
                        acc += a[a0 + k * sa.s1] * b[b0 + k * sb.s0];
                    }
                }
                if let Some(bias) = bias {
                    acc += bias[if s.bias_axis == BiasAxis::M { i } else { j }];
                }
                let at = sc.offset + bi * sc.batch + i * sc.s0 + j * sc.s1;
                c[at] = if s.accumulate { c[at] + acc } else { acc };
                if let Some(f) = s.epilogue {
                    let v = [c[at]];
                    activation_forward(f, &v, &mut c[at..at + 1]);
                }
            }
        }
    }
}
