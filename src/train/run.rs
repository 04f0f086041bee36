use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::data::{self, DataFormat, DataInfo, TrainData};
use super::outputs;
use super::preset::Preset;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::eval::classifier::Classifier;
use crate::eval::{Reference, Scores};
use crate::gan::models::{self, DcganOptions};
use crate::gan::step::derive_seed;
use crate::gan::{Gan, GanConfig, IterStats, LossKind, ModelKind, OptConfig, OptKind};
use crate::gpu::{BackendChoice, GpuBackend, GpuContext, GpuTensor, PendingRead};
use crate::nn::InitScheme;
use crate::nn::{NetSpec, Shape};
use crate::ops::gather::{Gather, GatherKind, pack_bytes, pack_indices};
use crate::ops::random::reference::bits;

/// Every setting of a run; written to config.json and into each checkpoint.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainArgs {
    /// A well-known setup: goodfellow2014, mlp-zeros, radford2015 or dcgan-keras (settings given
    /// on the command line win).
    #[arg(long, value_enum)]
    #[serde(default)]
    pub preset: Option<Preset>,
    /// vulkan, metal, dx12, gl or auto
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// dcgan (default: recognisable digits after one epoch), mlp (also for CSV tables) or keras
    #[arg(long, value_enum, default_value_t = ModelKind::Dcgan)]
    pub model: ModelKind,
    /// bce (non-saturating G loss), minimax, lsgan, wgan or hinge (default: hinge for the
    /// default DCGAN, bce otherwise)
    #[arg(long, value_enum, default_value_t = LossKind::Bce)]
    pub loss: LossKind,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 100)]
    pub z_dim: usize,
    /// The generator step learns from the first N of the --batch-size fakes (default: all of them),
    /// for setups that train G at a smaller batch than D.
    #[arg(long)]
    #[serde(default)]
    pub g_batch: Option<usize>,
    /// Discriminator (critic) steps per generator step; each takes its own real batch.
    #[arg(long, default_value_t = 1)]
    pub d_steps: usize,
    /// WGAN critic weight clipping bound.
    #[arg(long, default_value_t = 0.01)]
    pub clip: f32,
    /// Target for real images (0.9 = one-sided label smoothing).
    #[arg(long, default_value_t = 1.0)]
    pub real_label: f32,
    #[arg(long, value_enum, default_value_t = OptKind::Adam)]
    pub opt_g: OptKind,
    #[arg(long, value_enum, default_value_t = OptKind::Adam)]
    pub opt_d: OptKind,
    /// G's Adam/SGD learning rate (default: 1e-3 for the default DCGAN, 2e-4 otherwise).
    #[arg(long, default_value_t = 2e-4)]
    pub lr_g: f32,
    /// D's learning rate (default: as --lr-g).
    #[arg(long, default_value_t = 2e-4)]
    pub lr_d: f32,
    /// Adam's β1 (default: 0 for the default DCGAN, 0.5 otherwise).
    #[arg(long, default_value_t = 0.5)]
    pub beta1: f32,
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (default runs/<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep only these digits, e.g. 0,8.
    #[arg(long)]
    pub digits: Option<String>,
    /// Use only the first N training images (quick experiments).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Train on your own data instead of the bundled MNIST: an IDX image file (gzipped or not,
    /// e.g. Fashion-MNIST), a folder of PNG/JPEG images (subfolders = classes) or a CSV table.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How to read --data (default: a folder is a folder, *.csv a table, anything else IDX).
    #[arg(long, value_enum, requires = "data")]
    #[serde(default)]
    pub format: Option<DataFormat>,
    /// The IDX label file that goes with --data (needed for --digits and --conditional).
    #[arg(long, requires = "data")]
    pub labels: Option<PathBuf>,
    /// Side length images from a folder are cropped square and resized to (the DCGAN takes
    /// 28, 32, 64 or any side that halves down to 4..7).
    #[arg(long, default_value_t = 28)]
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    /// Channels of images from a folder: 1 (grey) or 3 (RGB); default: as the images are.
    #[arg(long)]
    #[serde(default)]
    pub channels: Option<usize>,
    /// Class-conditional G and D (Mirza & Osindero 2014): both are told the label, one-hot;
    /// the epoch grids show one row per class and `sample --label` picks one.
    #[arg(long)]
    #[serde(default)]
    pub conditional: bool,
    /// Gaussian noise of this standard deviation on every input of D (real and fake), falling
    /// linearly to 0 over the run (instance noise, Sønderby et al. 2016). Pixels span [−1, 1].
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub instance_noise: f32,
    /// Multiply both learning rates by this after every epoch (e.g. 0.95).
    #[arg(long, default_value_t = 1.0)]
    #[serde(default = "one")]
    pub lr_decay: f32,
    /// Skip D's update while its loss is below this (judged on the latest loss read back, every
    /// --log-every iterations), so a winning D waits for G.
    #[arg(long)]
    #[serde(default)]
    pub d_skip_below: Option<f32>,
    /// Start D from the discriminator of this checkpoint (or run folder); same D architecture.
    #[arg(long)]
    #[serde(default)]
    pub init_d: Option<PathBuf>,
    /// Never update D: G trains against a fixed discriminator (use with --init-d).
    #[arg(long)]
    #[serde(default)]
    pub freeze_d: bool,
    /// Score G's samples every N iterations (2000 samples; FD, KID, classifier score,
    /// precision/recall, classes covered) into metrics.jsonl and eval.png, warning on the console
    /// when they look like mode collapse. 1x28x28 digits only. 0: never.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub eval_every: u64,
    /// Read losses back every N iterations (asynchronously).
    #[arg(long, default_value_t = 25)]
    pub log_every: u64,
    /// MLP generator hidden sizes.
    #[arg(long, default_value = "256,512,1024")]
    pub g_hidden: String,
    /// MLP discriminator hidden sizes.
    #[arg(long, default_value = "512,256")]
    pub d_hidden: String,
    /// Dropout after each hidden layer of the discriminator (default: 0.3 for mlp, as Goodfellow
    /// et al. used dropout in D; 0 for dcgan).
    #[arg(long)]
    pub d_dropout: Option<f32>,
    /// DCGAN feature-map channels (G's 14x14 map and D's first conv; doubled at 7x7). 32 is
    /// plenty for 28x28 digits and a quarter of the work of Radford et al.'s 64.
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// DCGAN: the generator's width when it differs from D's (default: --width).
    #[arg(long)]
    #[serde(default)]
    pub g_width: Option<usize>,
    /// Initial weights: dcgan (N(0, 0.02), Radford et al.; the default for dcgan) or pytorch
    /// (PyTorch's layer defaults; the default for mlp).
    #[arg(long, value_enum)]
    #[serde(default)]
    pub init: Option<InitScheme>,
    /// DCGAN: no batch norm in the generator.
    #[arg(long)]
    pub no_g_batch_norm: bool,
    /// DCGAN: batch norm in the discriminator.
    #[arg(long)]
    pub d_batch_norm: bool,
    /// Spectral normalisation of every weighted layer of the discriminator (Miyato et al. 2018):
    /// one power iteration per step (default: on for the default DCGAN; `--d-spectral-norm
    /// false` turns it off).
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    #[serde(default)]
    pub d_spectral_norm: bool,
    /// Keep an exponential moving average of G's weights with this decay (warmed up as
    /// (1+t)/(10+t)); epoch grids, --eval-every, sample, interpolate and eval draw from it.
    /// 0 turns it off.
    #[arg(long, default_value_t = 0.999)]
    #[serde(default)]
    pub g_ema: f32,
    /// Epoch grids and --eval-every from the live generator, not its moving average.
    #[arg(long)]
    #[serde(default)]
    pub raw: bool,
    /// Continue the run in this folder from its checkpoint (other settings come from it,
    /// except --epochs, which may extend the run).
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
}

fn default_image_size() -> usize {
    28
}

fn one() -> f32 {
    1.0
}

pub(crate) fn parse_list(what: &str, s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().map_err(|_| Error::Config(format!("--{what}: '{p}' is not a number"))))
        .collect()
}

impl TrainArgs {
    fn d_dropout(&self) -> f32 {
        self.d_dropout.unwrap_or(match self.model {
            ModelKind::Mlp => 0.3,
            ModelKind::Dcgan | ModelKind::Keras => 0.0,
        })
    }

    /// The two networks for samples of shape `img`, told one of `classes` classes when > 0.
    pub fn specs(&self, img: Shape, classes: usize) -> Result<(NetSpec, NetSpec)> {
        let square = img.1 == img.2;
        let (g, d) = match self.model {
            ModelKind::Mlp => (
                models::mlp_generator(self.z_dim, &parse_list("g-hidden", &self.g_hidden)?, img),
                models::mlp_discriminator(img, &parse_list("d-hidden", &self.d_hidden)?, self.d_dropout()),
            ),
            ModelKind::Dcgan if square && models::dcgan_levels(img.1).is_some() => {
                let o = DcganOptions {
                    width: self.width,
                    g_batch_norm: !self.no_g_batch_norm,
                    d_batch_norm: self.d_batch_norm,
                    d_dropout: self.d_dropout(),
                };
                let g = DcganOptions { width: self.g_width.unwrap_or(self.width), ..o };
                (models::dcgan_generator(self.z_dim, img, g), models::dcgan_discriminator(img, o))
            }
            ModelKind::Keras if square && img.1.is_multiple_of(4) => {
                (models::keras_generator(self.z_dim, img), models::keras_discriminator(img))
            }
            kind => {
                return Err(Error::Config(format!(
                    "the {kind:?} model needs square images of a side it can halve (28, 32, 64), the \
                     data has {}x{}x{}; use --image-size for a folder, or --model mlp",
                    img.0, img.1, img.2
                )));
            }
        };
        let (g, mut d) = if classes > 0 { models::conditional(g, d, classes) } else { (g, d) };
        d.spectral_norm = self.d_spectral_norm;
        Ok((g, d))
    }

    pub fn gan_config(&self) -> GanConfig {
        let opt = |kind, lr| OptConfig {
            kind,
            lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: 1e-8,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        };
        GanConfig {
            loss: self.loss,
            batch: self.batch_size,
            z_dim: self.z_dim,
            d_steps: self.d_steps.max(1),
            clip: self.clip,
            real_label: self.real_label,
            opt_g: opt(self.opt_g, self.lr_g),
            opt_d: opt(self.opt_d, self.lr_d),
            seed: self.seed,
            init: self.init(),
            classes: 0,
            instance_noise: self.instance_noise,
            noise_anneal_steps: 0,
            g_batch: self.g_batch.unwrap_or(0),
            g_ema: self.g_ema,
        }
    }

    /// Radford et al.'s N(0, 0.02) for the DCGAN, PyTorch's layer defaults for the MLP.
    pub fn init(&self) -> InitScheme {
        self.init.unwrap_or(match self.model {
            ModelKind::Dcgan => InitScheme::Dcgan,
            ModelKind::Mlp | ModelKind::Keras => InitScheme::Pytorch,
        })
    }

    fn validate(&self) -> Result<()> {
        if self.batch_size == 0
            || self.epochs == 0
            || self.z_dim == 0
            || self.log_every == 0
            || self.width == 0
            || self.g_width == Some(0)
        {
            return Err(Error::Config(
                "--batch-size, --epochs, --z-dim, --log-every, --width and --g-width must be positive".into(),
            ));
        }
        if let Some(g) = self.g_batch.filter(|&g| g == 0 || g > self.batch_size) {
            return Err(Error::Config(format!(
                "--g-batch {g} must be between 1 and --batch-size {}",
                self.batch_size
            )));
        }
        // Every number up front: a NaN learning rate would otherwise train until "diverged".
        // Each range as the error states it, and its test.
        type Range = (&'static str, fn(f32) -> bool);
        const POSITIVE: Range = ("> 0", |v| v > 0.0);
        const NON_NEGATIVE: Range = (">= 0", |v| v >= 0.0);
        const UNIT: Range = ("in [0, 1)", |v| (0.0..1.0).contains(&v));
        const LABEL: Range = ("in (0, 1]", |v| v > 0.0 && v <= 1.0);
        let checks = [
            ("lr-g", self.lr_g, POSITIVE),
            ("lr-d", self.lr_d, POSITIVE),
            ("beta1", self.beta1, UNIT),
            ("beta2", self.beta2, UNIT),
            ("momentum", self.momentum, UNIT),
            ("weight-decay", self.weight_decay, NON_NEGATIVE),
            ("clip", self.clip, POSITIVE),
            ("real-label", self.real_label, LABEL),
            ("instance-noise", self.instance_noise, NON_NEGATIVE),
            ("lr-decay", self.lr_decay, POSITIVE),
            ("g-ema", self.g_ema, UNIT),
        ];
        for (flag, value, (want, ok)) in checks {
            if !value.is_finite() || !ok(value) {
                return Err(Error::Config(format!("--{flag} {value}: must be a finite number {want}")));
            }
        }
        if self.d_skip_below.is_some_and(|v| !v.is_finite()) {
            return Err(Error::Config("--d-skip-below must be a finite number".into()));
        }
        if let Some(c) = self.channels.filter(|c| ![1, 3].contains(c)) {
            return Err(Error::Config(format!("--channels {c}: use 1 (grey) or 3 (RGB)")));
        }
        if !(0.0..1.0).contains(&self.d_dropout()) {
            return Err(Error::Config(format!("--d-dropout {} must be in [0, 1)", self.d_dropout())));
        }
        Ok(())
    }
}

/// "YYYYMMDD-HHMMSS" in UTC, for default run folders.
fn timestamp() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

/// The data order of one epoch: a Fisher–Yates shuffle driven by (seed, epoch).
pub(crate) fn epoch_order(count: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let s = derive_seed(seed, epoch as u64, 7);
    let mut order: Vec<u32> = (0..count as u32).collect();
    for i in (1..count).rev() {
        let [a, b] = bits(s, 0, i as u64);
        let j = (((b as u64) << 32 | a as u64) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

const CHECKPOINT: &str = "checkpoint.safetensors";

/// Every tensor a checkpoint holds, by name: what `write_checkpoint` saves and `restore` loads.
fn checkpoint_tensors(gan: &Gan<GpuBackend>) -> Vec<(&'static str, GpuTensor)> {
    let mut tensors = vec![
        ("g.params", gan.g.params.clone()),
        ("g.running", gan.g.running.clone()),
        ("d.params", gan.d.params.clone()),
        ("d.running", gan.d.running.clone()),
        ("opt_g.m", gan.opt_g.m.clone()),
        ("opt_g.v", gan.opt_g.v.clone()),
        ("opt_d.m", gan.opt_d.m.clone()),
        ("opt_d.v", gan.opt_d.v.clone()),
    ];
    if let Some(ema) = &gan.g_ema {
        tensors.push(("g_ema.params", ema.params.clone()));
        tensors.push(("g_ema.running", ema.running.clone()));
    }
    if gan.d.spec.spectral_norm {
        tensors.push(("d.spectral", gan.d.spectral_state.clone()));
    }
    tensors
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

fn write_checkpoint(
    dir: &Path,
    args: &TrainArgs,
    info: &DataInfo,
    gan: &Gan<GpuBackend>,
    b: &mut GpuBackend,
    epoch: usize,
) -> Result<()> {
    let tensors = checkpoint_tensors(gan)
        .into_iter()
        .map(|(name, t)| Ok((name.to_string(), b.read(&t)?)))
        .collect::<Result<Vec<_>>>()?;
    let meta = [
        ("config", json(args)),
        ("data", json(info)),
        ("g_spec", json(&gan.g.spec)),
        ("d_spec", json(&gan.d.spec)),
        ("step", gan.step.to_string()),
        ("epoch", epoch.to_string()),
        ("opt_g.t", gan.opt_g.t.to_string()),
        ("opt_d.t", gan.opt_d.t.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Checkpoint { tensors, meta }.save(&dir.join(CHECKPOINT))
}

fn restore(ckpt: &Checkpoint, path: &Path, gan: &mut Gan<GpuBackend>, b: &mut GpuBackend) -> Result<usize> {
    let pairs = checkpoint_tensors(gan);
    for (name, t) in pairs {
        ckpt.load_into(b, name, &t, path)?;
    }
    let num = |k: &str| -> Result<u64> {
        ckpt.meta(k, path)?
            .parse()
            .map_err(|_| Error::Data { path: path.into(), msg: format!("bad '{k}' in metadata") })
    };
    gan.step = num("step")?;
    gan.opt_g.t = num("opt_g.t")?;
    gan.opt_d.t = num("opt_d.t")?;
    Ok(num("epoch")? as usize)
}

struct Logger {
    metrics: PathBuf,
    pending: VecDeque<(u64, usize, PendingRead)>,
    history: Vec<(u64, IterStats)>,
    last: Option<IterStats>,
    last_time: Instant,
    last_step: u64,
    images_per_s: f64,
}

impl Logger {
    /// Records every read-back that has arrived; `wait` blocks for all of them.
    fn collect(&mut self, b: &mut GpuBackend, gan: &Gan<GpuBackend>, wait: bool) -> Result<()> {
        while let Some((step, epoch, p)) = self.pending.front() {
            let values = match b.try_collect(p)? {
                Some(v) => v,
                None if wait => {
                    b.limit_in_flight(0)?;
                    continue;
                }
                None => break,
            };
            let (step, epoch) = (*step, *epoch);
            self.pending.pop_front();
            let s = gan.summarise(&values);
            if !(s.d_loss.is_finite() && s.g_loss.is_finite()) {
                return Err(Error::Diverged { step, d_loss: s.d_loss, g_loss: s.g_loss });
            }
            let now = Instant::now();
            let dt = now.duration_since(self.last_time).as_secs_f64();
            if step > self.last_step && dt > 0.0 {
                self.images_per_s = (step - self.last_step) as f64 * gan.cfg.batch as f64 / dt;
            }
            (self.last_time, self.last_step) = (now, step);
            let line = serde_json::json!({
                "step": step, "epoch": epoch, "d_loss": s.d_loss, "g_loss": s.g_loss,
                "d_real": s.d_real, "d_fake": s.d_fake, "acc_real": s.acc_real, "acc_fake": s.acc_fake,
                "images_per_s": (self.images_per_s * 10.0).round() / 10.0,
            });
            outputs::append_jsonl(&self.metrics, &line)?;
            self.history.push((step, s));
            self.last = Some(s);
        }
        Ok(())
    }

    fn plot(&self, path: &Path) -> Result<()> {
        let series = |f: fn(&IterStats) -> f32| {
            self.history.iter().map(|(st, s)| (*st as f32, f(s))).collect::<Vec<_>>()
        };
        outputs::plot(
            path,
            &[([200, 30, 30], series(|s| s.d_loss)), ([30, 60, 200], series(|s| s.g_loss))],
            &[([30, 150, 30], series(|s| s.acc_real)), ([230, 140, 0], series(|s| s.acc_fake))],
        )
    }
}

/// The 64 (or one row per class) samples the epoch grids show, from fixed noise.
struct Showcase {
    cols: usize,
    z: Vec<GpuTensor>,
    labels: Vec<Option<GpuTensor>>,
}

impl Showcase {
    /// `purpose` separates the noise of the grids (3) from the evaluation's (8).
    fn new(
        b: &mut GpuBackend,
        cfg: &GanConfig,
        (shown, cols): (usize, usize),
        classes: usize,
        purpose: u64,
    ) -> Result<Self> {
        let chunks = shown.div_ceil(cfg.batch);
        let mut z = Vec::with_capacity(chunks);
        let mut labels = Vec::with_capacity(chunks);
        for c in 0..chunks {
            let mut noise = vec![0.0; cfg.batch * cfg.z_dim];
            let seed = derive_seed(cfg.seed, u64::MAX - c as u64, purpose);
            crate::ops::random::reference::normal(&mut noise, seed, 0, 0.0, 1.0);
            z.push(b.upload(&noise)?);
            // Row r of the grid shows class r.
            let label = |i: usize| ((c * cfg.batch + i) / cols % classes.max(1)) as f32;
            labels.push(if classes > 0 {
                Some(b.upload(&(0..cfg.batch).map(label).collect::<Vec<_>>())?)
            } else {
                None
            });
        }
        Ok(Showcase { cols, z, labels })
    }

    /// G's samples for the showcase noise, in [−1, 1] (images) or standardised units (rows):
    /// the EMA generator's unless `raw` (the caller refreshes its statistics first).
    fn generate(
        &self,
        b: &mut GpuBackend,
        gan: &mut Gan<GpuBackend>,
        unit_pixels: bool,
        raw: bool,
    ) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for (z, l) in self.z.iter().zip(&self.labels) {
            out.extend(gan.generate(b, z, l.as_ref(), raw)?);
        }
        if unit_pixels {
            out.iter_mut().for_each(|v| *v = 2.0 * *v - 1.0);
        }
        Ok(out)
    }
}

/// One line on how close generated rows are to real ones: the worst column mean and std gaps (in
/// real standard deviations) and the worst correlation gap.
fn table_summary(real: &[f64], fake: &[f64], cols: usize) -> String {
    use crate::data::table::{column_stats, correlation};
    let (r, f) = (column_stats(real, cols), column_stats(fake, cols));
    let gap = |a: &[f64], b: &[f64]| {
        (0..cols).map(|c| (a[c] - b[c]).abs() / r.std[c].max(1e-12)).fold(0.0, f64::max)
    };
    let (rc, fc) = (correlation(real, cols), correlation(fake, cols));
    let corr = rc.iter().zip(&fc).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    format!(
        "worst column mean gap {:.2} std, std gap {:.2} std, correlation gap {corr:.2}",
        gap(&r.mean, &f.mean),
        gap(&r.std, &f.std)
    )
}

/// The two columns whose correlation is largest in magnitude ((0, 0) for a single column).
fn most_correlated(values: &[f64], cols: usize) -> (usize, usize) {
    let r = crate::data::table::correlation(values, cols);
    let pairs = (0..cols).flat_map(|i| (i + 1..cols).map(move |j| (i, j)));
    pairs.max_by(|a, b| r[a.0 * cols + a.1].abs().total_cmp(&r[b.0 * cols + b.1].abs())).unwrap_or((0, 0))
}

/// `--eval-every`: the classifier scores of G's samples during training.
struct Evaluator {
    samples: Showcase,
    classifier: Classifier<GpuBackend>,
    reference: Reference,
    history: Vec<(u64, Scores)>,
}

impl Evaluator {
    fn new(b: &mut GpuBackend, cfg: &GanConfig, classes: usize) -> Result<Self> {
        let mut classifier = Classifier::bundled(b, 500)?;
        let reference = Reference::new(b, &mut classifier)?;
        let samples = Showcase::new(b, cfg, (EVAL_SAMPLES, 1), classes, 8)?;
        Ok(Evaluator { samples, classifier, reference, history: Vec::new() })
    }

    fn run(
        &mut self,
        b: &mut GpuBackend,
        gan: &mut Gan<GpuBackend>,
        unit_pixels: bool,
        raw: bool,
    ) -> Result<(Scores, Option<String>)> {
        if !raw {
            gan.refresh_ema_statistics(b)?;
        }
        let images = self.samples.generate(b, gan, unit_pixels, raw)?;
        let scored = self.classifier.score(b, &images[..EVAL_SAMPLES * 784])?;
        let classes = gan.cfg.classes;
        let labels: Option<Vec<usize>> =
            (classes > 0).then(|| (0..EVAL_SAMPLES).map(|i| i % classes).collect());
        let scores = self.reference.score("samples", &scored, labels.as_deref(), gan.step)?;
        let warning = scores.collapse_warning(self.history.last().map(|(_, s)| s));
        self.history.push((gan.step, scores.clone()));
        Ok((scores, warning))
    }

    /// FD (top, red) and KID×1000 (top, blue); classes covered / 10 and precision, recall (bottom).
    fn plot(&self, path: &Path) -> Result<()> {
        let series =
            |f: &dyn Fn(&Scores) -> f32| self.history.iter().map(|(s, v)| (*s as f32, f(v))).collect();
        outputs::plot(
            path,
            &[
                ([200, 30, 30], series(&|s| s.fd.unwrap_or(f64::NAN) as f32)),
                ([30, 60, 200], series(&|s| s.kid_x1000 as f32)),
            ],
            &[
                ([30, 150, 30], series(&|s| s.classes.covered as f32 / 10.0)),
                ([230, 140, 0], series(&|s| s.precision as f32)),
                ([120, 30, 160], series(&|s| s.recall as f32)),
            ],
        )
    }
}

/// Samples per `--eval-every` evaluation: enough for a stable FD trend, a few seconds to score.
const EVAL_SAMPLES: usize = 2000;

/// Loads D's weights (and batch-norm statistics) from another run's checkpoint.
fn load_discriminator(path: &Path, gan: &mut Gan<GpuBackend>, b: &mut GpuBackend) -> Result<()> {
    let file = if path.is_dir() { path.join(CHECKPOINT) } else { path.to_path_buf() };
    let ckpt = Checkpoint::load(&file)?;
    let spec: NetSpec = serde_json::from_str(ckpt.meta("d_spec", &file)?)
        .map_err(|e| Error::Data { path: file.clone(), msg: format!("bad d_spec: {e}") })?;
    if spec != gan.d.spec {
        return Err(Error::Data {
            path: file,
            msg: "its discriminator has another architecture than this run's (same --model, sizes and \
                  data shape are needed)"
                .into(),
        });
    }
    ckpt.load_into(b, "d.params", &gan.d.params, &file)?;
    ckpt.load_into(b, "d.running", &gan.d.running, &file)
}

pub fn train(mut args: TrainArgs) -> Result<()> {
    let (resume, out) = match args.resume.clone() {
        Some(dir) => {
            let path = dir.join(CHECKPOINT);
            let ckpt = Checkpoint::load(&path)?;
            let mut saved: TrainArgs = serde_json::from_str(ckpt.meta("config", &path)?)
                .map_err(|e| Error::Data { path: path.clone(), msg: format!("bad config: {e}") })?;
            saved.epochs = args.epochs.max(saved.epochs);
            args = saved;
            (Some((ckpt, path)), dir)
        }
        None => (None, args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(timestamp()))),
    };
    args.validate()?;
    // Data first: a bad file fails before anything is written.
    let data = data::load(&args)?;
    if matches!(data, TrainData::Table { .. }) && args.model != ModelKind::Mlp {
        eprintln!("wgan-gpu: a table trains with --model mlp");
        args.model = ModelKind::Mlp;
    }
    let samples_dir = out.join("samples");
    std::fs::create_dir_all(&samples_dir)
        .map_err(|source| Error::Io { path: samples_dir.clone(), source })?;
    let config_path = out.join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&args).expect("serialisable"))
        .map_err(|source| Error::Io { path: config_path, source })?;

    let info = data.info(args.conditional);
    let classes = info.classes.len();
    let mut cfg = args.gan_config();
    cfg.classes = classes;
    let per_iter = cfg.batch * cfg.d_steps;
    let iters_per_epoch = data.count() / per_iter;
    if iters_per_epoch == 0 {
        return Err(Error::Config(format!(
            "{} samples are fewer than one iteration's {per_iter} (batch size x d-steps); lower --batch-size",
            data.count()
        )));
    }
    cfg.noise_anneal_steps = (args.epochs * iters_per_epoch) as u64;

    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend)?)?;
    if let Some(hint) = b.ctx.adapter.slow_path_hint() {
        eprintln!("{hint}");
    }
    let shape = data.shape();
    let (g_spec, d_spec) = args.specs(shape, classes)?;
    let mut gan = Gan::new(&mut b, cfg.clone(), &g_spec, &d_spec)?;
    let mut start_epoch = 0;
    if let Some((ckpt, path)) = &resume {
        start_epoch = restore(ckpt, path, &mut gan, &mut b)?;
    } else if let Some(d) = &args.init_d {
        load_discriminator(d, &mut gan, &mut b)?;
    }
    gan.train_d = !args.freeze_d;
    eprintln!(
        "wgan-gpu: {:?} {:?}{} on {} | {} samples of {}x{}x{}, {} iterations/epoch, epochs {}..{} -> {}",
        args.model,
        args.loss,
        if classes > 0 { format!(", {classes} classes") } else { String::new() },
        b.describe(),
        data.count(),
        shape.0,
        shape.1,
        shape.2,
        iters_per_epoch,
        start_epoch + 1,
        args.epochs,
        out.display()
    );

    let dim = shape.size();
    let unit_pixels = args.model.unit_pixels();
    let (data_t, kind) = data.upload(&mut b, unit_pixels)?;
    let labels_t = match data.labels().filter(|_| classes > 0) {
        Some(l) => Some(b.upload(&pack_bytes(l))?),
        None => None,
    };
    let order_t = b.alloc(data.count())?;
    let reals: Vec<_> = (0..cfg.d_steps).map(|_| b.alloc(cfg.batch * dim)).collect::<Result<_>>()?;
    let real_labels: Vec<_> = match labels_t {
        Some(_) => (0..cfg.d_steps).map(|_| b.alloc(cfg.batch)).collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let table = matches!(data, TrainData::Table { .. });
    let (shown, cols) = match (table, classes) {
        (true, _) => (data.count().min(1000), 1),
        (false, 0) => (64.min(data.count()), (64.min(data.count()) as f64).sqrt().ceil() as usize),
        (false, k) => (k.min(20) * 10, 10),
    };
    let showcase = Showcase::new(&mut b, &cfg, (shown, cols), classes, 3)?;
    let mut evaluator = match args.eval_every {
        0 => None,
        _ if shape != Shape(1, 28, 28) || table => {
            return Err(Error::Config(
                "--eval-every scores 1x28x28 digits with the MNIST classifier; this data is not that".into(),
            ));
        }
        _ => Some(Evaluator::new(&mut b, &cfg, classes)?),
    };
    // A table's epoch picture plots its most correlated pair of columns.
    let scatter_pair = match &data {
        TrainData::Table { table, .. } => most_correlated(&table.values, dim),
        TrainData::Images(_) => (0, 0),
    };
    let real_grid = (!table).then(|| match classes {
        0 => outputs::grid(&data.spread(shown), shown, shape, cols),
        _ => outputs::grid(&data.by_class(shown / cols, cols), shown, shape, cols),
    });

    let mut log = Logger {
        metrics: out.join("metrics.jsonl"),
        pending: VecDeque::new(),
        history: Vec::new(),
        last: None,
        last_time: Instant::now(),
        last_step: gan.step,
        images_per_s: 0.0,
    };
    let total = ((args.epochs - start_epoch.min(args.epochs)) * iters_per_epoch) as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    for epoch in start_epoch..args.epochs {
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, args.epochs));
        let decay = args.lr_decay.powi(epoch as i32);
        gan.opt_g.cfg.lr = args.lr_g * decay;
        gan.opt_d.cfg.lr = args.lr_d * decay;
        b.write(&order_t, &pack_indices(&epoch_order(data.count(), cfg.seed, epoch)))?;
        for it in 0..iters_per_epoch {
            for (k, real) in reals.iter().enumerate() {
                let start = (it * cfg.d_steps + k) * cfg.batch;
                let s = Gather { batch: cfg.batch, dim, start, kind, shift: None };
                crate::ops::gather::gather(&mut b, &s, &data_t, &order_t, real)?;
                if let Some(l) = &labels_t {
                    let s = Gather { batch: cfg.batch, dim: 1, start, kind: GatherKind::Bytes, shift: None };
                    crate::ops::gather::gather(&mut b, &s, l, &order_t, &real_labels[k])?;
                }
            }
            if let (Some(threshold), Some(last)) = (args.d_skip_below, log.last) {
                gan.train_d = !args.freeze_d && last.d_loss >= threshold;
            }
            gan.iteration(&mut b, &reals, &real_labels)?;
            if let Some(e) = evaluator.as_mut().filter(|_| gan.step % args.eval_every == 0) {
                let (scores, warning) = e.run(&mut b, &mut gan, unit_pixels, args.raw)?;
                let line = serde_json::json!({ "step": gan.step, "epoch": epoch + 1, "eval": scores });
                outputs::append_jsonl(&log.metrics, &line)?;
                bar.suspend(|| {
                    eprintln!(
                        "step {}: FD {} KIDx1000 {:.2} score {:.2} classes {}/10",
                        gan.step,
                        scores.fd.map_or("n/a".into(), |d| format!("{d:.2}")),
                        scores.kid_x1000,
                        scores.score,
                        scores.classes.covered
                    );
                    if let Some(w) = warning {
                        eprintln!("warning: {w}");
                    }
                });
                e.plot(&out.join("eval.png"))?;
            }
            if gan.step % args.log_every == 0 || it + 1 == iters_per_epoch {
                let p = b.read_async(&gan.stats)?;
                log.pending.push_back((gan.step, epoch + 1, p));
            } else {
                b.flush()?;
            }
            b.limit_in_flight(2)?;
            log.collect(&mut b, &gan, false)?;
            if let Some(s) = log.last {
                bar.set_message(format!(
                    "D {:.3} G {:.3} D(x) {:.2} D(G(z)) {:.2} {:.0} img/s",
                    s.d_loss, s.g_loss, s.d_real, s.d_fake, log.images_per_s
                ));
            }
            bar.inc(1);
        }
        // A diverged run stops here, before its checkpoint is overwritten.
        log.collect(&mut b, &gan, true)?;
        // For the grid and for the checkpoint, which `sample` and `eval` draw from.
        gan.refresh_ema_statistics(&mut b)?;
        let generated = showcase.generate(&mut b, &mut gan, unit_pixels, args.raw)?;
        match (&data, &real_grid) {
            (TrainData::Table { table, .. }, _) => {
                let rows = info.unstandardise(&generated[..shown * dim]);
                let csv = samples_dir.join(format!("epoch_{:03}.csv", epoch + 1));
                crate::data::table::write_csv(&csv, &table.columns, &rows)?;
                let report = crate::data::table::compare_report(&table.columns, &table.values, &rows);
                let path = out.join("report.txt");
                std::fs::write(&path, &report).map_err(|source| Error::Io { path, source })?;
                let summary = table_summary(&table.values, &rows, dim);
                if epoch + 1 == args.epochs {
                    bar.suspend(|| eprintln!("{report}"));
                } else {
                    bar.suspend(|| eprintln!("epoch {}: {summary} (report.txt has the rest)", epoch + 1));
                }
                let (x, y) = scatter_pair;
                let points = |v: &[f32]| v.chunks(dim).map(|r| (r[x], r[y])).collect::<Vec<_>>();
                outputs::save_png(
                    &outputs::scatter(&points(&data.spread(shown)), &points(&generated[..shown * dim])),
                    &samples_dir.join(format!("epoch_{:03}.png", epoch + 1)),
                )?;
            }
            (TrainData::Images(_), Some(real_grid)) => {
                let fake_grid = outputs::grid(&generated, shown, shape, showcase.cols);
                outputs::save_png(
                    &outputs::side_by_side(&fake_grid, real_grid),
                    &samples_dir.join(format!("epoch_{:03}.png", epoch + 1)),
                )?;
            }
            (TrainData::Images(_), None) => unreachable!("image runs have a real grid"),
        }
        outputs::progress_gif(&samples_dir, &out.join("progress.gif"))?;
        write_checkpoint(&out, &args, &info, &gan, &mut b, epoch + 1)?;
        log.plot(&out.join("losses.png"))?;
    }
    bar.finish();
    eprintln!(
        "done in {:.1} s: samples in {}, checkpoint {}",
        started.elapsed().as_secs_f64(),
        samples_dir.display(),
        out.join(CHECKPOINT).display()
    );
    Ok(())
}
