use super::Float;
use crate::ops::linear::Linear;

/// y [batch, out] = x [batch, in] · w [out, in]ᵀ + b [out]
pub fn linear_forward<F: Float>(s: &Linear, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
    let (ni, no) = (s.in_features, s.out_features);
    for n in 0..s.batch {
        for o in 0..no {
            let mut acc = b.map_or(F::zero(), |b| b[o]);
            for i in 0..ni {
                acc = acc + x[n * ni + i] * w[o * ni + i];
            }
            y[n * no + o] = acc;
        }
    }
}

/// dx = dy · w (overwrite); dw += dyᵀ · x; db += Σ_batch dy.
pub fn linear_backward<F: Float>(
    s: &Linear,
    x: &[F],
    w: &[F],
    dy: &[F],
    dx: Option<&mut [F]>,
    dw: Option<&mut [F]>,
    db: Option<&mut [F]>,
) {
    let (ni, no) = (s.in_features, s.out_features);
    if let Some(dx) = dx {
        for n in 0..s.batch {
            for i in 0..ni {
                let mut acc = F::zero();
                for o in 0..no {
                    acc = acc + dy[n * no + o] * w[o * ni + i];
                }
                dx[n * ni + i] = acc;
            }
        }
    }
    if let Some(dw) = dw {
        for o in 0..no {
            for i in 0..ni {
                let mut acc = F::zero();
                for n in 0..s.batch {
                    acc = acc + dy[n * no + o] * x[n * ni + i];
                }
                dw[o * ni + i] = dw[o * ni + i] + acc;
            }
        }
    }
    if let Some(db) = db {
        super::reduce::sum_channels(s.batch, no, 1, dy, db, true);
    }
}
