use crate::ops::gather::Gather;

/// out[b, j] = data[order[start + b], j] / 127.5 − 1, on unpacked bytes.
pub fn gather_images(s: &Gather, data: &[u8], order: &[u32], out: &mut [f32]) {
    for b in 0..s.batch {
        let img = order[s.start + b] as usize * s.dim;
        for j in 0..s.dim {
            out[b * s.dim + j] = data[img + j] as f32 / 127.5 - 1.0;
        }
    }
}
