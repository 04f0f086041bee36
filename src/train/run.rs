use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::outputs;
use crate::backend::{Backend, Tensor};
use crate::data::{idx, mnist};
use crate::error::{Error, Result};
use crate::gan::models::{self, DcganOptions};
use crate::gan::step::derive_seed;
use crate::gan::{Gan, GanConfig, IterStats, LossKind, ModelKind, OptConfig, OptKind};
use crate::gpu::{BackendChoice, GpuBackend, GpuContext, GpuTensor, PendingRead};
use crate::nn::InitScheme;
use crate::nn::{NetSpec, Shape};
use crate::ops::gather::{Gather, pack_bytes, pack_indices};
use crate::reference::random::bits;

/// Every setting of a run; written to config.json and into each checkpoint.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainArgs {
    /// vulkan, metal, dx12, gl or auto
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// dcgan (default: recognisable digits after one epoch) or mlp
    #[arg(long, value_enum, default_value_t = ModelKind::Dcgan)]
    pub model: ModelKind,
    /// bce (non-saturating G loss), minimax, lsgan or wgan
    #[arg(long, value_enum, default_value_t = LossKind::Bce)]
    pub loss: LossKind,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 100)]
    pub z_dim: usize,
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
    #[arg(long, default_value_t = 2e-4)]
    pub lr_g: f32,
    #[arg(long, default_value_t = 2e-4)]
    pub lr_d: f32,
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
    /// Train on your own IDX image file (gzipped or not, e.g. Fashion-MNIST) instead of the
    /// bundled MNIST.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The IDX label file that goes with --data (needed for --digits).
    #[arg(long, requires = "data")]
    pub labels: Option<PathBuf>,
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
    /// Continue the run in this folder from its checkpoint (other settings come from it,
    /// except --epochs, which may extend the run).
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
}

fn parse_list(what: &str, s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().map_err(|_| Error::Config(format!("--{what}: '{p}' is not a number"))))
        .collect()
}

impl TrainArgs {
    fn d_dropout(&self) -> f32 {
        self.d_dropout.unwrap_or(match self.model {
            ModelKind::Mlp => 0.3,
            ModelKind::Dcgan => 0.0,
        })
    }

    /// The two networks for images of shape `img` (the DCGAN needs 1×28×28).
    pub fn specs(&self, img: Shape) -> Result<(NetSpec, NetSpec)> {
        if self.model == ModelKind::Dcgan && img != Shape(1, 28, 28) {
            return Err(Error::Config(format!(
                "the dcgan model is built for 1x28x28 images, the data has {}x{}x{}; use --model mlp",
                img.0, img.1, img.2
            )));
        }
        Ok(match self.model {
            ModelKind::Mlp => (
                models::mlp_generator(self.z_dim, &parse_list("g-hidden", &self.g_hidden)?, img),
                models::mlp_discriminator(img, &parse_list("d-hidden", &self.d_hidden)?, self.d_dropout()),
            ),
            ModelKind::Dcgan => {
                let o = DcganOptions {
                    width: self.width,
                    g_batch_norm: !self.no_g_batch_norm,
                    d_batch_norm: self.d_batch_norm,
                    d_dropout: self.d_dropout(),
                };
                (models::dcgan_generator(self.z_dim, o), models::dcgan_discriminator(o))
            }
        })
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
        }
    }

    /// Radford et al.'s N(0, 0.02) for the DCGAN, PyTorch's layer defaults for the MLP.
    pub fn init(&self) -> InitScheme {
        self.init.unwrap_or(match self.model {
            ModelKind::Dcgan => InitScheme::Dcgan,
            ModelKind::Mlp => InitScheme::Pytorch,
        })
    }

    fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.epochs == 0 || self.z_dim == 0 || self.log_every == 0 {
            return Err(Error::Config(
                "--batch-size, --epochs, --z-dim and --log-every must be positive".into(),
            ));
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
fn epoch_order(count: usize, seed: u64, epoch: usize) -> Vec<u32> {
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
fn checkpoint_tensors(gan: &Gan<GpuBackend>) -> [(&'static str, GpuTensor); 8] {
    [
        ("g.params", gan.g.params.clone()),
        ("g.running", gan.g.running.clone()),
        ("d.params", gan.d.params.clone()),
        ("d.running", gan.d.running.clone()),
        ("opt_g.m", gan.opt_g.m.clone()),
        ("opt_g.v", gan.opt_g.v.clone()),
        ("opt_d.m", gan.opt_d.m.clone()),
        ("opt_d.v", gan.opt_d.v.clone()),
    ]
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

fn write_checkpoint(
    dir: &Path,
    args: &TrainArgs,
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
        let v = ckpt.tensor(name, path)?;
        if v.len() != t.len() {
            return Err(Error::Data {
                path: path.into(),
                msg: format!("tensor {name} has {} values, the model {}", v.len(), t.len()),
            });
        }
        b.write(&t, v)?;
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
    let samples_dir = out.join("samples");
    std::fs::create_dir_all(&samples_dir)
        .map_err(|source| Error::Io { path: samples_dir.clone(), source })?;
    let config_path = out.join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&args).expect("serialisable"))
        .map_err(|source| Error::Io { path: config_path, source })?;

    let mut data = match &args.data {
        None => mnist::train()?,
        Some(path) => {
            let images = idx::read(path)?;
            let labels = args.labels.as_deref().map(idx::read).transpose()?;
            mnist::from_idx(&images, labels.as_ref(), path)?
        }
    };
    if let Some(d) = &args.digits {
        let digits: Vec<u8> = parse_list("digits", d)?.into_iter().map(|x| x as u8).collect();
        data.keep_labels(&digits)?;
    }
    if let Some(n) = args.limit {
        data.truncate(n);
    }
    let cfg = args.gan_config();
    let per_iter = cfg.batch * cfg.d_steps;
    let iters_per_epoch = data.count / per_iter;
    if iters_per_epoch == 0 {
        return Err(Error::Config(format!(
            "{} images are fewer than one iteration's {per_iter} (batch size x d-steps); lower --batch-size",
            data.count
        )));
    }

    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend)?)?;
    let (g_spec, d_spec) = args.specs(Shape(data.channels, data.height, data.width))?;
    let mut gan = Gan::new(&mut b, cfg.clone(), &g_spec, &d_spec)?;
    let mut start_epoch = 0;
    if let Some((ckpt, path)) = &resume {
        start_epoch = restore(ckpt, path, &mut gan, &mut b)?;
    }
    eprintln!(
        "wgan-gpu: {:?} {:?} on {} | {} images, {} iterations/epoch, epochs {}..{} -> {}",
        args.model,
        args.loss,
        b.describe(),
        data.count,
        iters_per_epoch,
        start_epoch + 1,
        args.epochs,
        out.display()
    );

    let dim = data.image_len();
    let data_t = b.upload(&pack_bytes(&data.pixels))?;
    let order_t = b.alloc(data.count)?;
    let reals: Vec<_> = (0..cfg.d_steps).map(|_| b.alloc(cfg.batch * dim)).collect::<Result<_>>()?;
    // The epoch grids always show 64 samples from fixed noise: as many G batches as that takes.
    let shown = 64.min(data.count);
    let cols = (shown as f64).sqrt().ceil() as usize;
    let fixed_z = (0..shown.div_ceil(cfg.batch) as u64)
        .map(|c| {
            let mut z = vec![0.0; cfg.batch * cfg.z_dim];
            crate::reference::random::normal(&mut z, derive_seed(cfg.seed, u64::MAX - c, 3), 0, 0.0, 1.0);
            b.upload(&z)
        })
        .collect::<Result<Vec<_>>>()?;
    let real_px: Vec<f32> = data.pixels[..shown * dim].iter().map(|&p| p as f32 / 127.5 - 1.0).collect();
    let real_grid = outputs::grid(&real_px, shown, data.height, data.width, cols);

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
        b.write(&order_t, &pack_indices(&epoch_order(data.count, cfg.seed, epoch)))?;
        for it in 0..iters_per_epoch {
            for (k, real) in reals.iter().enumerate() {
                let s = Gather { batch: cfg.batch, dim, start: (it * cfg.d_steps + k) * cfg.batch };
                b.gather_images(&s, &data_t, &order_t, real)?;
            }
            gan.iteration(&mut b, &reals)?;
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
        let mut images = Vec::with_capacity(fixed_z.len() * cfg.batch * dim);
        for z in &fixed_z {
            images.extend(gan.generate(&mut b, z)?);
        }
        let fake_grid = outputs::grid(&images, shown, data.height, data.width, cols);
        outputs::save_png(
            &outputs::side_by_side(&fake_grid, &real_grid),
            &samples_dir.join(format!("epoch_{:03}.png", epoch + 1)),
        )?;
        write_checkpoint(&out, &args, &gan, &mut b, epoch + 1)?;
        log.plot(&out.join("losses.png"))?;
        outputs::progress_gif(&samples_dir, &out.join("progress.gif"))?;
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
