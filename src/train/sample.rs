use std::path::{Path, PathBuf};

use super::checkpoint::Checkpoint;
use super::data::DataInfo;
use super::outputs;
use crate::backend::{Backend, Tensor};
use crate::data::{idx, npy, table};
use crate::error::{Error, Result};
use crate::gan::step::derive_seed;
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext, GpuTensor};
use crate::nn::{LayerSpec, Net, NetSpec, Shape};
use crate::ops::activation::Activation;
use crate::ops::condition::Condition;
use crate::ops::random::Distribution;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    /// One PNG with all samples in a grid (one row per class for a conditional model).
    Grid,
    /// A folder of single PNGs, 000000.png, ...
    Png,
    /// A NumPy .npy file of u8 [n, h, w] (grey) or [n, h, w, 3] (RGB).
    Npy,
    /// An IDX file of u8 [n, h, w] (grey) or [n, 3, h, w], like MNIST's.
    Idx,
    /// CSV rows in the table's own columns and units (models trained on a CSV table).
    Csv,
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
    /// Default: grid for images, csv for tables.
    #[arg(long, value_enum)]
    pub format: Option<SampleFormat>,
    /// Conditional models: generate only this class (its number or folder name).
    #[arg(long)]
    pub label: Option<String>,
    /// InfoGAN models (--info-cat): generate with the categorical code fixed to this value.
    #[arg(long)]
    pub code: Option<usize>,
    /// Draw from the live generator's weights, not their moving average (--g-ema).
    #[arg(long)]
    pub raw: bool,
    /// Generate from these latent vectors instead of random ones: a float32 .npy of shape
    /// [n, z_dim] (its n replaces --n), e.g. to compare with the same G run elsewhere.
    #[arg(long)]
    pub z: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

/// The most samples one grid PNG shows (a 10000-image grid of 64×64 is already 6400 pixels wide).
const MAX_GRID: usize = 10000;

/// Room for `n` samples of `d` values (and their bytes), refused with what to do where the
/// memory is not there, instead of an aborted allocation.
fn reserve_samples(values: &mut Vec<f32>, n: usize, d: usize, format: SampleFormat) -> Result<()> {
    if format == SampleFormat::Grid && n > MAX_GRID {
        return Err(Error::Config(format!(
            "--n {n} is too many for one grid PNG (at most {MAX_GRID}); use --format png, npy or idx"
        )));
    }
    let total = n.checked_mul(d).filter(|&t| t.checked_mul(5).is_some());
    match total.map(|t| values.try_reserve_exact(t).map(|_| t)) {
        Some(Ok(t)) if Vec::<u8>::new().try_reserve_exact(t).is_ok() => Ok(()),
        _ => Err(Error::Config(format!(
            "--n {n} samples of {d} values do not fit in this machine's memory; write them in parts \
             (several runs of a smaller --n with different --seed)"
        ))),
    }
}

/// A checkpoint's metadata entry `what` that does not parse.
fn bad(path: &Path, what: &str, e: serde_json::Error) -> Error {
    Error::Data { path: path.to_path_buf(), msg: format!("bad {what}: {e}") }
}

/// A trained generator, ready to run on any batch of latent vectors.
pub struct Generator {
    pub spec: NetSpec,
    pub info: DataInfo,
    /// The one-hot planes of G's input: the classes of a conditional model, or the values of
    /// InfoGAN's categorical code.
    pub codes: usize,
    /// InfoGAN's continuous codes: the last dimensions of z.
    pub continuous: usize,
    net: Net<GpuBackend>,
    input: Option<GpuTensor>,
    pub chunk: usize,
}

impl Generator {
    /// G of the checkpoint at `path` (a file or a run folder), built for `chunk` samples a call:
    /// its moving average when it has one, unless `raw`.
    pub fn load(b: &mut GpuBackend, path: &Path, chunk: usize, raw: bool) -> Result<Generator> {
        let path = Self::checkpoint_path(path);
        Self::from_checkpoint(b, &Checkpoint::load(&path)?, &path, chunk, raw)
    }

    /// The checkpoint file `path` names: itself, or the one in a run folder.
    pub fn checkpoint_path(path: &Path) -> PathBuf {
        if path.is_dir() { path.join("checkpoint.safetensors") } else { path.to_path_buf() }
    }

    /// [`Generator::load`] from a checkpoint already read from `path`. Builds G for at most
    /// `chunk` samples a call, fewer where its activations need (`Generator::chunk`).
    pub fn from_checkpoint(
        b: &mut GpuBackend,
        ckpt: &Checkpoint,
        path: &Path,
        chunk: usize,
        raw: bool,
    ) -> Result<Generator> {
        let spec = Self::spec_of(ckpt, path)?;
        let (mut info, codes, continuous) = Self::codes_of(ckpt, path)?;
        // Fewer samples a call where one of G's activations would not fit one binding (callers
        // draw their latent vectors as before and go through `run_all`).
        let floats = (b.ctx.limits.max_storage_buffer_binding_size / 4) as usize;
        let chunk = chunk.min(floats / spec.largest_activation()?.max(1)).max(1);
        let mut net = Net::new(b, &spec, chunk)?;
        let g = if !raw && ckpt.has_net("g_ema") { "g_ema" } else { "g" };
        info.calibration = info.calibration.filter(|c| c.net == g);
        ckpt.load_net(b, g, &net, path)?;
        // A progressively grown G in the middle of a fade-in draws at the α it was saved at.
        if let Some(alpha) = ckpt.meta.get("blend_alpha").and_then(|a| a.parse().ok()) {
            net.set_blend(alpha);
        }
        let input = if codes == 0 { None } else { Some(b.alloc(chunk * spec.input.size())?) };
        Ok(Generator { spec, info, codes, continuous, net, input, chunk })
    }

    /// The generator's architecture as a checkpoint records it.
    pub fn spec_of(ckpt: &Checkpoint, path: &Path) -> Result<NetSpec> {
        serde_json::from_str(ckpt.meta("g_spec", path)?).map_err(|e| bad(path, "g_spec", e))
    }

    /// A checkpoint's data description, the one-hot planes of its G's input (classes, or the
    /// values of InfoGAN's categorical code) and its continuous codes.
    pub fn codes_of(ckpt: &Checkpoint, path: &Path) -> Result<(DataInfo, usize, usize)> {
        // Checkpoints from before data sources had no "data" entry: unconditional images.
        let info: DataInfo = match ckpt.meta("data", path) {
            Ok(j) => serde_json::from_str(j).map_err(|e| bad(path, "data", e))?,
            Err(_) => DataInfo::default(),
        };
        let config: serde_json::Value = match ckpt.meta("config", path) {
            Ok(j) => serde_json::from_str(j).map_err(|e| bad(path, "config", e))?,
            Err(_) => serde_json::Value::Null,
        };
        let count = |key: &str| config[key].as_u64().unwrap_or(0) as usize;
        let codes = info.classes.len() + count("info_cat");
        Ok((info, codes, count("info_cont")))
    }

    pub fn z_dim(&self) -> usize {
        self.spec.input.size() - self.codes
    }

    /// The InfoGAN continuous codes of `n` latent vectors.
    fn code_layout(&self, n: usize) -> crate::ops::info_loss::InfoLoss {
        let (k, c, z_dim) = (self.codes, self.continuous, self.z_dim());
        crate::ops::info_loss::InfoLoss { n, k, c, z_dim, cont_weight: 1.0 }
    }

    /// Fresh latent vectors [n, z_dim] (any n) from `seed`: N(0, 1), with InfoGAN's continuous
    /// codes U(−1, 1) as in training.
    pub fn draw_z(&self, b: &mut GpuBackend, seed: u64, z: &GpuTensor) -> Result<()> {
        crate::ops::random::fill(b, Distribution::Normal { mean: 0.0, std: 1.0 }, seed, 0, z)?;
        if self.continuous > 0 {
            crate::ops::info_loss::draw_codes(
                b,
                &self.code_layout(z.len() / self.z_dim()),
                crate::ops::info_loss::codes_seed(seed),
                z,
            )?;
        }
        Ok(())
    }

    /// [`Generator::draw_z`] on the host, for one latent vector of `z_dim`.
    pub fn draw_codes_host(&self, seed: u64, z: &mut [f32]) {
        if self.continuous > 0 {
            let s = self.code_layout(1);
            crate::ops::info_loss::reference::info_loss_draw_codes(&s, crate::ops::info_loss::codes_seed(seed), z);
        }
    }

    /// Whether the one-hot planes are InfoGAN's categorical code rather than classes.
    pub fn info_codes(&self) -> bool {
        self.info.classes.is_empty() && self.codes > 0
    }

    /// The one-hot value `args` ask for: a class by `label` (conditional models) or a value of
    /// InfoGAN's categorical code by `code`.
    pub fn fixed_code(&self, label: Option<&str>, code: Option<usize>) -> Result<Option<usize>> {
        match (label, code) {
            (Some(l), None) => self.class_index(l).map(Some),
            (None, Some(k)) if self.info_codes() && k < self.codes => Ok(Some(k)),
            (None, Some(k)) => Err(Error::Config(format!(
                "--code {k} needs a model trained with --info-cat of more than {k} values (this one: {})",
                if self.info.classes.is_empty() { self.codes } else { 0 }
            ))),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(Error::Config("give --label or --code, not both".into())),
        }
    }

    pub fn output_shape(&self) -> Result<Shape> {
        self.spec.output()
    }

    /// A sigmoid generator's samples are in [0, 1]; every other's in [−1, 1].
    fn unit_pixels(&self) -> bool {
        matches!(self.spec.layers.last(), Some(LayerSpec::Activation { f: Activation::Sigmoid }))
    }

    /// The class index named by `label` (a number or a class name).
    pub fn class_index(&self, label: &str) -> Result<usize> {
        let classes = &self.info.classes;
        if classes.is_empty() {
            return Err(Error::Config("--label needs a model trained with --conditional".into()));
        }
        classes
            .iter()
            .position(|c| c == label)
            .or_else(|| label.parse().ok().filter(|&i: &usize| i < classes.len()))
            .ok_or_else(|| Error::Config(format!("--label {label}: the classes are {}", classes.join(", "))))
    }

    /// G's output for any number of latent vectors `z` ([n, z_dim]) and their `labels` ([n]),
    /// [`Generator::chunk`] at a time: what a seed draws does not depend on how many samples the
    /// adapter fits in one call.
    pub fn run_all(&mut self, b: &mut GpuBackend, z: &GpuTensor, labels: &[f32]) -> Result<Vec<f32>> {
        let zd = self.z_dim();
        let (rows, chunk) = (z.len() / zd, self.chunk);
        if rows == chunk {
            return self.run(b, z, labels);
        }
        let part = b.alloc(chunk * zd)?;
        let mut out = Vec::new();
        for start in (0..rows).step_by(chunk) {
            let take = (rows - start).min(chunk);
            b.copy(&z.slice(start * zd, take * zd), &part.slice(0, take * zd))?;
            let mut l = labels[start..start + take].to_vec();
            l.resize(chunk, 0.0);
            let values = self.run(b, &part, &l)?;
            out.extend_from_slice(&values[..take * (values.len() / chunk)]);
        }
        Ok(out)
    }

    /// G's output for `z` ([chunk, z_dim]) and `labels` ([chunk] class indices; ignored when
    /// unconditional): images in [−1, 1] or table rows in the model's units.
    pub fn run(&mut self, b: &mut GpuBackend, z: &GpuTensor, labels: &[f32]) -> Result<Vec<f32>> {
        let x = match &self.input {
            Some(input) => {
                let l = b.upload(labels)?;
                let s = Condition {
                    n: self.chunk,
                    dim: self.z_dim(),
                    classes: self.codes,
                    spatial: 1,
                    sigma: 0.0,
                    seed: 0,
                    offset: 0,
                };
                crate::ops::condition::forward(b, &s, z, &l, input)?;
                if let Some(to) = self.net.labels() {
                    b.copy(&l, to)?;
                }
                input.clone()
            }
            None => z.clone(),
        };
        self.net.forward(b, &x, false, 0, 0)?;
        let mut out = b.read(self.net.output())?;
        if self.unit_pixels() {
            out.iter_mut().for_each(|v| *v = 2.0 * *v - 1.0);
        }
        Ok(out)
    }
}

/// Planar [n, c, h, w] bytes as interleaved [n, h, w, c].
fn interleave(bytes: &[u8], shape: Shape) -> Vec<u8> {
    let Shape(c, h, w) = shape;
    let mut out = vec![0; bytes.len()];
    for (i, img) in bytes.chunks(c * h * w).enumerate() {
        for ch in 0..c {
            for p in 0..h * w {
                out[i * c * h * w + p * c + ch] = img[ch * h * w + p];
            }
        }
    }
    out
}

/// The latent vectors of `sample --z`: a float32 .npy [n, z_dim] of finite numbers, and its
/// shape [n, z_dim] (checked against the generator once it is built for n).
fn read_latents(path: &Path) -> Result<(Vec<f32>, [usize; 2])> {
    let file = npy::read(path)?;
    let bad = |msg: String| Error::Data { path: path.into(), msg };
    let values = file.f32s().ok_or_else(|| bad("latent vectors must be float32 ('<f4')".into()))?;
    let shape = file.shape();
    let &[n, z_dim] = &shape[..] else {
        return Err(bad(format!("shape {shape:?} is not [n, z_dim]")));
    };
    if n == 0 || values.len() != n * z_dim {
        return Err(bad(format!("shape {shape:?} does not hold its {} values", values.len())));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("element {i} is {}, not a finite number", values[i])));
    }
    Ok((values, [n, z_dim]))
}

pub fn sample(mut args: SampleArgs, device: &DeviceSettings) -> Result<()> {
    if args.n == 0 {
        return Err(Error::Config("--n must be positive".into()));
    }
    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend, device)?)?;
    // The file decides n, so it is read before the generator is built for it.
    let latents = args.z.as_deref().map(read_latents).transpose()?;
    if let Some((_, [n, _])) = &latents {
        args.n = *n;
    }
    let chunk = args.n.min(256);
    let mut g = Generator::load(&mut b, &args.checkpoint, chunk, args.raw)?;
    if let (Some((_, [_, z_dim])), Some(path)) = (&latents, &args.z)
        && *z_dim != g.z_dim()
    {
        let msg = format!("latent vectors of {z_dim} values, this generator's z_dim is {}", g.z_dim());
        return Err(Error::Data { path: path.clone(), msg });
    }
    let latents = latents.map(|(v, _)| v);
    let fixed = g.fixed_code(args.label.as_deref(), args.code)?;
    let classes = g.codes;
    let format = args.format.unwrap_or(if g.info.is_table() { SampleFormat::Csv } else { SampleFormat::Grid });
    let shape = g.output_shape()?;
    if (format == SampleFormat::Csv) != g.info.is_table() {
        return Err(Error::Config(format!(
            "--format {format:?} does not fit a model of {}",
            if g.info.is_table() { "table rows (use csv)" } else { "images" }
        )));
    }
    // Grids of a conditional model show one row per class, 10 to a row.
    let cols = if classes > 0 && fixed.is_none() { 10 } else { (args.n as f64).sqrt().ceil() as usize };
    let label_of = |i: usize| fixed.unwrap_or(if classes > 0 { i / cols % classes } else { 0 }) as f32;
    let z = b.alloc(chunk * g.z_dim())?;
    let mut values = Vec::new();
    reserve_samples(&mut values, args.n, shape.size(), format)?;
    for c in 0..args.n.div_ceil(chunk) {
        match &latents {
            Some(v) => {
                let zd = g.z_dim();
                let mut rows = v[c * chunk * zd..((c + 1) * chunk).min(args.n) * zd].to_vec();
                rows.resize(chunk * zd, 0.0);
                b.write(&z, &rows)?;
            }
            None => g.draw_z(&mut b, derive_seed(args.seed, c as u64, 4), &z)?,
        }
        let labels: Vec<f32> = (0..chunk).map(|i| label_of(c * chunk + i)).collect();
        let out = g.run_all(&mut b, &z, &labels)?;
        let take = (args.n - c * chunk).min(chunk);
        values.extend_from_slice(&out[..take * shape.size()]);
    }
    let out = &args.out;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.into(), source })?;
    }
    let bytes: Vec<u8> = values.iter().map(|&v| outputs::to_u8(v)).collect();
    let Shape(ch, h, w) = shape;
    let dims: Vec<usize> = if ch == 1 { vec![args.n, h, w] } else { vec![args.n, h, w, ch] };
    match format {
        SampleFormat::Grid => outputs::save_png(&outputs::grid(&values, args.n, shape, cols), out)?,
        SampleFormat::Png => {
            std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.clone(), source })?;
            for (i, img) in values.chunks(shape.size()).enumerate() {
                outputs::save_png(&outputs::grid_cell(img, shape), &out.join(format!("{i:06}.png")))?;
            }
        }
        SampleFormat::Npy => npy::write_u8(out, &dims, &interleave(&bytes, shape))?,
        SampleFormat::Idx => {
            let dims: Vec<usize> = if ch == 1 { vec![args.n, h, w] } else { vec![args.n, ch, h, w] };
            idx::write(out, &dims, &bytes)?
        }
        SampleFormat::Csv => table::write_csv(out, &g.info.columns, &g.info.kinds(), &g.info.decode(&values))?,
    }
    eprintln!("wrote {} samples to {}", args.n, out.display());
    Ok(())
}
