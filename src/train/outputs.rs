//! What a run writes besides checkpoints: image grids, the metrics log and the loss plot.

use std::io::Write;
use std::path::Path;

use image::{DynamicImage, Rgb, RgbImage};

use crate::nn::Shape;

use crate::error::{Error, Result};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.into(), source }
}

fn img_err(path: &Path) -> impl FnOnce(image::ImageError) -> Error + '_ {
    move |e| Error::Data { path: path.into(), msg: e.to_string() }
}

/// A pixel in [−1, 1] (tanh output) as 0..255, white digit on black like MNIST.
pub fn to_u8(v: f32) -> u8 {
    ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
}

/// Images [n, c, h, w] in [−1, 1] (c = 1 grey or 3 RGB) laid out `cols` to a row with a
/// 2-pixel border.
pub fn grid(images: &[f32], n: usize, shape: Shape, cols: usize) -> DynamicImage {
    let Shape(c, h, w) = shape;
    let rows = n.div_ceil(cols);
    let pad = 2;
    let (gw, gh) = ((cols * (w + pad) + pad) as u32, (rows * (h + pad) + pad) as u32);
    let mut img = RgbImage::from_pixel(gw, gh, Rgb([40, 40, 40]));
    for k in 0..n {
        let (r, col) = (k / cols, k % cols);
        let at = |ch: usize, y: usize, x: usize| to_u8(images[((k * c + ch.min(c - 1)) * h + y) * w + x]);
        for y in 0..h {
            for x in 0..w {
                let px = Rgb([at(0, y, x), at(1, y, x), at(2, y, x)]);
                img.put_pixel((pad + col * (w + pad) + x) as u32, (pad + r * (h + pad) + y) as u32, px);
            }
        }
    }
    if c == 1 { DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(img).to_luma8()) } else { img.into() }
}

/// One image [c, h, w] in [−1, 1], without a border.
pub fn grid_cell(image: &[f32], shape: Shape) -> DynamicImage {
    let Shape(c, h, w) = shape;
    let px = |ch: usize, p: usize| to_u8(image[ch.min(c - 1) * h * w + p]);
    if c == 1 {
        image::GrayImage::from_fn(w as u32, h as u32, |x, y| image::Luma([px(0, y as usize * w + x as usize)])).into()
    } else {
        RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let p = y as usize * w + x as usize;
            Rgb([px(0, p), px(1, p), px(2, p)])
        })
        .into()
    }
}

/// Two grids side by side (generated left, real right), 16 pixels apart.
pub fn side_by_side(left: &DynamicImage, right: &DynamicImage) -> DynamicImage {
    let gap = 16;
    let (w, h) = (left.width() + gap + right.width(), left.height().max(right.height()));
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    image::imageops::overlay(&mut img, &left.to_rgb8(), 0, 0);
    image::imageops::overlay(&mut img, &right.to_rgb8(), (left.width() + gap) as i64, 0);
    if matches!(left, DynamicImage::ImageLuma8(_)) && matches!(right, DynamicImage::ImageLuma8(_)) {
        DynamicImage::ImageRgb8(img).to_luma8().into()
    } else {
        img.into()
    }
}

/// Writes a PNG through a temporary file, so an interrupted run never leaves half a picture.
pub fn save_png(img: &DynamicImage, path: &Path) -> Result<()> {
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png).map_err(img_err(path))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Appends one JSON object per line.
pub fn append_jsonl(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
    writeln!(f, "{value}").map_err(io(path))
}

/// Animates every `epoch_*.png` in `samples` (in epoch order) into a looping GIF at `path`.
pub fn progress_gif(samples: &Path, path: &Path) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let mut epochs: Vec<_> = std::fs::read_dir(samples)
        .map_err(io(samples))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("epoch_") && n.ends_with(".png"))
        })
        .collect();
    epochs.sort();
    let tmp = path.with_extension("gif.tmp");
    {
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut enc = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
        enc.set_repeat(Repeat::Infinite).map_err(img_err(path))?;
        for p in &epochs {
            let frame = image::open(p).map_err(img_err(p))?.to_rgba8();
            enc.encode_frame(Frame::from_parts(frame, 0, 0, Delay::from_numer_denom_ms(700, 1)))
                .map_err(img_err(path))?;
        }
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}
