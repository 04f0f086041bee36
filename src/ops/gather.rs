//! gather: a batch from a data set resident on the device, in a given order: u8 images scaled
//! to [−1, 1], u8 labels as numbers, or f32 table rows.
//! data: bytes packed 4 to a word ([`pack_bytes`]) or floats; order: u32 indices.

use super::{expect, f, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

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
        let [a, b] = crate::reference::random::threefry2x32(key, [position as u32, 0]);
        let span = 2 * self.max as u32 + 1;
        ((a % span) as i64 - self.max as i64, (b % span) as i64 - self.max as i64)
    }
}

impl Gather {
    pub fn check(&self, data_words: usize, order: usize, out: usize) -> Result<()> {
        if self.start + self.batch > order {
            return Err(Error::shape(
                "gather",
                format!(
                    "positions {}..{} exceed the order's {order} entries",
                    self.start,
                    self.start + self.batch
                ),
            ));
        }
        let per_word = if self.kind == GatherKind::Floats { 1 } else { 4 };
        if data_words * per_word < order * self.dim {
            return Err(Error::shape(
                "gather",
                format!(
                    "data of {} values is smaller than {order} items of {}",
                    data_words * per_word,
                    self.dim
                ),
            ));
        }
        if let Some(s) = self.shift
            && (self.kind == GatherKind::Floats
                || s.height * s.width == 0
                || !self.dim.is_multiple_of(s.height * s.width))
        {
            return Err(Error::shape(
                "gather",
                format!("a shift needs byte images of {}x{}", s.height, s.width),
            ));
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

pub(crate) fn gather(
    g: &mut GpuBackend,
    s: &Gather,
    data: &GpuTensor,
    order: &GpuTensor,
    out: &GpuTensor,
) -> Result<()> {
    s.check(data.len, order.len, out.len)?;
    let (scale, bias) = s.byte_map();
    let sh = s.shift.unwrap_or(Shift { max: 0, height: 0, width: 0, seed: 0 });
    let [sl, shi] = super::split(sh.seed);
    let params =
        [u(s.batch), u(s.dim), u(s.start), f(scale), f(bias), u(sh.max), u(sh.height), u(sh.width), sl, shi];
    let entry = if s.kind == GatherKind::Floats { "floats" } else { "bytes" };
    g.dispatch_items("gather", entry, &params, &[(1, data), (2, order), (3, out)], out.len)
}
