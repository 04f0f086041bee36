// gather: builds a batch on the GPU from a resident u8 data set, so images never cross the bus
// during training. The data set is packed four bytes to a u32 (little-endian), which keeps all
// 60000 MNIST images at 47 MB, under the 128 MiB storage-binding limit.
// images: out[b, j] = data[order[start + b], j] / 127.5 − 1   (pixels 0..255 → [−1, 1])
// data [count · dim bytes], order [count] (u32), out [batch, dim]

struct Params {
    batch: u32,
    dim: u32,
    start: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn images(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_id(wg, nwg, lid);
    if (i >= p.batch * p.dim) { return; }
    let b = i / p.dim;
    let j = i % p.dim;
    let byte_index = order[p.start + b] * p.dim + j;
    let byte = (data[byte_index / 4u] >> (8u * (byte_index % 4u))) & 0xFFu;
    out[i] = f32(byte) / 127.5 - 1.0;
}
