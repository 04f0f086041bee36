// augment: DiffAugment's colour, translation and cutout (Zhao et al. 2020), the same random
// transform of each sample in forward and backward, so D sees augmented reals and fakes and G's
// gradient flows back through the transform.
// draw:        draws[s] = (ty, tx, box top, box left, brightness, saturation, contrast, 0), each
//              transform applied with probability x[0] (ADA's p; the identity's values otherwise)
// adjust:      ADA's controller: y[0] += sign(mean(sign(x)) − target) · step, clamped to [0, 1],
//              for x D's logits on a real batch
// color:       y = k·sat·(x − m_c) + k·(m_c − m) + m + b   (m_c over channels, m = sums[s] / len)
// color_linear: the same without b (its transpose: the backward)
// forward:  y[s, c, i, j] = keep(s, i, j) · x[s, c, i + ty, j + tx]   (0 outside x)
// backward: dx[s, c, i, j] = keep(s, i − ty, j − tx) · dy[s, c, i − ty, j − tx]   (0 outside)
// Per sample s: (ty, tx) uniform in [−shift, shift] from draw 2s, the cutout box's centre from
// draw 2s + 1 (keep is 0 inside the box, clipped at the borders), the colour factors from
// counters (s, 1) and (s, 2). One small pass draws them; every element then reads its sample's.
// x, y, dy, dx [n, c, h, w]; draws [n, 8]; sums [n].

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> sums: array<f32>;
@group(0) @binding(4) var<storage, read> draws: array<f32>;

// Sample s's (ty, tx, box top, box left).
fn transform(s: u32) -> vec4<i32> {
    return vec4<i32>(i32(draws[8u * s]), i32(draws[8u * s + 1u]), i32(draws[8u * s + 2u]), i32(draws[8u * s + 3u]));
}

// Whether output pixel (i, j) of a sample with transform `t` is outside its cutout box.
fn kept(t: vec4<i32>, i: i32, j: i32) -> bool {
    let inside = i >= t.z && i < t.z + i32(p.cut_h) && j >= t.w && j < t.w + i32(p.cut_w);
    return !inside;
}

fn on_image(i: i32, j: i32) -> bool {
    return i >= 0 && i < i32(p.h) && j >= 0 && j < i32(p.w);
}

// Translation and cutout: y[o] reads x `sign` · (ty, tx) away, kept where the forward's output
// pixel (o itself for the forward, the pixel read for the backward) is outside the box.
fn shifted(o: u32, sign: i32) {
    if (o >= p.n * p.c * p.h * p.w) { return; }
    let plane = o / (p.h * p.w);
    let i = i32((o / p.w) % p.h);
    let j = i32(o % p.w);
    let t = transform(plane / p.c);
    let si = i + sign * t.x;
    let sj = j + sign * t.y;
    let forward = sign > 0;
    let read = on_image(si, sj) && kept(t, select(si, i, forward), select(sj, j, forward));
    y[o] = select(0.0, x[plane * p.h * p.w + u32(select(0, si * i32(p.w) + sj, read))], read);
}

@compute @workgroup_size(256)
fn forward(inv: Invocation) {
    shifted(flat_id(inv), 1);
}

// Bindings: 1 = dy, 2 = dx.
@compute @workgroup_size(256)
fn backward(inv: Invocation) {
    shifted(flat_id(inv), -1);
}

// DiffAugment's brightness, saturation and contrast as one affine map per sample; `shift` 0
// leaves out the brightness (the linear part: the backward).
fn color_at(o: u32, shift: f32) {
    if (o >= p.n * p.c * p.h * p.w) { return; }
    let plane = p.h * p.w;
    let s = o / (p.c * plane);
    let pixel = o % plane;
    let b = draws[8u * s + 4u];
    let sat = draws[8u * s + 5u];
    let k = draws[8u * s + 6u];
    var acc = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        acc += x[(s * p.c + ch) * plane + pixel];
    }
    let m_c = acc / f32(p.c);
    let m = sums[s] / f32(p.c * plane);
    y[o] = k * sat * (x[o] - m_c) + k * (m_c - m) + m + shift * b;
}

@compute @workgroup_size(256)
fn color(inv: Invocation) {
    color_at(flat_id(inv), 1.0);
}

@compute @workgroup_size(256)
fn color_linear(inv: Invocation) {
    color_at(flat_id(inv), 0.0);
}

// One invocation per sample: its transforms into y (the draws tensor). A transform left out
// (with probability 1 − x[0]) gets the identity's values: no shift, a box above the image,
// brightness 0, saturation and contrast 1.
@compute @workgroup_size(256)
fn draw(inv: Invocation) {
    let s = flat_id(inv);
    if (s >= p.n) { return; }
    let key = vec2<u32>(p.seed_lo, p.seed_hi);
    let t = threefry2x32(key, counter_at(0u, 0u, 2u * s));
    let c = threefry2x32(key, counter_at(0u, 0u, 2u * s + 1u));
    let r = threefry2x32(key, vec2<u32>(s, 1u));
    let q = threefry2x32(key, vec2<u32>(s, 2u));
    let g = threefry2x32(key, vec2<u32>(s, 3u));
    let k = threefry2x32(key, vec2<u32>(s, 4u));
    let shift = unit_float(g.x) < x[0];
    let cut = unit_float(g.y) < x[0];
    let color = unit_float(k.x) < x[0];
    y[8u * s] = select(0.0, f32(i32(t.x % (2u * p.shift_h + 1u)) - i32(p.shift_h)), shift);
    y[8u * s + 1u] = select(0.0, f32(i32(t.y % (2u * p.shift_w + 1u)) - i32(p.shift_w)), shift);
    y[8u * s + 2u] = select(-f32(p.cut_h + 1u), f32(i32(c.x % (p.h + 1u - p.cut_h % 2u)) - i32(p.cut_h / 2u)), cut);
    y[8u * s + 3u] = select(-f32(p.cut_w + 1u), f32(i32(c.y % (p.w + 1u - p.cut_w % 2u)) - i32(p.cut_w / 2u)), cut);
    y[8u * s + 4u] = select(0.0, unit_float(r.x) - 0.5, color);
    y[8u * s + 5u] = select(1.0, 2.0 * unit_float(r.y), color);
    y[8u * s + 6u] = select(1.0, unit_float(q.x) + 0.5, color);
    y[8u * s + 7u] = 0.0;
}

// One invocation: the real batch's n logits x move ADA's p in y[0].
@compute @workgroup_size(256)
fn adjust(inv: Invocation) {
    if (flat_id(inv) != 0u) { return; }
    var real = 0.0;
    for (var i = 0u; i < p.n; i++) {
        real += sign(x[i]);
    }
    y[0] = clamp(y[0] + sign(real / f32(p.n) - p.ada_target) * p.ada_step, 0.0, 1.0);
}
