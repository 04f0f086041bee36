//! The digit classifier the evaluation scores samples with (FID is computed on its features,
//! not Inception's, which is the wrong tool for 28×28 digits): a small CNN trained by our own ops
//! with softmax cross-entropy. `wgan-gpu train-classifier` makes `assets/classifier.safetensors`,
//! which is bundled into the binary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::{Backend, Tensor};
use crate::data::{ImageSet, mnist};
use crate::error::{Error, Result};
use crate::gan::step::{Optimizer, derive_seed};
use crate::gan::{OptConfig, OptKind};
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext};
use crate::nn::{InitScheme, LayerSpec as L, Net, NetSpec, Shape};
use crate::ops::activation::Activation;
use crate::ops::gather::{Gather, GatherKind, Shift, pack_bytes, pack_indices};
use crate::ops::softmax_cross_entropy::SoftmaxCrossEntropy;
use crate::train::checkpoint::Checkpoint;

pub const CLASSES: usize = 10;
/// The layer whose output is the feature vector (the penultimate layer's activation).
pub const FEATURE_LAYER: usize = 6;
pub const FEATURES: usize = 128;

const BUNDLED: &[u8] = include_bytes!("../../assets/classifier.safetensors");

/// 1×28×28 → Conv(32, 4, s2) → 14×14 → Conv(64, 4, s2) → 7×7 → Linear 128 → Linear 10, ReLU
/// between, dropout before the last layer.
pub fn spec() -> NetSpec {
    let relu = || L::Activation { f: Activation::Relu };
    NetSpec {
        input: Shape(1, 28, 28),
        layers: vec![
            L::Conv2d { out: 32, kernel: 4, stride: 2, pad: 1, bias: true },
            relu(),
            L::Conv2d { out: 64, kernel: 4, stride: 2, pad: 1, bias: true },
            relu(),
            L::Dropout { prob: 0.25 },
            L::Linear { out: FEATURES, bias: true },
            relu(),
            L::Dropout { prob: 0.25 },
            L::Linear { out: CLASSES, bias: true },
        ],
        spectral_norm: false,
    }
}

/// The classifier on a backend, for batches of `batch` images.
pub struct Classifier<B: Backend> {
    pub net: Net<B>,
    input: B::T,
    probs: B::T,
    /// Test accuracy recorded when the weights were made.
    pub accuracy: Option<f64>,
}

/// Features [n, FEATURES] and class probabilities [n, CLASSES] of n images.
pub struct Scored {
    pub features: Vec<f32>,
    pub probs: Vec<f32>,
    pub n: usize,
}

impl Scored {
    pub fn predicted(&self) -> Vec<usize> {
        self.probs.chunks(CLASSES).map(|p| (0..CLASSES).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)).collect()
    }
}

impl<B: Backend> Classifier<B> {
    pub fn new(b: &mut B, batch: usize) -> Result<Self> {
        let net = Net::new(b, &spec(), batch)?;
        Ok(Classifier { input: b.alloc(batch * 784)?, probs: b.alloc(batch * CLASSES)?, net, accuracy: None })
    }

    /// The bundled weights (`assets/classifier.safetensors`).
    pub fn bundled(b: &mut B, batch: usize) -> Result<Self> {
        let path = Path::new("assets/classifier.safetensors");
        if BUNDLED.is_empty() {
            return Err(Error::Config(
                "this build has no classifier weights; run `wgan-gpu train-classifier` and rebuild".into(),
            ));
        }
        let mut c = Self::new(b, batch)?;
        c.load(b, &Checkpoint::from_bytes(BUNDLED, path)?, path)?;
        Ok(c)
    }

    pub fn load(&mut self, b: &mut B, ckpt: &Checkpoint, path: &Path) -> Result<()> {
        ckpt.load_into(b, "params", &self.net.params, path)?;
        self.accuracy = ckpt.meta("test_accuracy", path).ok().and_then(|a| a.parse().ok());
        Ok(())
    }

    /// Scores images [n, 784] in [−1, 1] (white digit on black), in batches.
    pub fn score(&mut self, b: &mut B, images: &[f32]) -> Result<Scored> {
        let batch = self.net.batch;
        let n = images.len() / 784;
        let (mut features, mut probs) = (Vec::with_capacity(n * FEATURES), Vec::with_capacity(n * CLASSES));
        let s = SoftmaxCrossEntropy { n: batch, k: CLASSES };
        for start in (0..n).step_by(batch) {
            let take = (n - start).min(batch);
            let mut x = images[start * 784..(start + take) * 784].to_vec();
            x.resize(batch * 784, -1.0);
            b.write(&self.input, &x)?;
            self.net.forward(b, &self.input, false, 0, 0)?;
            crate::ops::softmax_cross_entropy::probs(b, &s, self.net.output(), &self.probs)?;
            features.extend_from_slice(&b.read(self.net.activation(FEATURE_LAYER))?[..take * FEATURES]);
            probs.extend_from_slice(&b.read(&self.probs)?[..take * CLASSES]);
        }
        Ok(Scored { features, probs, n })
    }
}

/// Images of a set as f32 in [−1, 1].
pub fn to_signed(set: &ImageSet, n: usize) -> Vec<f32> {
    set.pixels[..n.min(set.count) * set.image_len()].iter().map(|&p| crate::data::signed_pixel(p)).collect()
}

#[derive(clap::Args, Clone, Debug)]
pub struct TrainClassifierArgs {
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Learning rate multiplied by this after every epoch.
    #[arg(long, default_value_t = 0.7)]
    pub lr_decay: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Augmentation: each training image moves by up to this many pixels in x and y.
    #[arg(long, default_value_t = 2)]
    pub shift: usize,
    #[arg(long, default_value = "assets/classifier.safetensors")]
    pub out: PathBuf,
    /// Continue from these weights (a classifier file) instead of a fresh initialisation.
    #[arg(long)]
    pub init: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

/// Test accuracy of a classifier on the bundled MNIST test set.
pub fn test_accuracy<B: Backend>(b: &mut B, c: &mut Classifier<B>) -> Result<f64> {
    let test = mnist::test()?;
    let scored = c.score(b, &to_signed(&test, test.count))?;
    let labels = test.labels.as_deref().unwrap_or_default();
    let right = scored.predicted().iter().zip(labels).filter(|&(&p, &l)| p == l as usize).count();
    Ok(right as f64 / test.count as f64)
}

pub fn train_classifier(args: TrainClassifierArgs, device: &DeviceSettings) -> Result<()> {
    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend, device)?)?;
    let data = mnist::train()?;
    let n = args.batch_size;
    let mut c = Classifier::new(&mut b, n)?;
    match &args.init {
        Some(path) => c.load(&mut b, &Checkpoint::load(path)?, path)?,
        None => c.net.init_with(&mut b, derive_seed(args.seed, 0, 1), InitScheme::Pytorch)?,
    }
    let opt_cfg = OptConfig { kind: OptKind::Adam, lr: args.lr, ..OptConfig::dcgan_adam() };
    let opt_cfg = OptConfig { beta1: 0.9, ..opt_cfg };
    let mut opt = Optimizer::new(&mut b, opt_cfg, c.net.params.len())?;
    let data_t = b.upload(&pack_bytes(&data.pixels))?;
    let labels_t = b.upload(&pack_bytes(data.labels.as_deref().unwrap_or_default()))?;
    let order_t = b.alloc(data.count)?;
    let (x, y) = (b.alloc(n * 784)?, b.alloc(n)?);
    let (loss, mean) = (b.alloc(n)?, b.alloc(1)?);
    let s = SoftmaxCrossEntropy { n, k: CLASSES };
    let started = Instant::now();
    let mut step = 0u64;
    for epoch in 0..args.epochs {
        opt.cfg.lr = args.lr * args.lr_decay.powi(epoch as i32);
        b.write(&order_t, &pack_indices(&crate::data::epoch_order(data.count, args.seed, epoch)))?;
        let mut total = 0.0;
        let iters = data.count / n;
        for it in 0..iters {
            let start = it * n;
            let shift = (args.shift > 0).then_some(Shift {
                max: args.shift,
                height: 28,
                width: 28,
                seed: derive_seed(args.seed, epoch as u64, 9),
            });
            crate::ops::gather::gather(
                &mut b,
                &Gather { batch: n, dim: 784, start, kind: GatherKind::Pixels, shift },
                &data_t,
                &order_t,
                &x,
            )?;
            crate::ops::gather::gather(
                &mut b,
                &Gather { batch: n, dim: 1, start, kind: GatherKind::Bytes, shift: None },
                &labels_t,
                &order_t,
                &y,
            )?;
            b.zero(&c.net.grads)?;
            c.net.forward(&mut b, &x, true, derive_seed(args.seed, step, 2), 0)?;
            crate::ops::softmax_cross_entropy::forward(&mut b, &s, c.net.output(), &y, &loss)?;
            crate::ops::reduce::sum(&mut b, &loss, &mean, 1.0 / n as f32)?;
            crate::ops::softmax_cross_entropy::backward(&mut b, &s, c.net.output(), &y, c.net.output_grad(), 1.0)?;
            c.net.backward(&mut b, &x, None, true)?;
            opt.step(&mut b, &c.net.params, &c.net.grads)?;
            step += 1;
            if it % 50 == 0 || it + 1 == iters {
                let l = b.read(&mean)?[0];
                total = l;
                eprint!("\repoch {}/{} iteration {}/{iters} loss {l:.4}   ", epoch + 1, args.epochs, it + 1);
            }
        }
        let mut eval = Classifier::new(&mut b, 500)?;
        b.copy(&c.net.params, &eval.net.params)?;
        let acc = test_accuracy(&mut b, &mut eval)?;
        eprintln!(
            "\repoch {}: loss {total:.4}, test accuracy {:.2}% ({:.0} s)",
            epoch + 1,
            100.0 * acc,
            started.elapsed().as_secs_f64()
        );
        c.accuracy = Some(acc);
    }
    let params = b.read(&c.net.params)?;
    save(&args, params, c.accuracy.unwrap_or(0.0))
}

/// The trained weights, with their test accuracy and the command that made them.
fn save(args: &TrainClassifierArgs, params: Vec<f32>, accuracy: f64) -> Result<()> {
    let mut command = format!(
        "wgan-gpu train-classifier --epochs {} --batch-size {} --lr {} --lr-decay {} --shift {} --seed {}",
        args.epochs, args.batch_size, args.lr, args.lr_decay, args.shift, args.seed
    );
    if let Some(init) = &args.init {
        // The weights started from carry their own command: the full recipe is both, in order.
        let before = Checkpoint::load(init)?.meta.get("command").cloned().unwrap_or_default();
        command = format!("{before} && {command} --init {}", init.display());
    }
    let meta = [
        ("spec", serde_json::to_string(&spec()).expect("serialisable")),
        ("test_accuracy", format!("{:.4}", accuracy)),
        ("command", command),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Checkpoint { tensors: vec![("params".into(), params)], meta, ..Checkpoint::default() }.save(&args.out)?;
    eprintln!("wrote {} (test accuracy {:.2}%)", args.out.display(), 100.0 * accuracy);
    Ok(())
}
