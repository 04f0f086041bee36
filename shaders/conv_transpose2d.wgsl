// conv_transpose2d, NCHW, PyTorch's nn.ConvTranspose2d layout (no dilation, no groups).
// x [n, c, h, w], wt [c, k, kh, kw], b [k], y [n, k, oh, ow]
// oh = (h − 1)·stride − 2·pad + kh + output_padding, and likewise ow.
// Input pixel (iy, ix) scatters into output (iy·stride + i − pad, ix·stride + j − pad); every
// kernel below gathers instead, so each output is written by one invocation (deterministic).
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
        let wbase = (c * p.k + ko) * p.kh;
        for (var i = 0u; i < p.kh; i++) {
            let iy = tapped_by(oy, i, p.h);
            if (iy < 0) { continue; }
            for (var j = 0u; j < p.kw; j++) {
                let ix = tapped_by(ox, j, p.w);
                if (ix < 0) { continue; }
                acc += x[(xbase + u32(iy)) * p.w + u32(ix)] * wt[(wbase + i) * p.kw + j];
            }
        }
    }
    y[idx] = acc;
}

// dx[n,c,iy,ix] = Σ dy[n,k,iy·stride+i−pad, ix·stride+j−pad] · wt[c,k,i,j]   (overwrites dx)
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
        let wbase = (c * p.k + ko) * p.kh;
        for (var i = 0u; i < p.kh; i++) {
            let oy = tap(iy, i, p.oh);
            if (oy < 0) { continue; }
            for (var j = 0u; j < p.kw; j++) {
                let ox = tap(ix, j, p.ow);
                if (ox < 0) { continue; }
                acc += dy[(ybase + u32(oy)) * p.ow + u32(ox)] * wt[(wbase + i) * p.kw + j];
            }
        }
    }
    dx[idx] = acc;
}

// dw[c,k,i,j] += Σ_{n,iy,ix} x[n,c,iy,ix] · dy[n,k,iy·stride+i−pad, ix·stride+j−pad]
@compute @workgroup_size(256)
fn backward_weight(inv: Invocation) {
    let idx = flat_id(inv);
    if (idx >= p.c * p.k * p.kh * p.kw) { return; }
    let j = idx % p.kw;
    let i = (idx / p.kw) % p.kh;
    let ko = (idx / (p.kw * p.kh)) % p.k;
    let c = idx / (p.kw * p.kh * p.k);
    var acc = 0.0;
    for (var ni = 0u; ni < p.n; ni++) {
        let ybase = (ni * p.k + ko) * p.oh;
        let xbase = (ni * p.c + c) * p.h;
        for (var iy = 0u; iy < p.h; iy++) {
            let oy = tap(iy, i, p.oh);
            if (oy < 0) { continue; }
            for (var ix = 0u; ix < p.w; ix++) {
                let ox = tap(ix, j, p.ow);
                if (ox < 0) { continue; }
                acc += x[(xbase + iy) * p.w + ix] * dy[(ybase + u32(oy)) * p.ow + u32(ox)];
            }
        }
    }
    dw[idx] += acc;
}
