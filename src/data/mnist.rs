//! MNIST, bundled in the binary from `assets/mnist/` (Yann LeCun and Corinna Cortes, CC BY-SA 3.0),
//! so training works from any directory without a download.

use std::path::Path;

use super::ImageSet;
use super::idx;
use crate::error::{Error, Result};

const TRAIN_IMAGES: &[u8] = include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz");

/// Images and labels from a pair of IDX files.
pub fn from_idx(images: &idx::Idx, labels: Option<&idx::Idx>, path: &Path) -> Result<ImageSet> {
    let (count, h, w) = match images.dims[..] {
        [n, h, w] => (n, h, w),
        [n, d] => (n, d, 1),
        ref other => {
            return Err(Error::Data {
                path: path.into(),
                msg: format!(
                    "an image IDX file has dimensions [count, height, width], this one {other:?} \
                     (a label file goes to --labels)"
                ),
            });
        }
    };
    let labels = match labels {
        Some(l) if l.dims != [count] => {
            return Err(Error::Data {
                path: path.into(),
                msg: format!("labels have dimensions {:?}, images count {count}", l.dims),
            });
        }
        Some(l) => Some(l.data.clone()),
        None => None,
    };
    Ok(ImageSet {
        pixels: images.data.clone().into(),
        labels,
        classes: Vec::new(),
        count,
        channels: 1,
        height: h,
        width: w,
    })
}

/// The 60000 MNIST training images with labels.
pub fn train() -> Result<ImageSet> {
    let path = Path::new("assets/mnist/train-images-idx3-ubyte.gz");
    let images = idx::parse(TRAIN_IMAGES, path)?;
    let labels = idx::parse(TRAIN_LABELS, Path::new("assets/mnist/train-labels-idx1-ubyte.gz"))?;
    from_idx(&images, Some(&labels), path)
}

const TEST_IMAGES: &[u8] = include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz");

/// The 10000 MNIST test images with labels: what the evaluation compares samples against.
pub fn test() -> Result<ImageSet> {
    let path = Path::new("assets/mnist/t10k-images-idx3-ubyte.gz");
    let images = idx::parse(TEST_IMAGES, path)?;
    let labels = idx::parse(TEST_LABELS, Path::new("assets/mnist/t10k-labels-idx1-ubyte.gz"))?;
    from_idx(&images, Some(&labels), path)
}

/// `--data stacked-mnist`.
pub const STACKED: &str = "stacked-mnist";
/// Images in stacked MNIST: as many as MNIST has.
pub const STACKED_COUNT: usize = 60000;
/// The fixed draw of stacked MNIST's digits (not the run's seed: every run sees one data set).
const STACKED_SEED: u64 = 0x5ac4ed;

/// Stacked MNIST (Srivastava et al. 2017, Lin et al. 2018): each 3×28×28 image holds three
/// training digits drawn at random as its three channels, so the data has 1000 modes (the
/// digits' triples); a generator that collapses covers few of them.
pub fn stacked(count: usize) -> Result<ImageSet> {
    let digits = train()?;
    let mut pixels = Vec::with_capacity(count * 3 * 784);
    for i in 0..count as u64 {
        for c in 0..3 {
            let [a, b] = crate::ops::random::reference::bits(STACKED_SEED, c << 40, i);
            let k = ((b as u64) << 32 | a as u64) % digits.count as u64;
            pixels.extend_from_slice(digits.image(k as usize));
        }
    }
    Ok(ImageSet { pixels: pixels.into(), labels: None, classes: Vec::new(), count, channels: 3, height: 28, width: 28 })
}
