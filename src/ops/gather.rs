//! gather: a batch from a data set resident on the device, in a given order: u8 images scaled
//! to [−1, 1], u8 labels as numbers, or f32 table rows.
//! data: bytes packed 4 to a word ([`pack_bytes`]) or floats; order: u32 indices.

use super::{GpuTensors, Pass, all, all_mut, expect, run, u};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatherKind {
    /// u8 pixels 0..255 → [−1, 1] (for a tanh generator).
    Pixels,
    /// u8 pixels 0..255 → [0, 1] (for a sigmoid generator).
    UnitPixels,
    /// u8 values as numbers (class labels).
    Bytes,
    /// f32 values as they are (standardised table rows).
    Floats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gather {
    /// Items in the batch.
    pub batch: usize,
    /// Values per item.
    pub dim: usize,
    /// First position in `order` to take.
    pub start: usize,
    pub kind: GatherKind,
    /// Random translation of byte images, for augmentation; None for plain gathering.
    pub shift: Option<Shift>,
}

/// Each image of a batch moves by its own offset in [−max, max]² (pixels), exposed pixels black;
/// offsets are drawn from (seed, position in the order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    pub max: usize,
    pub height: usize,
    pub width: usize,
    pub seed: u64,
}

impl Shift {
    /// (dy, dx) of the image at `position`, as gather.wgsl draws it.
    pub fn offset(&self, position: usize) -> (i64, i64) {
        let key = [self.seed as u32, (self.seed >> 32) as u32];
        let [a, b] = crate::ops::random::reference::threefry2x32(key, [position as u32, 0]);
        let span = 2 * self.max as u32 + 1;
        ((a % span) as i64 - self.max as i64, (b % span) as i64 - self.max as i64)
    }
}

impl Gather {
    pub fn check(&self, data_words: usize, order: usize, out: usize) -> Result<()> {
        if self.start + self.batch > order {
            return Err(Error::shape(
                "gather",
                format!("positions {}..{} exceed the order's {order} entries", self.start, self.start + self.batch),
            ));
        }
        let per_word = if self.kind == GatherKind::Floats { 1 } else { 4 };
        if data_words * per_word < order * self.dim {
            return Err(Error::shape(
                "gather",
                format!("data of {} values is smaller than {order} items of {}", data_words * per_word, self.dim),
            ));
        }
        if let Some(s) = self.shift
            && (self.kind == GatherKind::Floats
                || s.height * s.width == 0
                || !self.dim.is_multiple_of(s.height * s.width))
        {
            return Err(Error::shape("gather", format!("a shift needs byte images of {}x{}", s.height, s.width)));
        }
        expect("gather", "out", out, &[self.batch, self.dim])
    }

    /// (scale, bias) applied to each byte.
    pub fn byte_map(&self) -> (f32, f32) {
        match self.kind {
            GatherKind::Pixels => (1.0 / 127.5, -1.0),
            GatherKind::UnitPixels => (1.0 / 255.0, 0.0),
            _ => (1.0, 0.0),
        }
    }
}

/// Bytes as f32-typed words (bit patterns, never used as numbers) so they fit a tensor.
pub fn pack_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            f32::from_bits(u32::from_le_bytes(w))
        })
        .collect()
}

/// Indices as f32-typed words for the `order` tensor.
pub fn pack_indices(idx: &[u32]) -> Vec<f32> {
    idx.iter().map(|&i| f32::from_bits(i)).collect()
}

params! {
    pub struct GatherParams {
        batch: u32, dim: u32, start: u32, scale: f32, bias: f32, shift: u32, height: u32, width: u32, seed_lo: u32, seed_hi: u32,
    }
}

/// A batch from a resident data set: images or labels packed with [`pack_bytes`], or table rows.
pub fn gather<B: Backend>(b: &mut B, s: &Gather, data: &B::T, order: &B::T, out: &B::T) -> Result<()> {
    run(b, s, &[data, order], &[out])
}

/// Reads data, order; writes out.
impl Pass for Gather {
    fn check(&self, reads: &[Option<usize>], writes: &[Option<usize>]) -> Result<()> {
        let ([data, order], [out]) = (all(reads), all(writes));
        self.check(data, order, out)
    }
    fn reference(&self, reads: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let ([data, order], [out]) = (all(reads), all_mut(writes));
        let order: Vec<u32> = order.iter().map(|w| w.to_bits()).collect();
        reference::gather(self, data, &order, out);
    }
    fn record(&self, g: &mut GpuBackend, reads: GpuTensors, writes: GpuTensors) -> Result<()> {
        let ([data, order], [out]) = (all(reads), all(writes));
        let (scale, bias) = self.byte_map();
        let sh = self.shift.unwrap_or(Shift { max: 0, height: 0, width: 0, seed: 0 });
        let [seed_lo, seed_hi] = super::split(sh.seed);
        let params = GatherParams {
            batch: u(self.batch),
            dim: u(self.dim),
            start: u(self.start),
            scale,
            bias,
            shift: u(sh.max),
            height: u(sh.height),
            width: u(sh.width),
            seed_lo,
            seed_hi,
        };
        let entry = if self.kind == GatherKind::Floats { "floats" } else { "bytes" };
        g.dispatch_items("gather", entry, &params, &[(1, data), (2, order), (3, out)], out.len)
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
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
}
