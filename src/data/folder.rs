//! A folder of PNG/JPEG images, optionally one subfolder per class, read into an [`ImageSet`].
//!
//! Everything is decoded up front, in parallel, into one planar u8 buffer that training streams
//! batches from (large folders through a memory-mapped decode cache, see [`cache`]). Order is
//! sorted by path so two runs over the same folder see the same data.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView, ImageBuffer, ImageReader, Pixel};

use rayon::prelude::*;

use super::{ImageSet, Pixels, cache};
use crate::{Error, Result};

/// Labels are stored as u8, so this is the most classes a folder may have.
const MAX_CLASSES: usize = 256;
/// Far beyond what a GAN here trains on; bounds the memory a typo in the size can ask for.
const MAX_SIZE: usize = 4096;

/// How a folder's images become training images.
#[derive(Clone, Debug)]
pub struct FolderOptions {
    /// Side of the square training image.
    pub size: usize,
    /// 1 = gray, 3 = RGB; `None` = whatever the images are, which must then all agree.
    pub channels: Option<usize>,
    pub crop: Crop,
    /// Leave unreadable images out (counted and named) instead of refusing the folder.
    pub skip_bad: bool,
    /// Where decoded folders of at least [`CACHE_MIN_IMAGES`] images are cached; None: never.
    pub cache: Option<PathBuf>,
}

impl FolderOptions {
    pub fn new(size: usize, channels: Option<usize>) -> Self {
        FolderOptions { size, channels, crop: Crop::Center, skip_bad: false, cache: None }
    }
}

/// How a non-square image becomes square; neither distorts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Crop {
    /// The largest centred square.
    #[default]
    Center,
    /// The whole image, its shorter side padded with black to a square.
    Pad,
}

impl Crop {
    fn name(self) -> &'static str {
        match self {
            Crop::Center => "center",
            Crop::Pad => "pad",
        }
    }
}

/// Folders smaller than this decode in a few seconds and are not cached.
pub const CACHE_MIN_IMAGES: usize = 2000;

/// Reads every PNG/JPEG under `dir` as a `size`×`size` image with `channels` channels
/// (1 = gray, 3 = RGB; `None` = whatever the images are, which must then all agree).
///
/// Subfolders holding images are classes (labelled in sorted name order); otherwise the
/// images directly in `dir` form an unlabelled set.
pub fn read_folder(dir: &Path, size: usize, channels: Option<usize>) -> Result<ImageSet> {
    read_folder_with(dir, &FolderOptions::new(size, channels))
}

/// [`read_folder`] with a crop, `--skip-bad` and the decode cache: images decode in parallel
/// (with a progress bar for large folders) and a folder decoded before maps its cache file.
pub fn read_folder_with(dir: &Path, o: &FolderOptions) -> Result<ImageSet> {
    check_args(o.size, o.channels)?;
    check_dir(dir)?;
    let (files, labels, classes) = layout(dir)?;
    let cache = match &o.cache {
        Some(c) if files.len() >= CACHE_MIN_IMAGES => {
            let key = cache::Key {
                files: &files,
                size: o.size,
                channels: o.channels.unwrap_or(0),
                crop: o.crop.name(),
                skip_bad: o.skip_bad,
            };
            Some(cache::path_for(c, &key)?)
        }
        _ => None,
    };
    let (pixels, channels, skipped) =
        match cache.as_deref().and_then(|p| cache::load(p, files.len(), o.size, o.channels)) {
            Some(hit) => (hit.pixels, hit.channels, hit.skipped),
            None => {
                let (pixels, channels, skipped) = decode_all(dir, &files, o)?;
                if let Some(path) = &cache {
                    cache::store(path, &pixels, files.len() - skipped.len(), channels, o.size, &skipped);
                }
                (Pixels::Owned(pixels), channels, skipped)
            }
        };
    if !skipped.is_empty() {
        let names: Vec<String> = skipped.iter().take(5).map(|&i| relative(dir, &files[i])).collect();
        let more = if skipped.len() > 5 { ", ..." } else { "" };
        eprintln!("skipped {} unreadable images (--skip-bad): {}{more}", skipped.len(), names.join(", "));
    }
    let labels = labels.map(|l| without(&l, &skipped));
    Ok(ImageSet {
        pixels,
        labels,
        classes,
        count: files.len() - skipped.len(),
        channels,
        height: o.size,
        width: o.size,
    })
}

/// (channels, side, side) of the folder's first image in sorted order, for reading a folder of
/// generated images at their own size; its side is the shorter one.
pub fn first_image_shape(dir: &Path) -> Result<crate::nn::Shape> {
    check_dir(dir)?;
    let (files, _, _) = layout(dir)?;
    let img = open_image(&files[0])?;
    let side = img.width().min(img.height()) as usize;
    Ok(crate::nn::Shape(native_channels(&img), side, side))
}

/// `items` less the entries at the (sorted) indices `gone`.
fn without<T: Copy>(items: &[T], gone: &[usize]) -> Vec<T> {
    items.iter().enumerate().filter(|(i, _)| gone.binary_search(i).is_err()).map(|(_, &v)| v).collect()
}

/// Every image decoded in parallel into one planar buffer: the pixels, their channels and the
/// indices of the images `--skip-bad` left out. Without it an unreadable image is the error
/// (the first one found: decoding stops there rather than reading the rest of a large folder).
fn decode_all(dir: &Path, files: &[PathBuf], o: &FolderOptions) -> Result<(Vec<u8>, usize, Vec<usize>)> {
    // The first readable image sets the channels where none were asked for.
    let mut first = None;
    for (i, file) in files.iter().enumerate() {
        match open_image(file) {
            Ok(img) => {
                first = Some((i, native_channels(&img)));
                break;
            }
            Err(e) if !o.skip_bad => return Err(e),
            Err(_) => {}
        }
    }
    let Some((f0, c0)) = first else {
        let msg = format!("none of the {} images is readable", files.len());
        return Err(Error::Data { path: dir.to_path_buf(), msg });
    };
    let want = o.channels.unwrap_or(c0);
    let len = want * o.size * o.size;
    let mut pixels = Vec::new();
    reserve(&mut pixels, files.len(), len, dir)?;
    pixels.resize(files.len() * len, 0);
    let bar = if files.len() >= CACHE_MIN_IMAGES {
        indicatif::ProgressBar::new(files.len() as u64).with_message("decoding")
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {pos}/{len} [{elapsed_precise}, ETA {eta}] {wide_bar}")
            .expect("valid template"),
    );
    // Without --skip-bad the first failure is the answer: the rest need not decode.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let natives: Vec<Result<usize>> = pixels
        .par_chunks_mut(len)
        .zip(files.par_iter())
        .map(|(out, file)| {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(0);
            }
            let img = open_image(file).inspect_err(|_| {
                failed.store(!o.skip_bad, std::sync::atomic::Ordering::Relaxed);
            })?;
            planar_into(out, &square(&img, o.size, want, o.crop));
            bar.inc(1);
            Ok(native_channels(&img))
        })
        .collect();
    bar.finish_and_clear();
    let mut skipped = Vec::new();
    if let Some(e) = natives.iter().position(Result::is_err).filter(|_| !o.skip_bad) {
        return Err(natives.into_iter().nth(e).expect("found").expect_err("an error"));
    }
    for (i, native) in natives.into_iter().enumerate() {
        match native {
            Ok(c) if o.channels.is_none() && c != c0 => {
                return Err(mixed_channels(dir, &files[f0], c0, &files[i], c));
            }
            Ok(_) => {}
            // Without --skip-bad an error has been returned above.
            Err(_) => skipped.push(i),
        }
    }
    if !skipped.is_empty() {
        let mut kept = 0;
        for i in 0..files.len() {
            if skipped.binary_search(&i).is_err() {
                pixels.copy_within(i * len..(i + 1) * len, kept * len);
                kept += 1;
            }
        }
        pixels.truncate(kept * len);
    }
    Ok((pixels, want, skipped))
}

/// Rejects arguments that no folder could satisfy before touching the disk.
fn check_args(size: usize, channels: Option<usize>) -> Result<()> {
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(Error::Config(format!("image size {size} is out of range 1..={MAX_SIZE}; pass e.g. 28 or 64")));
    }
    match channels {
        None | Some(1) | Some(3) => Ok(()),
        Some(c) => Err(Error::Config(format!("--channels {c} is not supported; use 1 (gray) or 3 (RGB)"))),
    }
}

/// Allocates the whole set once, failing with a message rather than aborting when it cannot fit.
fn reserve(pixels: &mut Vec<u8>, count: usize, image_len: usize, dir: &Path) -> Result<()> {
    let total = count.checked_mul(image_len);
    match total.map(|n| pixels.try_reserve_exact(n)) {
        Some(Ok(())) => Ok(()),
        _ => Err(Error::Data {
            path: dir.to_path_buf(),
            msg: format!("{count} images of {image_len} bytes do not fit in memory; lower the image size"),
        }),
    }
}

fn check_dir(dir: &Path) -> Result<()> {
    let data = |msg: &str| Err(Error::Data { path: dir.to_path_buf(), msg: msg.into() });
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => data("not a folder; pass a folder of PNG or JPEG images"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            data("folder not found; check the path to the image folder")
        }
        Err(source) => Err(Error::Io { path: dir.to_path_buf(), source }),
    }
}

/// Image files, their labels and the class names, as the folder layout implies.
type Layout = (Vec<PathBuf>, Option<Vec<u8>>, Vec<String>);

fn layout(dir: &Path) -> Result<Layout> {
    let (top, subdirs) = list(dir)?;
    let mut classes = Vec::new();
    let mut class_files = Vec::new();
    for sub in subdirs {
        let (files, _) = list(&sub)?;
        if !files.is_empty() {
            classes.push(sub.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            class_files.push(files);
        }
    }
    if classes.is_empty() {
        if top.is_empty() {
            let msg = format!("no PNG or JPEG images in {} or its subfolders", dir.display());
            return Err(Error::Data { path: dir.to_path_buf(), msg });
        }
        return Ok((top, None, Vec::new()));
    }
    if let Some(stray) = top.first() {
        let msg = format!(
            "mixes images at the top with class folders (e.g. {} and {}/); move the top-level images \
             into a class folder or remove them",
            relative(dir, stray),
            classes[0]
        );
        return Err(Error::Data { path: dir.to_path_buf(), msg });
    }
    if classes.len() > MAX_CLASSES {
        let msg = format!("{} class folders, at most {MAX_CLASSES} are supported", classes.len());
        return Err(Error::Data { path: dir.to_path_buf(), msg });
    }
    let labels = class_files.iter().enumerate().flat_map(|(l, f)| std::iter::repeat_n(l as u8, f.len()));
    let labels = labels.collect();
    Ok((class_files.concat(), Some(labels), classes))
}

/// The image files and the subfolders directly in `dir`, each sorted, hidden entries skipped.
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let io = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path.file_name().is_none_or(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            dirs.push(path);
        } else if is_image_name(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

fn is_image_name(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// Decodes by content, not extension, so a JPEG saved as `.png` still loads.
fn open_image(path: &Path) -> Result<DynamicImage> {
    let bad = |msg: String| Error::Data { path: path.to_path_buf(), msg };
    let reader = ImageReader::open(path).map_err(|e| bad(format!("cannot open image: {e}")))?;
    let reader = reader.with_guessed_format().map_err(|e| bad(format!("cannot read image: {e}")))?;
    let img = reader.decode().map_err(|e| {
        bad(format!("not a readable PNG or JPEG image ({e}); replace or remove the file, or pass --skip-bad"))
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(bad("image has no pixels; replace or remove the file, or pass --skip-bad".into()));
    }
    Ok(img)
}

/// Gray (with or without alpha) counts as 1 channel, colour as 3; alpha never counts.
fn native_channels(img: &DynamicImage) -> usize {
    if img.color().has_color() { 3 } else { 1 }
}

fn mixed_channels(dir: &Path, a: &Path, ca: usize, b: &Path, cb: usize) -> Error {
    let kind = |c| if c == 1 { "grayscale" } else { "RGB" };
    let msg = format!(
        "mixed channel counts: {} is {}, {} is {}; pass --channels 1 or --channels 3",
        relative(dir, a),
        kind(ca),
        relative(dir, b),
        kind(cb)
    );
    Error::Data { path: b.to_path_buf(), msg }
}

fn relative(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir).unwrap_or(file).display().to_string()
}

/// Pixels as interleaved HWC bytes, `channels` per pixel.
struct Interleaved {
    bytes: Vec<u8>,
    channels: usize,
}

/// Makes the image square without stretching it (`crop`), then resizes it to `size`×`size`.
/// Alpha is composited over black, so transparent areas read as background.
fn square(img: &DynamicImage, size: usize, channels: usize, crop: Crop) -> Interleaved {
    let (w, h) = img.dimensions();
    let squared = match crop {
        Crop::Center => {
            let side = w.min(h);
            img.crop_imm((w - side) / 2, (h - side) / 2, side, side)
        }
        Crop::Pad if w == h => img.clone(),
        Crop::Pad => {
            let side = w.max(h);
            // Transparent padding turns black when alpha is composited.
            let mut canvas = image::RgbaImage::new(side, side);
            imageops::overlay(&mut canvas, &img.to_rgba8(), ((side - w) / 2).into(), ((side - h) / 2).into());
            DynamicImage::ImageRgba8(canvas)
        }
    };
    let bytes = if channels == 1 {
        resized(&flatten(squared.to_luma_alpha8()), size)
    } else {
        resized(&flatten(squared.to_rgba8()), size)
    };
    Interleaved { bytes, channels }
}

/// Premultiplies alpha into the colour channels (compositing over black), so the later resize
/// does not bleed the colour of invisible pixels and dropping alpha loses nothing visible.
fn flatten<P: Pixel<Subpixel = u8>>(mut img: ImageBuffer<P, Vec<u8>>) -> ImageBuffer<P, Vec<u8>> {
    for p in img.pixels_mut() {
        let ch = p.channels_mut();
        let Some((&mut a, colour)) = ch.split_last_mut() else { continue };
        for v in colour {
            *v = ((u16::from(*v) * u16::from(a) + 127) / 255) as u8;
        }
    }
    img
}

/// Resizes (unless already the right size) and returns the bytes without the alpha channel.
fn resized<P: Pixel<Subpixel = u8> + 'static>(img: &ImageBuffer<P, Vec<u8>>, size: usize) -> Vec<u8> {
    let side = size as u32;
    let owned;
    let img = if img.width() == side && img.height() == side {
        img
    } else {
        owned = imageops::resize(img, side, side, FilterType::Triangle);
        &owned
    };
    let n = usize::from(P::CHANNEL_COUNT);
    img.as_raw().chunks_exact(n).flat_map(|p| p[..n - 1].iter().copied()).collect()
}

/// Writes one image in planar CHW order, the layout the GPU kernels expect.
fn planar_into(out: &mut [u8], img: &Interleaved) {
    let c = img.channels;
    let plane = img.bytes.len() / c;
    for ch in 0..c {
        for (o, &v) in out[ch * plane..(ch + 1) * plane].iter_mut().zip(img.bytes.iter().skip(ch).step_by(c)) {
            *o = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    fn temp_dir(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("wgan-folder-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn gray(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| Luma([(x * 7 + y * 3) as u8]))
    }

    fn rgb(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([200, (x * 4) as u8, (y * 4) as u8]))
    }

    fn msg(e: Error) -> (PathBuf, String) {
        match e {
            Error::Data { path, msg } => (path, msg),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn unlabelled_gray_pngs_keep_exact_values() {
        let dir = temp_dir("gray");
        gray(28, 28).save(dir.join("b.png")).unwrap();
        GrayImage::from_pixel(28, 28, Luma([9])).save(dir.join("a.PNG")).unwrap();
        std::fs::write(dir.join("README"), "not an image").unwrap();
        std::fs::write(dir.join(".DS_Store"), "junk").unwrap();
        let set = read_folder(&dir, 28, None).unwrap();
        assert_eq!((set.count, set.channels, set.height, set.width), (2, 1, 28, 28));
        assert!(set.labels.is_none() && set.classes.is_empty());
        assert!(set.pixels[..784].iter().all(|&v| v == 9), "a.PNG sorts first");
        assert_eq!(&set.pixels[784..], gray(28, 28).as_raw().as_slice());
    }

    #[test]
    fn class_folders_give_labels_and_resize() {
        let dir = temp_dir("classes");
        for class in ["dogs", "cats", "empty", ".hidden"] {
            std::fs::create_dir(dir.join(class)).unwrap();
        }
        rgb(40, 30).save(dir.join("cats/a.jpg")).unwrap();
        rgb(28, 28).save(dir.join("cats/b.jpeg")).unwrap();
        rgb(64, 64).save(dir.join("dogs/c.JPG")).unwrap();
        rgb(64, 64).save(dir.join(".hidden/d.jpg")).unwrap();
        std::fs::write(dir.join("empty/notes.txt"), "x").unwrap();
        let set = read_folder(&dir, 28, None).unwrap();
        assert_eq!((set.count, set.channels, set.height, set.width), (3, 3, 28, 28));
        assert_eq!(set.labels, Some(vec![0, 0, 1]));
        assert_eq!(set.classes, vec!["cats", "dogs"]);
        assert_eq!(set.pixels.len(), 3 * 3 * 28 * 28);
        // Planar: the first plane of every image is the red channel, ~200 even after JPEG.
        assert!(set.pixels[..784].iter().all(|&v| v.abs_diff(200) < 12));
    }

    #[test]
    fn wide_image_is_center_cropped_then_resized() {
        let dir = temp_dir("crop");
        let band = |x: u32| if (5..35).contains(&x) { 100 } else { 255 };
        GrayImage::from_fn(40, 30, |x, _| Luma([band(x)])).save(dir.join("wide.png")).unwrap();
        let set = read_folder(&dir, 28, None).unwrap();
        assert_eq!((set.count, set.channels, set.pixels.len()), (1, 1, 784));
        assert!(set.pixels.iter().all(|&v| v == 100), "the bright side bands are cropped away");
    }

    #[test]
    fn forced_channels_convert_both_ways() {
        let dir = temp_dir("forced");
        gray(10, 10).save(dir.join("g.png")).unwrap();
        rgb(10, 10).save(dir.join("c.png")).unwrap();
        let one = read_folder(&dir, 8, Some(1)).unwrap();
        assert_eq!((one.count, one.channels, one.pixels.len()), (2, 1, 2 * 64));
        let three = read_folder(&dir, 8, Some(3)).unwrap();
        assert_eq!((three.channels, three.pixels.len()), (3, 2 * 3 * 64));
    }

    #[test]
    fn alpha_is_composited_over_black() {
        let dir = temp_dir("alpha");
        image::RgbaImage::from_pixel(4, 4, image::Rgba([255, 255, 255, 0])).save(dir.join("t.png")).unwrap();
        let set = read_folder(&dir, 4, None).unwrap();
        assert_eq!(set.channels, 3);
        assert!(set.pixels.iter().all(|&v| v == 0));
    }

    #[test]
    fn wrong_extension_still_decodes() {
        let dir = temp_dir("ext");
        rgb(16, 16).save_with_format(dir.join("really-a-jpeg.png"), image::ImageFormat::Jpeg).unwrap();
        assert_eq!(read_folder(&dir, 16, None).unwrap().channels, 3);
    }

    #[test]
    fn mixed_channels_is_an_error_naming_both_files() {
        let dir = temp_dir("mixed");
        std::fs::create_dir(dir.join("cats")).unwrap();
        std::fs::create_dir(dir.join("dogs")).unwrap();
        gray(8, 8).save(dir.join("cats/a.png")).unwrap();
        rgb(8, 8).save(dir.join("dogs/b.jpg")).unwrap();
        let (path, m) = msg(read_folder(&dir, 8, None).unwrap_err());
        assert_eq!(path, dir.join("dogs/b.jpg"));
        assert_eq!(
            m,
            "mixed channel counts: cats/a.png is grayscale, dogs/b.jpg is RGB; pass --channels 1 or --channels 3"
        );
    }

    #[test]
    fn no_images_is_an_error() {
        let dir = temp_dir("none");
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("README.md"), "hi").unwrap();
        let (path, m) = msg(read_folder(&dir, 8, None).unwrap_err());
        assert_eq!(path, dir);
        assert!(m.starts_with("no PNG or JPEG images in"), "{m}");
    }

    #[test]
    fn missing_folder_and_plain_file_are_errors() {
        let dir = temp_dir("missing");
        let (_, m) = msg(read_folder(&dir.join("nope"), 8, None).unwrap_err());
        assert!(m.contains("not found"), "{m}");
        std::fs::write(dir.join("f.png"), "x").unwrap();
        let (_, m) = msg(read_folder(&dir.join("f.png"), 8, None).unwrap_err());
        assert!(m.contains("not a folder"), "{m}");
    }

    #[test]
    fn corrupt_image_is_an_error_naming_it() {
        let dir = temp_dir("corrupt");
        gray(8, 8).save(dir.join("a.png")).unwrap();
        std::fs::write(dir.join("x.png"), b"\x89PNG\r\n\x1a\ngarbage garbage").unwrap();
        let (path, m) = msg(read_folder(&dir, 8, None).unwrap_err());
        assert_eq!(path, dir.join("x.png"));
        assert!(m.starts_with("not a readable PNG or JPEG image ("), "{m}");
        std::fs::write(dir.join("x.png"), [0u8, 1, 2, 3, 4]).unwrap();
        assert_eq!(msg(read_folder(&dir, 8, None).unwrap_err()).0, dir.join("x.png"));
    }

    #[test]
    fn skip_bad_leaves_unreadable_images_out_with_their_labels() {
        let dir = temp_dir("skip");
        for class in ["a", "b"] {
            std::fs::create_dir(dir.join(class)).unwrap();
        }
        GrayImage::from_pixel(8, 8, Luma([10])).save(dir.join("a/1.png")).unwrap();
        std::fs::write(dir.join("a/2.png"), b"not a png").unwrap();
        GrayImage::from_pixel(8, 8, Luma([30])).save(dir.join("b/3.png")).unwrap();
        assert_eq!(msg(read_folder(&dir, 8, None).unwrap_err()).0, dir.join("a/2.png"));
        let o = FolderOptions { skip_bad: true, ..FolderOptions::new(8, None) };
        let set = read_folder_with(&dir, &o).unwrap();
        assert_eq!((set.count, set.labels.as_deref()), (2, Some(&[0u8, 1][..])));
        assert_eq!((set.image(0)[0], set.image(1)[0]), (10, 30));
        std::fs::write(dir.join("b/3.png"), b"broken too").unwrap();
        std::fs::remove_file(dir.join("a/1.png")).unwrap();
        let (_, m) = msg(read_folder_with(&dir, &o).unwrap_err());
        assert!(m.contains("none of the 2 images is readable"), "{m}");
    }

    #[test]
    fn pad_keeps_the_whole_image_on_black() {
        let dir = temp_dir("pad");
        GrayImage::from_pixel(8, 4, Luma([200])).save(dir.join("wide.png")).unwrap();
        let o = FolderOptions { crop: Crop::Pad, ..FolderOptions::new(8, None) };
        let set = read_folder_with(&dir, &o).unwrap();
        let rows: Vec<u8> = (0..8).map(|y| set.pixels[y * 8 + 3]).collect();
        assert_eq!(rows, [0, 0, 200, 200, 200, 200, 0, 0], "centred, bands above and below black");
    }

    #[test]
    fn a_large_folder_is_cached_and_mapped_the_second_time() {
        let dir = temp_dir("cached");
        let images = dir.join("images");
        std::fs::create_dir(&images).unwrap();
        for i in 0..CACHE_MIN_IMAGES {
            let v = (i % 251) as u8;
            RgbImage::from_pixel(4, 4, Rgb([v, 0, 255 - v])).save(images.join(format!("{i:05}.png"))).unwrap();
        }
        let o = FolderOptions { cache: Some(dir.join("cache")), ..FolderOptions::new(4, None) };
        let first = read_folder_with(&images, &o).unwrap();
        assert!(matches!(first.pixels, Pixels::Owned(_)));
        let second = read_folder_with(&images, &o).unwrap();
        assert!(matches!(second.pixels, Pixels::Mapped { .. }), "{:?}", second.pixels);
        assert_eq!((&first.pixels[..], second.channels, second.count), (&second.pixels[..], 3, CACHE_MIN_IMAGES));
        assert_eq!(second.image(7)[0], 7);
    }

    #[test]
    fn top_level_images_with_class_folders_is_an_error() {
        let dir = temp_dir("mix-layout");
        std::fs::create_dir(dir.join("cats")).unwrap();
        gray(8, 8).save(dir.join("cats/a.png")).unwrap();
        gray(8, 8).save(dir.join("stray.png")).unwrap();
        let (path, m) = msg(read_folder(&dir, 8, None).unwrap_err());
        assert_eq!(path, dir);
        assert!(m.starts_with("mixes images at the top with class folders (e.g. stray.png and cats/)"), "{m}");
    }

    #[test]
    fn bad_arguments_are_config_errors() {
        let dir = temp_dir("args");
        assert!(matches!(read_folder(&dir, 0, None), Err(Error::Config(_))));
        assert!(matches!(read_folder(&dir, 8, Some(2)), Err(Error::Config(_))));
    }
}
