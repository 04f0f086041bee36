//! gather: a batch of images from a resident u8 data set, in a given order, scaled to [−1, 1].
//! data: the data set's bytes packed 4 to a word ([`pack_bytes`]); order: u32 indices.

use super::{expect, u};
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuTensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gather {
    /// Images in the batch.
    pub batch: usize,
    /// Bytes per image.
    pub dim: usize,
    /// First position in `order` to take.
    pub start: usize,
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
        if data_words * 4 < order * self.dim {
            return Err(Error::shape(
                "gather",
                format!("data of {} bytes is smaller than {order} images of {}", data_words * 4, self.dim),
            ));
        }
        expect("gather", "out", out, &[self.batch, self.dim])
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

pub(crate) fn images(
    g: &mut GpuBackend,
    s: &Gather,
    data: &GpuTensor,
    order: &GpuTensor,
    out: &GpuTensor,
) -> Result<()> {
    s.check(data.len, order.len, out.len)?;
    let params = [u(s.batch), u(s.dim), u(s.start)];
    g.dispatch_items("gather", "images", &params, &[(1, data), (2, order), (3, out)], out.len)
}
