//! Training data: IDX files (MNIST's format), the bundled MNIST, folders of PNG/JPEG images and
//! CSV tables.

pub mod cache;
pub mod folder;
pub mod idx;
pub mod mnist;
pub mod npy;
pub mod table;

/// A u8 pixel (0..255) on the [−1, 1] scale the generators and the classifier work in.
pub fn signed_pixel(p: u8) -> f32 {
    p as f32 / 127.5 - 1.0
}

/// Image bytes, in memory or mapped from a folder's decode cache (so a folder larger than the
/// free memory still trains, paged in by the batches that read it).
#[derive(Clone)]
pub enum Pixels {
    Owned(Vec<u8>),
    Mapped { map: std::sync::Arc<memmap2::Mmap>, start: usize, len: usize },
}

impl std::ops::Deref for Pixels {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Pixels::Owned(v) => v,
            Pixels::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if matches!(self, Pixels::Owned(_)) { "in memory" } else { "mapped" };
        write!(f, "Pixels({} bytes {how})", self.len())
    }
}

impl From<Vec<u8>> for Pixels {
    fn from(v: Vec<u8>) -> Self {
        Pixels::Owned(v)
    }
}

impl Pixels {
    fn truncate(&mut self, n: usize) {
        match self {
            Pixels::Owned(v) => v.truncate(n),
            Pixels::Mapped { len, .. } => *len = (*len).min(n),
        }
    }
}

/// A set of equally sized u8 images with optional labels.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// count · channels · height · width bytes, 0 = background, 255 = ink.
    pub pixels: Pixels,
    pub labels: Option<Vec<u8>>,
    /// Class names by label (folder names); empty when labels are plain numbers (IDX).
    pub classes: Vec<String>,
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageSet {
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `i`'s bytes, planar.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.image_len();
        &self.pixels[i * d..(i + 1) * d]
    }

    /// Keeps only the images whose label is in `digits`.
    pub fn keep_labels(&mut self, digits: &[u8]) -> crate::Result<()> {
        let Some(labels) = &self.labels else {
            return Err(crate::Error::Config("--digits needs labelled data".into()));
        };
        let d = self.image_len();
        let keep: Vec<usize> = (0..self.count).filter(|&i| digits.contains(&labels[i])).collect();
        if keep.is_empty() {
            return Err(crate::Error::Config(format!("no images with labels {digits:?}")));
        }
        self.pixels =
            keep.iter().flat_map(|&i| self.pixels[i * d..(i + 1) * d].iter().copied()).collect::<Vec<_>>().into();
        self.labels = Some(keep.iter().map(|&i| labels[i]).collect());
        self.count = keep.len();
        Ok(())
    }

    /// Keeps the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        if n < self.count {
            self.pixels.truncate(n * self.image_len());
            if let Some(l) = &mut self.labels {
                l.truncate(n);
            }
            self.count = n;
        }
    }
}

/// The data order of one epoch: a Fisher–Yates shuffle driven by (seed, epoch).
pub fn epoch_order(count: usize, seed: u64, epoch: usize) -> Vec<u32> {
    use crate::gan::step::derive_seed;
    use crate::ops::random::reference::bits;
    let s = derive_seed(seed, epoch as u64, 7);
    let mut order: Vec<u32> = (0..count as u32).collect();
    for i in (1..count).rev() {
        let [a, b] = bits(s, 0, i as u64);
        let j = (((b as u64) << 32 | a as u64) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}
