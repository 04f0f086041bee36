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
        image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
            image::Luma([px(0, y as usize * w + x as usize)])
        })
        .into()
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

/// One plotted line: its colour and its (step, value) points.
pub type Series = ([u8; 3], Vec<(f32, f32)>);

/// A line plot of several series over steps: each series is (colour, points). Two panels:
/// the losses on top, the discriminator's accuracies (0..1) below; grey lines mark quarters.
pub fn plot(path: &Path, top: &[Series], bottom: &[Series]) -> Result<()> {
    let (w, h) = (900u32, 600u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let panel = |img: &mut RgbImage, series: &[Series], y0: u32, ph: u32, fixed: Option<(f32, f32)>| {
        let pts = series.iter().flat_map(|(_, p)| p.iter().copied());
        let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for (x, y) in pts.filter(|(_, y)| y.is_finite()) {
            x_lo = x_lo.min(x);
            x_hi = x_hi.max(x);
            y_lo = y_lo.min(y);
            y_hi = y_hi.max(y);
        }
        if let Some((lo, hi)) = fixed {
            (y_lo, y_hi) = (lo, hi);
        }
        if x_lo >= x_hi {
            x_hi = x_lo + 1.0;
        }
        if y_lo >= y_hi {
            y_hi = y_lo + 1.0;
        }
        let m = 30u32;
        for q in 0..=4 {
            let y = y0 + m + (ph - 2 * m) * q / 4;
            for x in m..w - m {
                img.put_pixel(x, y, Rgb([220, 220, 220]));
            }
        }
        for y in y0 + m..y0 + ph - m {
            img.put_pixel(m, y, Rgb([0, 0, 0]));
        }
        let to_px = |x: f32, y: f32| {
            let px = m as f32 + (x - x_lo) / (x_hi - x_lo) * (w - 2 * m) as f32;
            let py =
                (y0 + ph - m) as f32 - (y.clamp(y_lo, y_hi) - y_lo) / (y_hi - y_lo) * (ph - 2 * m) as f32;
            (px, py)
        };
        for (colour, p) in series {
            for seg in p.windows(2) {
                let (a, b) = (to_px(seg[0].0, seg[0].1), to_px(seg[1].0, seg[1].1));
                let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
                for s in 0..=steps {
                    let t = s as f32 / steps as f32;
                    let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
                    if x >= 0.0 && y >= 0.0 && (x as u32) < w && (y as u32) < h {
                        img.put_pixel(x as u32, y as u32, Rgb(*colour));
                    }
                }
            }
        }
    };
    panel(&mut img, top, 0, h / 2, None);
    panel(&mut img, bottom, h / 2, h / 2, Some((0.0, 1.0)));
    img.save(path).map_err(img_err(path))
}

/// A scatter plot of real (grey) and generated (red) points in standardised units, ±3.5 on both
/// axes, with grey lines at 0 and ±2: what a table GAN learned of two columns' joint shape.
pub fn scatter(real: &[(f32, f32)], fake: &[(f32, f32)]) -> DynamicImage {
    let size = 320u32;
    let mut img = RgbImage::from_pixel(size, size, Rgb([255, 255, 255]));
    let to_px = |v: f32| ((v / 3.5 + 1.0) * 0.5 * (size - 1) as f32).round();
    for g in [-2.0, 0.0, 2.0] {
        let p = to_px(g) as u32;
        for t in 0..size {
            img.put_pixel(p, t, Rgb([225, 225, 225]));
            img.put_pixel(t, p, Rgb([225, 225, 225]));
        }
    }
    for (points, colour) in [(real, Rgb([110, 110, 110])), (fake, Rgb([220, 30, 30]))] {
        for &(x, y) in points {
            let (px, py) = (to_px(x), to_px(-y));
            if px >= 1.0 && py >= 1.0 && px < (size - 1) as f32 && py < (size - 1) as f32 {
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    img.put_pixel(px as u32 + dx, py as u32 + dy, colour);
                }
            }
        }
    }
    img.into()
}

/// Animates every `epoch_*.png` in `samples` (in epoch order) into a looping GIF at `path`.
pub fn progress_gif(samples: &Path, path: &Path) -> Result<()> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let mut epochs: Vec<_> = std::fs::read_dir(samples)
        .map_err(io(samples))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("epoch_") && n.ends_with(".png"))
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
