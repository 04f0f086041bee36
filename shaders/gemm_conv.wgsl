// Included after gemm_tiles.wgsl, in place of a store file, by `gemm_subgroup_conv`: convolutions
// as implicit GEMMs. C[m, n] = Σ_t A[m, t] · B[t, n] where B is an im2col matrix that is never
// written out: each lane gathers its columns from the image as it goes. Saves the im2col pass and
// its workspace; on lavapipe a gathered scalar costs about what a vec4's component does, as both
// are loaded lane by lane.
//
// Column n of B is point (qy, qx) of sample s on a grid of q_pixels points per sample, q_w wide
// (n = s·q_pixels + qy·q_w + qx; all samples side by side, so a tile never straddles padding).
// Row t = (ci, i, j) is a kernel tap (KH × KW taps per channel), and
//   B[t, n] = img[s, ci, qy·step + off_y + i·dir, qx·step + off_x + j·dir], 0 off the image,
// with offsets and directions as u32 that wrap (so one unsigned test catches both edges).
// C[m, n] is stored at c0 + s·c_b + m·c_m + (qy·out_step + out_y0)·out_w + qx·out_step + out_x0.
// A conv2d's forward: the grid is the output, step = stride, off = −pad, dir = 1, out_step 1. Its
// adjoint (conv_transpose2d's forward, conv2d's input gradient) runs as stride² such products, one
// per phase of output pixels, each over the taps that reach it (im2col.rs, `phase_weights`).

// The kernel's size: divisions by them become multiplications.
override KH: u32 = 1u;
override KW: u32 = 1u;

@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// Where this lane's 4 columns start in img, and their tap (0, 0).
struct ConvCols { base: vec4<u32>, iy0: vec4<u32>, ix0: vec4<u32> }

// The offset of each of the lane's 4 columns in C (set by conv_columns, read by store_row).
var<private> c_col: vec4<u32>;

fn conv_columns(n0: u32) -> ConvCols {
    let n = columns4(n0);
    let s = n / p.q_pixels;
    let q = n % p.q_pixels;
    let qy = q / p.q_w;
    let qx = q % p.q_w;
    c_col = s * p.c_b + (qy * p.out_step + p.out_y0) * p.out_w + qx * p.out_step + p.out_x0;
    return ConvCols(s * (p.img_c * p.img_h * p.img_w), qy * p.step + p.off_y, qx * p.step + p.off_x);
}

// B[t, n0 .. n0+4]: tap t of the lane's 4 columns.
fn conv_row(cols: ConvCols, t: u32) -> vec4<f32> {
    let ci = t / (KH * KW);
    let iy = cols.iy0 + (t / KW) % KH * p.dir;
    let ix = cols.ix0 + t % KW * p.dir;
    let inside = (iy < vec4<u32>(p.img_h)) & (ix < vec4<u32>(p.img_w));
    return img4(cols.base + (ci * p.img_h + iy) * p.img_w + ix, inside);
}

fn conv_rows(cols: ConvCols, k: u32) -> Rows4 {
    return Rows4(conv_row(cols, k), conv_row(cols, k + 1u), conv_row(cols, k + 2u), conv_row(cols, k + 3u));
}

// C[mi, n0 .. n0+4] (+)= v (+ bias[mi]), for the columns inside C.
fn store_row(cbase: u32, mi: u32, n0: u32, v: vec4<f32>) {
    if (mi >= p.m) { return; }
    let row = cbase + mi * p.c_m;
    if (n0 < p.n) { store_at(row + c_col.x, mi, v.x); }
    if (n0 + 1u < p.n) { store_at(row + c_col.y, mi, v.y); }
    if (n0 + 2u < p.n) { store_at(row + c_col.z, mi, v.z); }
    if (n0 + 3u < p.n) { store_at(row + c_col.w, mi, v.w); }
}

fn store_at(at: u32, mi: u32, v: f32) {
    var x = v;
    if (BIAS == 2u) { x += bias[mi]; }
    if (ACCUMULATE != 0u) { x += c[at]; }
    c[at] = epilogue(EPILOGUE, p.slope, x);
}
