// augment: DiffAugment's translation and cutout (Zhao et al. 2020), the same random transform
// of each sample in forward and backward, so D sees augmented reals and fakes and G's gradient
// flows back through the transform.
// forward:  y[s, c, i, j] = keep(s, i, j) · x[s, c, i + ty, j + tx]   (0 outside x)
// backward: dx[s, c, i, j] = keep(s, i − ty, j − tx) · dy[s, c, i − ty, j − tx]   (0 outside)
// Per sample s: (ty, tx) uniform in [−shift, shift] from draw 2s, the cutout box's centre from
// draw 2s + 1 (keep is 0 inside the box, clipped at the borders). x, y, dy, dx [n, c, h, w].

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Sample s's (ty, tx, box top, box left).
fn transform(s: u32) -> vec4<i32> {
    let key = vec2<u32>(p.seed_lo, p.seed_hi);
    let t = threefry2x32(key, counter_at(0u, 0u, 2u * s));
    let c = threefry2x32(key, counter_at(0u, 0u, 2u * s + 1u));
    let ty = i32(t.x % (2u * p.shift_h + 1u)) - i32(p.shift_h);
    let tx = i32(t.y % (2u * p.shift_w + 1u)) - i32(p.shift_w);
    let top = i32(c.x % (p.h + 1u - p.cut_h % 2u)) - i32(p.cut_h / 2u);
    let left = i32(c.y % (p.w + 1u - p.cut_w % 2u)) - i32(p.cut_w / 2u);
    return vec4<i32>(ty, tx, top, left);
}

// Whether output pixel (i, j) of a sample with transform `t` is outside its cutout box.
fn kept(t: vec4<i32>, i: i32, j: i32) -> bool {
    let inside = i >= t.z && i < t.z + i32(p.cut_h) && j >= t.w && j < t.w + i32(p.cut_w);
    return !inside;
}

fn on_image(i: i32, j: i32) -> bool {
    return i >= 0 && i < i32(p.h) && j >= 0 && j < i32(p.w);
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    let o = flat_id(inv);
    if (o >= p.n * p.c * p.h * p.w) { return; }
    let plane = o / (p.h * p.w);
    let i = i32((o / p.w) % p.h);
    let j = i32(o % p.w);
    let t = transform(plane / p.c);
    let si = i + t.x;
    let sj = j + t.y;
    let read = on_image(si, sj) && kept(t, i, j);
    y[o] = select(0.0, x[plane * p.h * p.w + u32(select(0, si * i32(p.w) + sj, read))], read);
}

@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    let o = flat_id(inv);
    if (o >= p.n * p.c * p.h * p.w) { return; }
    let plane = o / (p.h * p.w);
    let i = i32((o / p.w) % p.h);
    let j = i32(o % p.w);
    let t = transform(plane / p.c);
    // The output pixel that read this one.
    let oi = i - t.x;
    let oj = j - t.y;
    let read = on_image(oi, oj) && kept(t, oi, oj);
    y[o] = select(0.0, x[plane * p.h * p.w + u32(select(0, oi * i32(p.w) + oj, read))], read);
}

@group(0) @binding(3) var<storage, read> sums: array<f32>;

// Sample s's (brightness shift, saturation, contrast): U(−½, ½), U(0, 2), U(½, 3/2).
fn color_factors(s: u32) -> vec3<f32> {
    let key = vec2<u32>(p.seed_lo, p.seed_hi);
    let r = threefry2x32(key, vec2<u32>(s, 1u));
    let q = threefry2x32(key, vec2<u32>(s, 2u));
    return vec3<f32>(unit_float(r.x) - 0.5, 2.0 * unit_float(r.y), unit_float(q.x) + 0.5);
}

// DiffAugment's brightness, saturation and contrast as one affine map per sample:
// y = k·s·(x − m_c) + k·(m_c − m) + m + b, m_c the pixel's mean over channels, m the sample's
// (sums[s] / (c·h·w)); `shift` 0 leaves out b (the linear part: the backward).
fn color_at(o: u32, shift: f32) {
    if (o >= p.n * p.c * p.h * p.w) { return; }
    let plane = p.h * p.w;
    let s = o / (p.c * plane);
    let pixel = o % plane;
    let f = color_factors(s);
    var acc = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        acc += x[(s * p.c + ch) * plane + pixel];
    }
    let m_c = acc / f32(p.c);
    let m = sums[s] / f32(p.c * plane);
    y[o] = f.z * f.y * (x[o] - m_c) + f.z * (m_c - m) + m + shift * f.x;
}

@compute @workgroup_size(256)
fn color(inv: Invocation) {
    color_at(flat_id(inv), 1.0);
}

@compute @workgroup_size(256)
fn color_linear(inv: Invocation) {
    color_at(flat_id(inv), 0.0);
}
