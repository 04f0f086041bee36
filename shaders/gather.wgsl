// gather: builds a batch on the GPU from a resident data set, so training data never crosses the
// bus. Bytes are packed four to a u32 (little-endian), which keeps all 60000 MNIST images at
// 47 MB, under the 128 MiB storage-binding limit.
// bytes:  out[b, j] = data[order[start + b], j] · scale + bias   (pixels 0..255 → [−1, 1], or
//         labels as numbers with scale 1, bias 0)
//         With shift > 0 each image [h, w] moves by its own (dy, dx) in [−shift, shift]², drawn
//         from (seed, start + b), exposed pixels black: augmentation for the classifier.
// floats: out[b, j] = data[order[start + b], j]                  (table rows, f32 bit patterns)
// data [count · dim bytes or floats], order [count] (u32), out [batch, dim]

@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn bytes(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.batch * p.dim) { return; }
    let b = i / p.dim;
    var j = i % p.dim;
    if (p.shift > 0u) {
        let r = threefry2x32(vec2<u32>(p.seed_lo, p.seed_hi), vec2<u32>(p.start + b, 0u));
        let span = 2u * p.shift + 1u;
        let plane = p.height * p.width;
        let y = i32((j % plane) / p.width) - i32(r.x % span) + i32(p.shift);
        let x = i32(j % p.width) - i32(r.y % span) + i32(p.shift);
        if (y < 0 || x < 0 || y >= i32(p.height) || x >= i32(p.width)) {
            out[i] = p.bias;
            return;
        }
        j = j / plane * plane + u32(y) * p.width + u32(x);
    }
    let byte_index = order[p.start + b] * p.dim + j;
    let byte = (data[byte_index / 4u] >> (8u * (byte_index % 4u))) & 0xFFu;
    out[i] = f32(byte) * p.scale + p.bias;
}

@compute @workgroup_size(256)
fn floats(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.batch * p.dim) { return; }
    out[i] = bitcast<f32>(data[order[p.start + i / p.dim] * p.dim + i % p.dim]);
}
