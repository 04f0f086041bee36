use std::path::{Path, PathBuf};

use super::checkpoint::Checkpoint;
use super::outputs;
use crate::backend::{Backend, Tensor};
use crate::data::idx;
use crate::error::{Error, Result};
use crate::gan::step::derive_seed;
use crate::gpu::{BackendChoice, GpuBackend, GpuContext};
use crate::nn::{Net, NetSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    /// One PNG with all samples in a grid.
    Grid,
    /// A folder of single PNGs, 000000.png, ...
    Png,
    /// A NumPy .npy file of u8 [n, 28, 28].
    Npy,
    /// An IDX file of u8 [n, 28, 28], like MNIST's.
    Idx,
}

#[derive(clap::Args, Clone, Debug)]
pub struct SampleArgs {
    /// A checkpoint.safetensors, or the run folder holding one.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = SampleFormat::Grid)]
    pub format: SampleFormat,
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

fn write_npy(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let shape = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({shape}), }}");
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

pub fn sample(args: SampleArgs) -> Result<()> {
    if args.n == 0 {
        return Err(Error::Config("--n must be positive".into()));
    }
    let path = if args.checkpoint.is_dir() {
        args.checkpoint.join("checkpoint.safetensors")
    } else {
        args.checkpoint.clone()
    };
    let ckpt = Checkpoint::load(&path)?;
    let spec: NetSpec = serde_json::from_str(ckpt.meta("g_spec", &path)?)
        .map_err(|e| Error::Data { path: path.clone(), msg: format!("bad g_spec: {e}") })?;
    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend)?)?;
    let chunk = args.n.min(256);
    let mut g = Net::new(&mut b, &spec, chunk)?;
    for (name, t) in [("g.params", g.params.clone()), ("g.running", g.running.clone())] {
        let v = ckpt.tensor(name, &path)?;
        if v.len() != t.len() {
            return Err(Error::Data {
                path: path.clone(),
                msg: format!("{name} does not match the generator"),
            });
        }
        b.write(&t, v)?;
    }
    let z_dim = spec.input.size();
    let shape = spec.output()?;
    let (h, w) = (shape.1, shape.2);
    let z = b.alloc(chunk * z_dim)?;
    let mut pixels = Vec::with_capacity(args.n * h * w);
    for c in 0..args.n.div_ceil(chunk) {
        let noise = crate::ops::random::Distribution::Normal { mean: 0.0, std: 1.0 };
        b.fill_random(noise, derive_seed(args.seed, c as u64, 4), 0, &z)?;
        g.forward(&mut b, &z, false, 0, 0)?;
        let imgs = b.read(g.output())?;
        let take = (args.n - c * chunk).min(chunk);
        pixels.extend_from_slice(&imgs[..take * h * w]);
    }
    let bytes: Vec<u8> = pixels.iter().map(|&v| outputs::to_u8(v)).collect();
    let out = &args.out;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.into(), source })?;
    }
    match args.format {
        SampleFormat::Grid => {
            let cols = (args.n as f64).sqrt().ceil() as usize;
            outputs::save_png(&outputs::grid(&pixels, args.n, h, w, cols), out)?
        }
        SampleFormat::Png => {
            std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.clone(), source })?;
            for (i, img) in bytes.chunks(h * w).enumerate() {
                let im = image::GrayImage::from_raw(w as u32, h as u32, img.to_vec()).expect("sized");
                outputs::save_png(&im, &out.join(format!("{i:06}.png")))?;
            }
        }
        SampleFormat::Npy => write_npy(out, &[args.n, h, w], &bytes)?,
        SampleFormat::Idx => idx::write(out, &[args.n, h, w], &bytes)?,
    }
    eprintln!("wrote {} samples to {}", args.n, out.display());
    Ok(())
}
