//! A decoded folder kept as one file of packed pixels, memory-mapped by later runs while the
//! folder is unchanged, so a 100000-image folder is decoded once, not at every start.
//!
//! The file is named by a fingerprint of everything the pixels depend on (each image's path,
//! size and modification time, the image size, channels and crop), so an edited folder or other
//! settings miss the cache instead of reading stale pixels. Layout (little-endian u64 words):
//! magic, fingerprint, images kept, channels, size, skipped count, the skipped files' indices,
//! then the pixels.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Pixels;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"WGANPX01";
/// Raised whenever decoding (crop, resize, alpha) changes, so old caches miss.
const DECODE_VERSION: u32 = 1;

/// What the pixels of a cached folder were decoded from and how.
pub struct Key<'a> {
    pub files: &'a [PathBuf],
    pub size: usize,
    /// The channels asked for (0: the images' own).
    pub channels: usize,
    pub crop: &'a str,
    pub skip_bad: bool,
}

/// A folder's pixels as a cache file holds them.
pub struct Cached {
    pub pixels: Pixels,
    pub channels: usize,
    /// Indices into `Key::files` of the images left out (`--skip-bad`).
    pub skipped: Vec<usize>,
}

/// FNV-1a, 64 bits: stable across builds (std's hasher is not), and ample for naming files.
struct Fnv(u64);

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The cache file's name for `key` in `dir`; stats every file (a changed size or time misses).
pub fn path_for(dir: &Path, key: &Key) -> Result<PathBuf> {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.add(MAGIC);
    // How pixels are decoded (resizing, alpha) may change between builds: a new build decodes anew.
    h.add(env!("CARGO_PKG_VERSION").as_bytes());
    h.add(&DECODE_VERSION.to_le_bytes());
    for v in [key.size, key.channels, key.skip_bad as usize, key.files.len()] {
        h.add(&(v as u64).to_le_bytes());
    }
    h.add(key.crop.as_bytes());
    for file in key.files {
        let meta = std::fs::metadata(file).map_err(|source| Error::Io { path: file.clone(), source })?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.add(file.as_os_str().as_encoded_bytes());
        h.add(&meta.len().to_le_bytes());
        h.add(&modified.map_or(0, |d| d.as_nanos()).to_le_bytes());
    }
    Ok(dir.join(format!("{:016x}.pixels", h.0)))
}

fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
}

/// The cached pixels at `path` for a folder of `files` images of `size`×`size` (`channels`
/// when asked for), or None when there is no file that fits (a miss, never an error: the folder
/// is then decoded again). Every header field is checked against the folder, so a file from
/// another build, a truncated one or a foreign one misses rather than misreads.
pub fn load(path: &Path, files: usize, size: usize, channels: Option<usize>) -> Option<Cached> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the file is ours, written whole and renamed into place; a user editing it while a
    // run reads it is the one way to change bytes under the map, as with any data file.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let head: Vec<usize> = words(map.get(..48)?).map(|w| w as usize).collect();
    let [_, fingerprint, kept, c, side, skipped_count] = head[..] else { return None };
    let named = path.file_stem().and_then(|s| s.to_str()).and_then(|s| u64::from_str_radix(s, 16).ok());
    let fits = &map[..8] == MAGIC
        && named == Some(fingerprint as u64)
        && side == size
        && matches!(c, 1 | 3)
        && channels.is_none_or(|want| want == c)
        && kept.checked_add(skipped_count) == Some(files);
    if !fits {
        return None;
    }
    let start = skipped_count.checked_mul(8)?.checked_add(48)?;
    let skipped: Vec<usize> = words(map.get(48..start)?).map(|w| w as usize).collect();
    if !skipped.windows(2).all(|w| w[0] < w[1]) || skipped.last().is_some_and(|&i| i >= files) {
        return None;
    }
    let len = kept.checked_mul(c)?.checked_mul(size * size)?;
    if map.len() != start.checked_add(len)? {
        return None;
    }
    let pixels = Pixels::Mapped { map: Arc::new(map), start, len };
    Some(Cached { pixels, channels: c, skipped })
}

/// Writes `pixels` to `path` through a temporary file and a rename, so a reader never sees half
/// a file; a failure (a full disk, a read-only cache folder) only costs the next run a decode.
pub fn store(path: &Path, pixels: &[u8], kept: usize, channels: usize, size: usize, skipped: &[usize]) {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // A name of its own, so two runs decoding the same folder never write into one file.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let tmp = path.with_extension(format!("{}-{nanos}.tmp", std::process::id()));
        let mut f = std::io::BufWriter::new(std::fs::File::create_new(&tmp)?);
        f.write_all(MAGIC)?;
        let fingerprint =
            u64::from_str_radix(path.file_stem().and_then(|s| s.to_str()).unwrap_or_default(), 16).unwrap_or_default();
        for w in [fingerprint, kept as u64, channels as u64, size as u64, skipped.len() as u64] {
            f.write_all(&w.to_le_bytes())?;
        }
        for &i in skipped {
            f.write_all(&(i as u64).to_le_bytes())?;
        }
        f.write_all(pixels)?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    };
    if let Err(e) = write() {
        eprintln!("warning: could not write the decode cache {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_pixels_load_back_and_a_changed_file_misses() {
        let dir = std::env::temp_dir().join(format!("wgan-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = vec![dir.join("a.png"), dir.join("b.png")];
        for f in &files {
            std::fs::write(f, b"x").unwrap();
        }
        let key = Key { files: &files, size: 2, channels: 0, crop: "center", skip_bad: true };
        let path = path_for(&dir, &key).unwrap();
        assert!(load(&path, 2, 2, None).is_none(), "nothing stored yet");
        let pixels: Vec<u8> = (0..12).collect();
        store(&path, &pixels, 1, 3, 2, &[1]);
        let c = load(&path, 2, 2, None).expect("a hit");
        assert_eq!((&c.pixels[..], c.channels, c.skipped), (&pixels[..], 3, vec![1]));
        assert!(load(&path, 2, 3, None).is_none(), "another image size is not this file");
        assert!(load(&path, 3, 2, None).is_none(), "another number of files is not this folder");
        assert!(load(&path, 2, 2, Some(1)).is_none(), "other channels are not these pixels");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(load(&path, 2, 2, None).is_none(), "a truncated file misses");
        let other = Key { crop: "pad", ..key };
        assert_ne!(path_for(&dir, &other).unwrap(), path);
        std::fs::write(&files[1], b"xy").unwrap();
        assert_ne!(path_for(&dir, &key).unwrap(), path, "a changed image misses");
        let _ = std::fs::remove_dir_all(dir);
    }
}
