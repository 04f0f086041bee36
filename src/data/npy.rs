//! NumPy's .npy files (version 1 to 3, C order): what `eval --images` and `sample --z` read
//! and `sample --format npy` writes.

use std::path::Path;

use crate::error::{Error, Result};

/// A .npy file's header (its Python dict, as text) and its data bytes.
pub struct Npy {
    pub header: String,
    pub data: Vec<u8>,
}

impl Npy {
    /// The `shape` tuple of the header.
    pub fn shape(&self) -> Vec<usize> {
        let Some(start) = self.header.find("'shape':").and_then(|i| self.header[i..].find('(').map(|j| i + j + 1))
        else {
            return Vec::new();
        };
        let end = self.header[start..].find(')').map_or(self.header.len(), |j| start + j);
        self.header[start..end].split(',').filter_map(|d| d.trim().parse().ok()).collect()
    }

    /// The data as little-endian f32, for a `'<f4'` array.
    pub fn f32s(&self) -> Option<Vec<f32>> {
        self.header
            .contains("'<f4'")
            .then(|| self.data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    }
}

pub fn read(path: &Path) -> Result<Npy> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
    let bad = |msg: &str| Error::Data { path: path.into(), msg: format!("not a readable .npy: {msg}") };
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(bad("no NUMPY magic"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize, 12),
        v => return Err(bad(&format!("version {v}"))),
    };
    let header = std::str::from_utf8(bytes.get(start..start + len).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?
        .to_string();
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order; save with np.ascontiguousarray"));
    }
    Ok(Npy { header, data: bytes[start + len..].to_vec() })
}

/// Writes u8 `data` of shape `dims`.
pub fn write_u8(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    write(path, "|u1", dims, data)
}

/// Writes little-endian f32 `data` of shape `dims` (e.g. latent vectors for `sample --z`).
pub fn write_f32(path: &Path, dims: &[usize], data: &[f32]) -> Result<()> {
    write(path, "<f4", dims, bytemuck::cast_slice(data))
}

fn write(path: &Path, descr: &str, dims: &[usize], data: &[u8]) -> Result<()> {
    let mut shape = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    if dims.len() == 1 {
        shape.push(','); // a Python 1-tuple: (4,)
    }
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).map_err(|source| Error::Io { path: path.into(), source })
}
