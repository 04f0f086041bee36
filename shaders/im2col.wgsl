// im2col and col2im: the bridge that lets gemm.wgsl run convolutions.
// Geometry of a conv2d: img [n, c, h, w] → [n, k, oh, ow], kernel kh×kw, stride, pad.
// col [chunk, c·kh·kw, row] holds, for the samples n0 .. n0+chunk, every input tap of every output
// pixel: col[s, (ci, i, j), (oy, ox)] = img[n0+s, ci, oy·stride+i−pad, ox·stride+j−pad], 0 off the edge.
// Rows are padded with zeros from oh·ow to `row` (a multiple of 4) so gemm can read them as vec4.
// col2im is its adjoint written as a gather, so each image element has one writer (deterministic):
// img[n0+s, ci, iy, ix] = Σ col[s, (ci, i, j), (oy, ox)] over the taps that read (iy, ix) (+ bias[ci]).

// col2im's fused activation (common.wgsl's `epilogue` code), for transposed convolutions' forward.
override EPILOGUE: u32 = 0u;

@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(3) var<storage, read> col_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> img_out: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
// col, written as vec4 (its rows are padded to a multiple of 4).
@group(0) @binding(6) var<storage, read_write> col4: array<vec4<f32>>;

// Integer division is slow on CPU adapters (no vector divide: lavapipe runs it lane by lane), so
// there each invocation owns a whole row and walks it with counters instead of dividing per
// element. On GPUs that leaves neighbouring invocations a row apart (uncoalesced) and too few
// of them for 1-channel layers: the `_wide` entry points take one vec4 or element each.

// Tap (i, j) of a sample's channel (starting at img[src]) for output pixel (oy, ox); 0 off the
// image and on the row padding (oy == oh).
fn tap(src: u32, i: u32, j: u32, oy: u32, ox: u32) -> f32 {
    let iy = i32(oy * p.stride + i) - i32(p.pad);
    let ix = i32(ox * p.stride + j) - i32(p.pad);
    if (oy >= p.oh || iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) { return 0.0; }
    return img[src + u32(iy) * p.w + u32(ix)];
}

// The taps of four consecutive pixels from (oy, ox) on, moving the counters past them.
fn taps4(src: u32, i: u32, j: u32, oy: ptr<function, u32>, ox: ptr<function, u32>) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        v[e] = tap(src, i, j, *oy, *ox);
        *ox += 1u;
        if (*ox == p.ow) { *ox = 0u; *oy += 1u; }
    }
    return v;
}

// One invocation per row (s, (ci, i, j)) of col, written 4 pixels at a time.
@compute @workgroup_size(256)
fn im2col(inv: Invocation) {
    let r = flat_id(inv);
    let taps = p.c * p.kh * p.kw;
    if (r >= p.chunk * taps) { return; }
    let q = r % taps;
    let s = r / taps;
    let j = q % p.kw;
    let i = (q / p.kw) % p.kh;
    let ci = q / (p.kw * p.kh);
    let src = ((p.n0 + s) * p.c + ci) * p.h * p.w;
    let at = r * p.row / 4u;
    var oy = 0u;
    var ox = 0u;
    for (var q4 = 0u; q4 < p.row / 4u; q4++) {
        col4[at + q4] = taps4(src, i, j, &oy, &ox);
    }
}

// GPUs: one invocation per vec4 of col, so neighbouring invocations write neighbouring vec4s
// and read neighbouring pixels (one division per invocation is cheap there).
@compute @workgroup_size(256)
fn im2col_wide(inv: Invocation) {
    let id = flat_id(inv);
    let quads = p.row / 4u;
    let taps = p.c * p.kh * p.kw;
    if (id >= p.chunk * taps * quads) { return; }
    let r = id / quads;
    let q = r % taps;
    let j = q % p.kw;
    let i = (q / p.kw) % p.kh;
    let src = ((p.n0 + r / taps) * p.c + q / (p.kw * p.kh)) * p.h * p.w;
    let pix = 4u * (id % quads);
    var oy = pix / p.ow;
    var ox = pix % p.ow;
    col4[id] = taps4(src, i, j, &oy, &ox);
}

// One invocation per image row (s, ci, iy). The taps that reach (iy, ix) are i ≡ iy + pad (mod
// stride) with oy = (iy + pad − i) / stride, and likewise along x.
@compute @workgroup_size(256)
fn col2im(inv: Invocation) {
    let r = flat_id(inv);
    if (r >= p.chunk * p.c * p.h) { return; }
    let iy = r % p.h;
    let sc = r / p.h;
    let ci = sc % p.c;
    let base = sc * p.kh * p.kw * p.row;
    let ry = (iy + p.pad) % p.stride;
    let oy0 = i32((iy + p.pad) / p.stride);
    var rx = p.pad % p.stride;
    var ox0 = i32(p.pad / p.stride);
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias[ci]; }
    let out = (p.n0 * p.c * p.h + r) * p.w;
    for (var ix = 0u; ix < p.w; ix++) {
        var acc = b;
        var oy = oy0;
        for (var i = ry; i < p.kh; i += p.stride) {
            if (oy >= 0 && oy < i32(p.oh)) {
                var ox = ox0;
                for (var j = rx; j < p.kw; j += p.stride) {
                    if (ox >= 0 && ox < i32(p.ow)) {
                        acc += col_in[base + (i * p.kw + j) * p.row + u32(oy) * p.ow + u32(ox)];
                    }
                    ox--;
                }
            }
            oy--;
        }
        img_out[out + ix] = epilogue(EPILOGUE, p.slope, acc);
        rx++;
        if (rx == p.stride) {
            rx = 0u;
            ox0++;
        }
    }
}

// col2im for GPUs: one invocation per image element (s, ci, iy, ix), neighbours along ix.
@compute @workgroup_size(256)
fn col2im_wide(inv: Invocation) {
    let id = flat_id(inv);
    if (id >= p.chunk * p.c * p.h * p.w) { return; }
    let ix = id % p.w;
    let r = id / p.w;
    let iy = r % p.h;
    let sc = r / p.h;
    let base = sc * p.kh * p.kw * p.row;
    let ry = (iy + p.pad) % p.stride;
    let rx = (ix + p.pad) % p.stride;
    var acc = 0.0;
    if (p.has_bias != 0u) { acc = bias[sc % p.c]; }
    var oy = i32((iy + p.pad) / p.stride);
    for (var i = ry; i < p.kh; i += p.stride) {
        if (oy >= 0 && oy < i32(p.oh)) {
            var ox = i32((ix + p.pad) / p.stride);
            for (var j = rx; j < p.kw; j += p.stride) {
                if (ox >= 0 && ox < i32(p.ow)) {
                    acc += col_in[base + (i * p.kw + j) * p.row + u32(oy) * p.ow + u32(ox)];
                }
                ox--;
            }
        }
        oy--;
    }
    img_out[p.n0 * p.c * p.h * p.w + id] = epilogue(EPILOGUE, p.slope, acc);
}

// Pixels pix .. pix + 3 of a row of `pixels` starting at img[src], zeros past its end.
fn padded4(src: u32, pix: u32, pixels: u32) -> vec4<f32> {
    if (pix + 3u < pixels) {
        return vec4<f32>(img[src + pix], img[src + pix + 1u], img[src + pix + 2u], img[src + pix + 3u]);
    }
    var v = vec4<f32>(0.0);
    if (pix < pixels) { v.x = img[src + pix]; }
    if (pix + 1u < pixels) { v.y = img[src + pix + 1u]; }
    if (pix + 2u < pixels) { v.z = img[src + pix + 2u]; }
    return v;
}

// The same rows of a [n, c, oh·ow] tensor (a gradient arriving at a conv's output) padded to
// `row` with zeros: col[s, ci, pix] = img[n0+s, ci, pix]. One invocation per row, 4 at a time.
@compute @workgroup_size(256)
fn pad_rows(inv: Invocation) {
    let r = flat_id(inv);
    if (r >= p.chunk * p.c) { return; }
    let pixels = p.oh * p.ow;
    let src = (p.n0 * p.c + r) * pixels;
    let at = r * p.row / 4u;
    for (var q4 = 0u; q4 < p.row / 4u; q4++) {
        col4[at + q4] = padded4(src, 4u * q4, pixels);
    }
}

// pad_rows for GPUs: one invocation per vec4 of the padded rows.
@compute @workgroup_size(256)
fn pad_rows_wide(inv: Invocation) {
    let id = flat_id(inv);
    let quads = p.row / 4u;
    if (id >= p.chunk * p.c * quads) { return; }
    let pixels = p.oh * p.ow;
    let src = (p.n0 * p.c + id / quads) * pixels;
    col4[id] = padded4(src, 4u * (id % quads), pixels);
}

// The weights of one phase of an adjoint run as an implicit GEMM (gemm_conv.wgsl): the image
// pixels (iy, ix) ≡ (py, px) mod stride are reached only by the taps i ≡ iy + pad and j ≡ ix + pad
// (mod stride), i = i0 + a·stride (a < ka) and j = j0 + b·stride (b < kb). For those the product
// reads wp[ci, (co, a, b)] = w[co, ci, i, j], with w [k, c, kh, kw] in `img` and wp in `img_out`.
@compute @workgroup_size(256)
fn phase_weights(inv: Invocation) {
    let e = flat_id(inv);
    let taps = p.k * p.ka * p.kb;
    if (e >= p.c * taps) { return; }
    let ci = e / taps;
    let t = e % taps;
    let co = t / (p.ka * p.kb);
    let i = p.i0 + (t / p.kb) % p.ka * p.stride;
    let j = p.j0 + t % p.kb * p.stride;
    img_out[e] = img[((co * p.c + ci) * p.kh + i) * p.kw + j];
}
