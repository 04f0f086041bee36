use super::{Float, tap};
use crate::ops::conv_transpose2d::ConvTranspose2d;

/// y [n, k, oh, ow] = conv_transpose(x [n, c, h, w], w [c, k, kh, kw]) + b [k], as the scatter
/// of each input pixel through the kernel (the definition, not the GPU's gather).
pub fn conv_transpose2d_forward<F: Float>(
    s: &ConvTranspose2d,
    x: &[F],
    w: &[F],
    b: Option<&[F]>,
    y: &mut [F],
) {
    let (oh, ow) = s.out_hw();
    for n in 0..s.n {
        for k in 0..s.k {
            let bias = b.map_or(F::zero(), |b| b[k]);
            y[(n * s.k + k) * oh * ow..(n * s.k + k + 1) * oh * ow].fill(bias);
        }
    }
    for n in 0..s.n {
        for c in 0..s.c {
            for iy in 0..s.h {
                for ix in 0..s.w {
                    let v = x[((n * s.c + c) * s.h + iy) * s.w + ix];
                    for k in 0..s.k {
                        for i in 0..s.kh {
                            let Some(oy) = tap(iy, i, s.stride, s.pad, oh) else {
                                continue;
                            };
                            for j in 0..s.kw {
                                let Some(ox) = tap(ix, j, s.stride, s.pad, ow) else {
                                    continue;
                                };
                                let yi = ((n * s.k + k) * oh + oy) * ow + ox;
                                y[yi] = y[yi] + v * w[((c * s.k + k) * s.kh + i) * s.kw + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dx (overwrite), dw += , db += from dy [n, k, oh, ow].
pub fn conv_transpose2d_backward<F: Float>(
    s: &ConvTranspose2d,
    x: &[F],
    w: &[F],
    dy: &[F],
    mut dx: Option<&mut [F]>,
    mut dw: Option<&mut [F]>,
    db: Option<&mut [F]>,
) {
    let (oh, ow) = s.out_hw();
    for n in 0..s.n {
        for c in 0..s.c {
            for iy in 0..s.h {
                for ix in 0..s.w {
                    let xi = ((n * s.c + c) * s.h + iy) * s.w + ix;
                    let mut acc = F::zero();
                    for k in 0..s.k {
                        for i in 0..s.kh {
                            let Some(oy) = tap(iy, i, s.stride, s.pad, oh) else {
                                continue;
                            };
                            for j in 0..s.kw {
                                let Some(ox) = tap(ix, j, s.stride, s.pad, ow) else {
                                    continue;
                                };
                                let g = dy[((n * s.k + k) * oh + oy) * ow + ox];
                                let wi = ((c * s.k + k) * s.kh + i) * s.kw + j;
                                acc = acc + g * w[wi];
                                if let Some(dw) = dw.as_deref_mut() {
                                    dw[wi] = dw[wi] + g * x[xi];
                                }
                            }
                        }
                    }
                    if let Some(dx) = dx.as_deref_mut() {
                        dx[xi] = acc;
                    }
                }
            }
        }
    }
    if let Some(db) = db {
        super::reduce::sum_channels(s.n, s.k, oh * ow, dy, db, true);
    }
}
