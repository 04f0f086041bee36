//! Where evaluated images come from: a generator checkpoint, or files any tool wrote.

use std::path::Path;

use crate::backend::Backend;
use crate::data::{folder, idx, signed_pixel};
use crate::error::{Error, Result};
use crate::gan::step::derive_seed;
use crate::gpu::GpuBackend;
use crate::nn::Shape;
use crate::train::Generator;

const DIGIT: Shape = Shape(1, 28, 28);

fn needs_digits(path: &Path, got: Shape) -> Error {
    Error::Data {
        path: path.into(),
        msg: format!(
            "the evaluation scores 1x28x28 digits (its classifier is MNIST's), these are {}x{}x{}",
            got.0, got.1, got.2
        ),
    }
}

/// What each sample of a checkpoint was asked for: the class of a conditional model, or the
/// value of InfoGAN's categorical code (i mod k, so the values are balanced).
pub enum Asked {
    Nothing,
    Classes(Vec<usize>),
    Codes(Vec<usize>),
}

/// `n` digit samples of G in [−1, 1], and what each was asked for.
pub fn from_checkpoint(b: &mut GpuBackend, path: &Path, n: usize, seed: u64, raw: bool) -> Result<(Vec<f32>, Asked)> {
    let (images, shape, asked) = draw(b, path, n, seed, raw)?;
    if shape != DIGIT {
        return Err(needs_digits(path, shape));
    }
    Ok((images, asked))
}

/// The shape of the images a checkpoint's G draws, read from its metadata without a device.
pub fn output_shape(path: &Path) -> Result<Shape> {
    let path = Generator::checkpoint_path(path);
    Generator::spec_of(&crate::train::checkpoint::Checkpoint::load(&path)?, &path)?.output()
}

/// `n` image samples of G in [−1, 1], of whatever shape G draws, and what each was asked for.
pub fn draw(b: &mut GpuBackend, path: &Path, n: usize, seed: u64, raw: bool) -> Result<(Vec<f32>, Shape, Asked)> {
    let chunk = n.clamp(1, 500);
    let mut g = Generator::load(b, path, chunk, raw)?;
    let shape = g.output_shape()?;
    if g.info.is_table() {
        return Err(Error::Data { path: path.into(), msg: "a table's generator draws rows, not images".into() });
    }
    let classes = g.codes;
    let asked = (0..n).map(|i| i % classes.max(1)).collect();
    let asked = match (classes, g.info_codes()) {
        (0, _) => Asked::Nothing,
        (_, false) => Asked::Classes(asked),
        (_, true) => Asked::Codes(asked),
    };
    let z = b.alloc(chunk * g.z_dim())?;
    let d = shape.size();
    let mut images = Vec::with_capacity(n * d);
    for c in 0..n.div_ceil(chunk) {
        g.draw_z(b, derive_seed(seed, c as u64, 6), &z)?;
        let l: Vec<f32> = (0..chunk).map(|i| ((c * chunk + i) % classes.max(1)) as f32).collect();
        let take = (n - c * chunk).min(chunk);
        images.extend_from_slice(&g.run_all(b, &z, &l)?[..take * d]);
    }
    Ok((images, shape, asked))
}

/// 28×28 digits from a folder of PNG/JPEG, a grid PNG as `sample` writes it (2-pixel borders),
/// an IDX file or a .npy array, as f32 in [−1, 1].
pub fn read_images(path: &Path) -> Result<Vec<f32>> {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    let bytes: Vec<u8> = if path.is_dir() {
        folder::read_folder(path, 28, Some(1))?.pixels.to_vec()
    } else if lower.ends_with(".png") {
        read_grid(path)?
    } else if lower.ends_with(".npy") {
        return read_npy(path, 784);
    } else {
        let f = idx::read(path)?;
        match f.dims[..] {
            [_, 28, 28] | [_, 1, 28, 28] | [_, 784] => f.data,
            ref d => {
                return Err(Error::Data { path: path.into(), msg: format!("IDX of shape {d:?}, not [n, 28, 28]") });
            }
        }
    };
    Ok(bytes.iter().map(|&p| signed_pixel(p)).collect())
}

/// The cells of a grid of 28×28 images with 2-pixel borders (or one 28×28 image).
fn read_grid(path: &Path) -> Result<Vec<u8>> {
    let img = image::open(path).map_err(|e| Error::Data { path: path.into(), msg: e.to_string() })?.to_luma8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (w, h) == (28, 28) {
        return Ok(img.into_raw());
    }
    let fits = |s: usize| s >= 32 && (s - 2).is_multiple_of(30);
    if !fits(w) || !fits(h) {
        return Err(Error::Data {
            path: path.into(),
            msg: format!("a {w}x{h} PNG is neither a 28x28 image nor a grid of them with 2-pixel borders"),
        });
    }
    let (cols, rows) = ((w - 2) / 30, (h - 2) / 30);
    let mut out = Vec::with_capacity(cols * rows * 784);
    for r in 0..rows {
        for c in 0..cols {
            for y in 0..28 {
                for x in 0..28 {
                    out.push(img.get_pixel((2 + c * 30 + x) as u32, (2 + r * 30 + y) as u32)[0]);
                }
            }
        }
    }
    Ok(out)
}

/// A .npy of u8 or little-endian f32, any shape whose trailing dimensions hold `d` values
/// (planar images), as f32 in [−1, 1].
pub fn read_npy(path: &Path, d: usize) -> Result<Vec<f32>> {
    let file = crate::data::npy::read(path)?;
    let bad = |msg: &str| Error::Data { path: path.into(), msg: format!("not a readable .npy: {msg}") };
    let (header, data) = (&file.header, &file.data);
    let values: Vec<f32> = if header.contains("'|u1'") {
        data.iter().map(|&p| signed_pixel(p)).collect()
    } else if header.contains("'<f4'") {
        let v = file.f32s().expect("a '<f4' array");
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(&format!("element {i} is {}, not a finite number", v[i])));
        }
        let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        match (lo, hi) {
            (l, h) if l >= 0.0 && h <= 1.0 => v.iter().map(|x| 2.0 * x - 1.0).collect(),
            (l, _) if l < 0.0 => v,
            _ => v.iter().map(|x| x / 127.5 - 1.0).collect(),
        }
    } else {
        return Err(bad("dtype must be uint8 ('|u1') or float32 ('<f4')"));
    };
    if values.iter().any(|x| x.abs() > 1.0 + 1e-3) {
        return Err(bad("float pixels must lie in [0, 1], [−1, 1] or [0, 255]"));
    }
    if values.is_empty() || !values.len().is_multiple_of(d) {
        return Err(bad(&format!("{} values are not a whole number of images of {d} values", values.len())));
    }
    Ok(values)
}
