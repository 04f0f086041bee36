use crate::ops::gather::{Gather, GatherKind};

/// out[b, j] = data[order[start + b], j], bytes mapped by `s.byte_map()` or floats as they are;
/// `data` holds the packed words.
pub fn gather(s: &Gather, data: &[f32], order: &[u32], out: &mut [f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_bits().to_le_bytes()).collect();
    let (scale, bias) = s.byte_map();
    for b in 0..s.batch {
        let item = order[s.start + b] as usize * s.dim;
        for j in 0..s.dim {
            let source = match s.shift {
                None => Some(j),
                Some(sh) => {
                    let (dy, dx) = sh.offset(s.start + b);
                    let plane = sh.height * sh.width;
                    let y = ((j % plane) / sh.width) as i64 - dy;
                    let x = (j % sh.width) as i64 - dx;
                    let inside = y >= 0 && x >= 0 && y < sh.height as i64 && x < sh.width as i64;
                    inside.then(|| j / plane * plane + y as usize * sh.width + x as usize)
                }
            };
            out[b * s.dim + j] = match (s.kind, source) {
                (GatherKind::Floats, Some(k)) => data[item + k],
                (_, Some(k)) => bytes[item + k] as f32 * scale + bias,
                (_, None) => bias,
            };
        }
    }
}
