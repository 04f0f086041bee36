// conv2d, NCHW, PyTorch's nn.Conv2d layout (no dilation, no groups).
// x [n, c, h, w], wt [k, c, kh, kw], b [k], y [n, k, oh, ow]
// oh = (h + 2·pad − kh) / stride + 1, and likewise ow.
// The bias gradient is reduce.wgsl's sum_channels over dy.

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.n * p.k * p.oh * p.ow) { return; }
    let ox = idx % p.ow;
    let oy = (idx / p.ow) % p.oh;
    let ko = (idx / (p.ow * p.oh)) % p.k;
    let ni = idx / (p.ow * p.oh * p.k);
    var acc = select(0.0, b[ko], p.has_bias != 0u);
    for (var c = 0u; c < p.c; c++) {
        let xbase = (ni * p.c + c) * p.h;
        let wbase = (ko * p.c + c) * p.kh;
        for (var i = 0u; i < p.kh; i++) {
            let iy = tap(oy, i, p.h);
            if (iy < 0) { continue; }
            for (var j = 0u; j < p.kw; j++) {
                let ix = tap(ox, j, p.w);
                if (ix < 0) { continue; }
                acc += x[(xbase + u32(iy)) * p.w + u32(ix)] * wt[(wbase + i) * p.kw + j];
            }
        }
    }
    y[idx] = acc;
}

// dx[n,c,iy,ix] = Σ dy[n,k,oy,ox] · wt[k,c,i,j] over iy = oy·stride + i − pad   (overwrites dx)
@compute @workgroup_size(256)
fn backward_input(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.n * p.c * p.h * p.w) { return; }
    let ix = idx % p.w;
    let iy = (idx / p.w) % p.h;
    let c = (idx / (p.w * p.h)) % p.c;
    let ni = idx / (p.w * p.h * p.c);
    var acc = 0.0;
    for (var ko = 0u; ko < p.k; ko++) {
        let ybase = (ni * p.k + ko) * p.oh;
        let wbase = (ko * p.c + c) * p.kh;
        for (var i = 0u; i < p.kh; i++) {
            let oy = tapped_by(iy, i, p.oh);
            if (oy < 0) { continue; }
            for (var j = 0u; j < p.kw; j++) {
                let ox = tapped_by(ix, j, p.ow);
                if (ox < 0) { continue; }
                acc += dy[(ybase + u32(oy)) * p.ow + u32(ox)] * wt[(wbase + i) * p.kw + j];
            }
        }
    }
    dx[idx] = acc;
}

// dw[k,c,i,j] += Σ_{n,oy,ox} dy[n,k,oy,ox] · x[n,c,oy·stride+i−pad, ox·stride+j−pad]
@compute @workgroup_size(256)
fn backward_weight(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.k * p.c * p.kh * p.kw) { return; }
    let j = idx % p.kw;
    let i = (idx / p.kw) % p.kh;
    let c = (idx / (p.kw * p.kh)) % p.c;
    let ko = idx / (p.kw * p.kh * p.c);
    var acc = 0.0;
    for (var ni = 0u; ni < p.n; ni++) {
        let ybase = (ni * p.k + ko) * p.oh;
        let xbase = (ni * p.c + c) * p.h;
        for (var oy = 0u; oy < p.oh; oy++) {
            let iy = tap(oy, i, p.h);
            if (iy < 0) { continue; }
            for (var ox = 0u; ox < p.ow; ox++) {
                let ix = tap(ox, j, p.w);
                if (ix < 0) { continue; }
                acc += dy[(ybase + oy) * p.ow + ox] * x[(xbase + u32(iy)) * p.w + u32(ix)];
            }
        }
    }
    dw[idx] += acc;
}

// Narrow convolutions: few output channels (the Keras generator's last 7×7 conv to one channel).
// As a matrix product they waste the GEMM tile's rows and materialise im2col columns that are
// 49·c long per pixel, so these read the image directly. Each invocation owns 4 neighbouring
// pixels of a row (ow4 = ⌈ow/4⌉ quads per row); the kernel size and stride are pipeline
// constants so the tap loops unroll.
override KH: u32 = 1u;
override KW: u32 = 1u;
override STRIDE: u32 = 1u;
// The input columns 4 neighbouring outputs read along a row.
override SPAN: u32 = 3u * STRIDE + KW;

// x[row + ix], 0 where ix falls into the padding.
fn x_tap(row: u32, ix: i32) -> f32 {
    return select(0.0, x[row + u32(clamp(ix, 0, i32(p.w) - 1))], ix >= 0 && ix < i32(p.w));
}

// dy[row + ox], 0 outside the output row.
fn dy_tap(row: u32, ox: i32) -> f32 {
    return select(0.0, dy[row + u32(clamp(ox, 0, i32(p.ow) - 1))], ox >= 0 && ox < i32(p.ow));
}

// x_tap for 4 columns.
fn taps4(row: u32, ix: vec4<i32>) -> vec4<f32> {
    return vec4(x_tap(row, ix.x), x_tap(row, ix.y), x_tap(row, ix.z), x_tap(row, ix.w));
}

// y[n, k, oy, 4q..4q+3] over items n·k·oh·ow4   (overwrites y)
@compute @workgroup_size(256)
fn forward_narrow(inv: Invocation) {
    let idx = flat_id(inv);
    let ow4 = (p.ow + 3u) / 4u;
    if (idx >= p.n * p.k * p.oh * ow4) { return; }
    let ox0 = (idx % ow4) * 4u;
    let oy = (idx / ow4) % p.oh;
    let ko = (idx / (ow4 * p.oh)) % p.k;
    let ni = idx / (ow4 * p.oh * p.k);
    let lanes = vec4<i32>(i32(ox0 * STRIDE) - i32(p.pad)) + vec4<i32>(0, 1, 2, 3) * i32(STRIDE);
    var acc = vec4(select(0.0, b[ko], p.has_bias != 0u));
    for (var c = 0u; c < p.c; c++) {
        let wbase = (ko * p.c + c) * KH * KW;
        for (var i = 0u; i < KH; i++) {
            let iy = i32(oy * STRIDE + i) - i32(p.pad);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            let row = ((ni * p.c + c) * p.h + u32(iy)) * p.w;
            if (SPAN <= 16u) {
                // The 4 pixels' taps along the row overlap: load the span once, then take
                // each tap's 4 values from it (the loops have constant bounds and unroll).
                var win: array<f32, 16>;
                for (var u = 0u; u < SPAN; u++) {
                    win[u] = x_tap(row, lanes.x + i32(u));
                }
                for (var j = 0u; j < KW; j++) {
                    let v = vec4(win[j], win[j + STRIDE], win[j + 2u * STRIDE], win[j + 3u * STRIDE]);
                    acc += v * wt[wbase + i * KW + j];
                }
            } else {
                for (var j = 0u; j < KW; j++) {
                    acc += taps4(row, lanes + vec4(i32(j))) * wt[wbase + i * KW + j];
                }
            }
        }
    }
    let out = ((ni * p.k + ko) * p.oh + oy) * p.ow + ox0;
    for (var t = 0u; t < 4u; t++) {
        if (ox0 + t < p.ow) { y[out + t] = acc[t]; }
    }
}

// dx[n, c, iy, 4q..4q+3] over items n·c·h·⌈w/4⌉   (overwrites dx)
@compute @workgroup_size(256)
fn backward_input_narrow(inv: Invocation) {
    let idx = flat_id(inv);
    let w4 = (p.w + 3u) / 4u;
    if (idx >= p.n * p.c * p.h * w4) { return; }
    let ix0 = (idx % w4) * 4u;
    let iy = (idx / w4) % p.h;
    let c = (idx / (w4 * p.h)) % p.c;
    let ni = idx / (w4 * p.h * p.c);
    let s = i32(STRIDE);
    var acc = vec4(0.0);
    for (var ko = 0u; ko < p.k; ko++) {
        let wbase = (ko * p.c + c) * KH * KW;
        for (var i = 0u; i < KH; i++) {
            let ty = i32(iy + p.pad) - i32(i);
            if (ty < 0 || ty % s != 0 || ty / s >= i32(p.oh)) { continue; }
            let row = ((ni * p.k + ko) * p.oh + u32(ty / s)) * p.ow;
            if (STRIDE == 1u && SPAN <= 16u) {
                // As in forward_narrow: the row's span of dy once, the taps from it; tap j of
                // pixel t reads dy column ix0 + t + pad − j, window index t + KW − 1 − j.
                let first = i32(ix0 + p.pad) - i32(KW - 1u);
                var win: array<f32, 16>;
                for (var u = 0u; u < SPAN; u++) {
                    win[u] = dy_tap(row, first + i32(u));
                }
                for (var j = 0u; j < KW; j++) {
                    let u = KW - 1u - j;
                    acc += vec4(win[u], win[u + 1u], win[u + 2u], win[u + 3u]) * wt[wbase + i * KW + j];
                }
                continue;
            }
            for (var j = 0u; j < KW; j++) {
                let tx = vec4<i32>(i32(ix0 + p.pad) - i32(j)) + vec4<i32>(0, 1, 2, 3);
                let ox = tx / s;
                let v = vec4(dy_tap(row, ox.x), dy_tap(row, ox.y), dy_tap(row, ox.z), dy_tap(row, ox.w));
                acc += select(vec4(0.0), v, (tx >= vec4(0)) & (tx % s == vec4(0))) * wt[wbase + i * KW + j];
            }
        }
    }
    let out = ((ni * p.c + c) * p.h + iy) * p.w + ix0;
    for (var t = 0u; t < 4u; t++) {
        if (ix0 + t < p.w) { dx[out + t] = acc[t]; }
    }
}

// dw[k, c, i, j] += Σ over n, oy and quads of ox: one invocation per kernel row (k, c, i) and all
// its KW taps from one span of the input row where that span fits 16 floats (SPAN ≤ 16, as in
// forward_narrow), else one invocation per weight.
@compute @workgroup_size(256)
fn backward_weight_narrow(inv: Invocation) {
    let idx = flat_id(inv);
    let by_row = SPAN <= 16u;
    let taps = select(KW, 1u, by_row);
    if (idx >= p.k * p.c * KH * taps) { return; }
    let j0 = idx % taps;
    let i = (idx / taps) % KH;
    let c = (idx / (taps * KH)) % p.c;
    let ko = idx / (taps * KH * p.c);
    let ow4 = (p.ow + 3u) / 4u;
    var acc = vec4(0.0);
    var accs: array<f32, 16>;
    for (var ni = 0u; ni < p.n; ni++) {
        for (var oy = 0u; oy < p.oh; oy++) {
            let iy = i32(oy * STRIDE + i) - i32(p.pad);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            let row = ((ni * p.c + c) * p.h + u32(iy)) * p.w;
            let drow = ((ni * p.k + ko) * p.oh + oy) * p.ow;
            for (var q = 0u; q < ow4; q++) {
                let ox = vec4<i32>(i32(q * 4u)) + vec4<i32>(0, 1, 2, 3);
                let at = vec4<u32>(min(ox, vec4(i32(p.ow) - 1)));
                let dv = vec4(dy[drow + at.x], dy[drow + at.y], dy[drow + at.z], dy[drow + at.w]);
                let d = select(vec4(0.0), dv, ox < vec4(i32(p.ow)));
                if (by_row) {
                    let first = i32(q * 4u * STRIDE) - i32(p.pad);
                    var win: array<f32, 16>;
                    for (var u = 0u; u < SPAN; u++) {
                        win[u] = x_tap(row, first + i32(u));
                    }
                    for (var j = 0u; j < KW; j++) {
                        accs[j] += dot(d, vec4(win[j], win[j + STRIDE], win[j + 2u * STRIDE], win[j + 3u * STRIDE]));
                    }
                } else {
                    let ix = ox * i32(STRIDE) + vec4(i32(j0) - i32(p.pad));
                    acc += d * taps4(row, ix);
                }
            }
        }
    }
    if (by_row) {
        let base = ((ko * p.c + c) * KH + i) * KW;
        for (var j = 0u; j < KW; j++) {
            dw[base + j] += accs[j];
        }
    } else {
        dw[idx] += acc.x + acc.y + acc.z + acc.w;
    }
}
