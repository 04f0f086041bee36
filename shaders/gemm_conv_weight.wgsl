// Included after gemm_tiles.wgsl and gemm_store4.wgsl by `gemm_subgroup_conv_weight`: a
// convolution's weight gradient as an implicit GEMM, dW[k, t] += Σ_{s, pixel} dY[s, k, pixel] ·
// im2col(img)[t, (s, pixel)], without writing im2col out (as gemm_conv.wgsl does for the forward).
// A is dY with rows padded to p.k pixels (k_outer = samples, their padding zero); column n of B is
// tap t = (ci, i, j) (KH × KW per channel) and row pixel of sample ko is
//   B[pixel, t] = img[ko, ci, oy·step + off_y + i, ox·step + off_x + j], 0 off the image,
// with (oy, ox) the pixel on a grid OW wide, and 0 on the padding pixels (q_pixels and on).

// The kernel's size and the output's width: divisions by them become multiplications.
override KH: u32 = 1u;
override KW: u32 = 1u;
override OW: u32 = 1u;

// This lane's 4 taps: where their channel starts in a sample, and their (i, j).
struct TapCols { base: vec4<u32>, i: vec4<u32>, j: vec4<u32> }

fn tap_columns(n0: u32) -> TapCols {
    let t = columns4(n0);
    return TapCols(t / (KH * KW) * (p.img_h * p.img_w), t / KW % KH, t % KW);
}

// B[pixel, n0 .. n0+4] of sample s.
fn tap_row(cols: TapCols, s: u32, pixel: u32) -> vec4<f32> {
    let iy = cols.i + (pixel / OW * p.step + p.off_y);
    let ix = cols.j + (pixel % OW * p.step + p.off_x);
    let inside = (iy < vec4<u32>(p.img_h)) & (ix < vec4<u32>(p.img_w)) & vec4<bool>(pixel < p.q_pixels);
    return img4(s * (p.img_c * p.img_h * p.img_w) + cols.base + iy * p.img_w + ix, inside);
}

fn tap_rows(cols: TapCols, s: u32, k: u32) -> Rows4 {
    return Rows4(tap_row(cols, s, k), tap_row(cols, s, k + 1u), tap_row(cols, s, k + 2u), tap_row(cols, s, k + 3u));
}
