use super::{Float, tap};
use crate::ops::conv2d::Conv2d;

/// y [n, k, oh, ow] = conv(x [n, c, h, w], w [k, c, kh, kw]) + b [k]
pub fn conv2d_forward<F: Float>(s: &Conv2d, x: &[F], w: &[F], b: Option<&[F]>, y: &mut [F]) {
    let (oh, ow) = s.out_hw();
    for n in 0..s.n {
        for k in 0..s.k {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(F::zero(), |b| b[k]);
                    for c in 0..s.c {
                        for i in 0..s.kh {
                            let Some(iy) = tap(oy, i, s.stride, s.pad, s.h) else {
                                continue;
                            };
                            for j in 0..s.kw {
                                let Some(ix) = tap(ox, j, s.stride, s.pad, s.w) else {
                                    continue;
                                };
                                acc = acc
                                    + x[((n * s.c + c) * s.h + iy) * s.w + ix]
                                        * w[((k * s.c + c) * s.kh + i) * s.kw + j];
                            }
                        }
                    }
                    y[((n * s.k + k) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
}

/// dx (overwrite), dw += , db += from dy [n, k, oh, ow], written as the scatter that is the
/// transpose of the forward gather.
pub fn conv2d_backward<F: Float>(
    s: &Conv2d,
    x: &[F],
    w: &[F],
    dy: &[F],
    mut dx: Option<&mut [F]>,
    mut dw: Option<&mut [F]>,
    db: Option<&mut [F]>,
) {
    let (oh, ow) = s.out_hw();
    if let Some(dx) = dx.as_deref_mut() {
        dx.fill(F::zero());
    }
    for n in 0..s.n {
        for k in 0..s.k {
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = dy[((n * s.k + k) * oh + oy) * ow + ox];
                    for c in 0..s.c {
                        for i in 0..s.kh {
                            let Some(iy) = tap(oy, i, s.stride, s.pad, s.h) else {
                                continue;
                            };
                            for j in 0..s.kw {
                                let Some(ix) = tap(ox, j, s.stride, s.pad, s.w) else {
                                    continue;
                                };
                                let xi = ((n * s.c + c) * s.h + iy) * s.w + ix;
                                let wi = ((k * s.c + c) * s.kh + i) * s.kw + j;
                                if let Some(dx) = dx.as_deref_mut() {
                                    dx[xi] = dx[xi] + g * w[wi];
                                }
                                if let Some(dw) = dw.as_deref_mut() {
                                    dw[wi] = dw[wi] + g * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(db) = db {
        super::reduce::sum_channels(s.n, s.k, oh * ow, dy, db, true);
    }
}
