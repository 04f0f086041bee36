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
