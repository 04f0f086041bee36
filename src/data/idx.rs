//! IDX files (LeCun's MNIST format), gzip-compressed or not: magic 0x0000_08_NN (u8 data,
//! NN dimensions), big-endian u32 sizes, then the bytes.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Dimensions and u8 payload of an IDX file.
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses IDX bytes (gunzipping first when they start with the gzip magic). `path` names the
/// source in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Idx> {
    let err = |msg: String| Error::Data { path: path.to_path_buf(), msg };
    let raw;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| err(format!("bad gzip data: {e}")))?;
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(err("not an IDX file (bad magic number)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(err(format!("IDX element type 0x{:02x} is not u8 (0x08)", bytes[2])));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if ndim == 0 || bytes.len() < header {
        return Err(err(format!("truncated IDX header ({} bytes, {ndim} dimensions)", bytes.len())));
    }
    let dims: Vec<usize> =
        (0..ndim).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let have = bytes.len() - header;
    let want = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(want) = want.filter(|&w| w <= have) else {
        let want = want.map_or("more than this machine can address".into(), |w| format!("{w}"));
        return Err(err(format!("truncated: header says {dims:?} = {want} bytes of data, file has {have}")));
    };
    Ok(Idx { dims, data: bytes[header..header + want].to_vec() })
}

pub fn read(path: &Path) -> Result<Idx> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    parse(&bytes, path)
}

/// Writes u8 data as an uncompressed IDX file.
pub fn write(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    std::fs::write(path, out).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}
