use crate::ops::gather::{Gather, GatherKind};

/// out[b, j] = data[order[start + b], j], bytes mapped by `s.byte_map()` or floats as they are;
/// `data` holds the packed words.
pub fn gather(s: &Gather, data: &[f32], order: &[u32], out: &mut [f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_bits().to_le_bytes()).collect();
    let (scale, bias) = s.byte_map();
    for b in 0..s.batch {
        let item = order[s.start + b] as usize * s.dim;
        for j in 0..s.dim {
            out[b * s.dim + j] = match s.kind {
                GatherKind::Floats => data[item + j],
                _ => bytes[item + j] as f32 * scale + bias,
            };
        }
    }
}
