//! A run's configuration: every setting, its flag, help and default, and what follows from the
//! settings alone (the two networks, the GAN's configuration, the checks).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::data::DataFormat;
use super::preset::Preset;
use crate::data::folder::Crop;
use crate::data::table::transform::TransformKind;
use crate::error::{Error, Result};
use crate::gan::models::{self, DcganOptions, GUpsample};
use crate::gan::progan::{self, Phase, PhaseNets};
use crate::gan::resnet;
use crate::gan::{GanConfig, LossKind, ModelKind, OptConfig, OptKind, UnrollGrad};
use crate::gpu::{BackendChoice, GpuBackend};
use crate::nn::InitScheme;
use crate::nn::{NetSpec, Shape};
use crate::ops::augment::{Policy, Probability};

/// How a conditional D reads the label (`--d-label`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DLabel {
    Planes,
    Projection,
}

/// How a conditional G is told the label (`--g-label`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GLabel {
    Input,
    Norm,
}

impl GLabel {
    /// What runs saved before the flag existed used.
    fn before_the_flag() -> Self {
        GLabel::Input
    }
}

impl DLabel {
    /// What runs saved before the flag existed used.
    fn before_the_flag() -> Self {
        DLabel::Planes
    }
}

/// Every setting of a run, resolved (see `resolve`): written whole to config.json and into each
/// checkpoint, and read, never changed, by the trainer. Each setting's flag, help and default
/// are declared here once; the model-dependent defaults are the recipes in `preset.rs`.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    /// A well-known setup: goodfellow2014, mlp-zeros, radford2015 or dcgan-keras (settings given
    /// on the command line win).
    #[arg(long, value_enum)]
    #[serde(default)]
    pub preset: Option<Preset>,
    /// vulkan, metal, dx12, gl or auto
    #[arg(long, default_value = "auto", value_parser = backend_name)]
    pub backend: String,
    /// dcgan (default: recognisable digits after one epoch), resnet (residual G and D, for
    /// pictures at 32 to 128 pixels), progan (progressive growing, see --phase-images), mlp (also
    /// for CSV tables) or keras
    #[arg(long, value_enum, default_value_t = ModelKind::Dcgan)]
    pub model: ModelKind,
    /// bce (non-saturating G loss), minimax, lsgan, wgan (weight clipping), wgan-gp (gradient
    /// penalty) or hinge [default: hinge for dcgan, resnet, progan and tables, bce for mlp and keras]
    #[arg(long, value_enum, default_value_t = LossKind::Bce, hide_default_value = true)]
    pub loss: LossKind,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Images per step [default: 16 for dcgan, resnet and progan, 32 for tables, 64 for mlp and keras; a
    /// preset's own with --preset]
    #[arg(long, default_value_t = 64, hide_default_value = true)]
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
    /// Unrolled GAN (Metz et al. 2017): G's step is taken against D as it will be K D steps from
    /// now (each on a fresh real batch, with D's own optimizer), of which only the first is
    /// kept; a cure for mode collapse at about (K + 1)/2 times the cost of an iteration (0: off).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub unroll: usize,
    /// How G's gradient is taken in an unrolled iteration: first-order (through the look-ahead
    /// D's weights as constants) or full (also back through each look-ahead update, Metz et
    /// al.'s surrogate gradient: its look-ahead steps are Adam's step with D's moments held
    /// fixed, and each costs two more D passes and a G pass on the way back)
    #[arg(long, value_enum, default_value_t = UnrollGrad::FirstOrder)]
    #[serde(default)]
    pub unroll_grad: UnrollGrad,
    /// WGAN critic weight clipping bound.
    #[arg(long, default_value_t = 0.01)]
    pub clip: f32,
    /// WGAN-GP's penalty weight λ on (‖∇D(x̂)‖ − 1)².
    #[arg(long, default_value_t = crate::gan::config::GP_WEIGHT)]
    #[serde(default = "gp_weight")]
    pub gp_weight: f32,
    /// R1 regularisation (Mescheder et al. 2018) with this γ, with any loss: D also minimises
    /// (γ/2)·‖∇D(x)‖² on real samples (0: off).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub r1: f32,
    /// InfoGAN (Chen et al. 2016): a categorical latent code of this many values, appended to
    /// G's input one-hot and predicted by a Q head on D's features (grids: one row per value;
    /// `sample --code K`) [default: 16 for tables without --pac or --conditional, 0 otherwise]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    #[serde(default)]
    pub info_cat: usize,
    /// InfoGAN: the last N dimensions of z are continuous codes Q predicts
    /// (`interpolate --code-grid` sweeps one).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub info_cont: usize,
    /// InfoGAN: the weight λ of the codes' loss in G's and Q's objectives.
    #[arg(long, default_value_t = 1.0)]
    #[serde(default = "one")]
    pub info_weight: f32,
    /// InfoGAN: the continuous codes' weight beside the categorical code's (Chen et al.'s 0.1).
    #[arg(long, default_value_t = crate::gan::config::INFO_CONT_WEIGHT)]
    #[serde(default = "info_cont_weight")]
    pub info_cont_weight: f32,
    /// Lazy R1: the penalty every N iterations, scaled by N (StyleGAN2 uses 16).
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one_u64")]
    pub r1_every: u64,
    /// Target for real images (0.9 = one-sided label smoothing).
    #[arg(long, default_value_t = 1.0)]
    pub real_label: f32,
    #[arg(long, value_enum, default_value_t = OptKind::Adam)]
    pub opt_g: OptKind,
    #[arg(long, value_enum, default_value_t = OptKind::Adam)]
    pub opt_d: OptKind,
    /// G's Adam/SGD learning rate [default: 0.001 for dcgan, 0.0005 for tables, 0.0002 for
    /// resnet, mlp and keras]
    #[arg(long, default_value_t = 2e-4, hide_default_value = true)]
    pub lr_g: f32,
    /// D's learning rate [default: as --lr-g's]
    #[arg(long, default_value_t = 2e-4, hide_default_value = true)]
    pub lr_d: f32,
    /// Adam's β1 [default: 0 for dcgan, resnet, progan and tables, 0.5 for mlp and keras]
    #[arg(long, default_value_t = 0.5, hide_default_value = true)]
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
    /// e.g. Fashion-MNIST), a folder of PNG/JPEG images (subfolders = classes), a CSV table, or
    /// `stacked-mnist` (three bundled digits as an image's channels: 1000 modes, for measuring
    /// mode collapse with `eval`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How to read --data (default: a folder is a folder, *.csv a table, anything else IDX).
    #[arg(long, value_enum, requires = "data")]
    #[serde(default)]
    pub format: Option<DataFormat>,
    /// The IDX label file that goes with --data (needed for --digits and --conditional).
    #[arg(long, requires = "data")]
    pub labels: Option<PathBuf>,
    /// Kinds of a CSV table's columns, e.g. age:int,city:cat,income:real (default: a column
    /// whose first cell is not a number holds categories, one of whole numbers integers).
    #[arg(long, requires = "data")]
    #[serde(default)]
    pub columns: Option<String>,
    /// How a table's columns are encoded for G: quantile (each column through its empirical CDF
    /// onto a standard normal, so skewed and many-peaked columns keep their shape) or standard
    /// ((x − mean)/std).
    #[arg(long, value_enum, default_value_t = TransformKind::Quantile)]
    #[serde(default = "legacy_transform")]
    pub table_transform: TransformKind,
    /// Progressive growing (--model progan): the images G is shown in each fade-in of a new
    /// resolution and in each phase at one; the last resolution trains on
    #[arg(long, default_value_t = 20_000)]
    #[serde(default = "default_phase_images")]
    pub phase_images: u64,
    /// PacGAN (Lin et al. 2018): D judges N samples at once, side by side, which makes a G that
    /// covers few modes easy to tell apart (default 1; must divide the batch size).
    #[arg(long)]
    #[serde(default)]
    pub pac: Option<usize>,
    /// Decode a table's quantile-coded columns through G's own marginal (fitted on 20000 of its
    /// rows at every epoch's end) instead of the N(0, 1) it was trained towards: each column's
    /// distribution comes back the table's own, G's ranks and joint structure unchanged.
    /// `--table-calibrate false` shows G's raw marginals.
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    #[serde(default)]
    pub table_calibrate: bool,
    /// A table's G ends in a linear layer (runs saved before column transforms end in tanh).
    #[arg(skip = true)]
    #[serde(default)]
    pub table_linear_output: bool,
    /// Side length images from a folder are cropped square and resized to (the DCGAN takes
    /// 28, 32, 64 or any side that halves down to 4..7).
    #[arg(long, default_value_t = 28)]
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    /// Channels of images from a folder: 1 (grey) or 3 (RGB); default: as the images are.
    #[arg(long)]
    #[serde(default)]
    pub channels: Option<usize>,
    /// How a folder's non-square images become square without distortion: center (the largest
    /// centred square) or pad (the whole image, its shorter side padded with black).
    #[arg(long, value_enum, default_value_t = Crop::Center)]
    #[serde(default)]
    pub crop: Crop,
    /// Flip each training image left to right with probability 1/2 (StyleGAN's default for
    /// faces; leave it off for digits and text).
    #[arg(long)]
    #[serde(default)]
    pub mirror: bool,
    /// Leave out a folder's unreadable images (counted and named) instead of stopping.
    #[arg(long)]
    #[serde(default)]
    pub skip_bad: bool,
    /// Where a folder of 2000 or more images is cached once decoded, for later runs to map
    /// (default: $XDG_CACHE_HOME/wgan-gpu, else ~/.cache/wgan-gpu).
    #[arg(long)]
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Decode the folder without reading or writing the cache.
    #[arg(long)]
    #[serde(default)]
    pub no_cache: bool,
    /// DiffAugment (Zhao et al. 2020), for small folders: the same random transforms of every
    /// image D sees, real or fake, in D's steps and in G's (G learns through them): color
    /// (brightness, saturation and contrast), translation (shifts of up to 1/8 of the side,
    /// zeros filling in) and cutout (a box of half the side zeroed), comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    #[serde(default)]
    pub augment: Vec<AugmentKind>,
    /// With --augment: the probability each transform is applied to an image (default 1, always,
    /// as DiffAugment), or `auto`: ADA's controller (Karras et al. 2020), which starts at 0 and
    /// raises p while D calls more than 60% of the reals real, so augmentation comes in when D
    /// starts to memorise the folder and only as much as it needs; logged as augment_p.
    #[arg(long, value_parser = parse_augment_p, default_value = "1", hide_default_value = true)]
    #[serde(default)]
    pub augment_p: Probability,
    /// Class-conditional G and D: G reads the label one-hot after z, D as --d-label says; the
    /// epoch grids show one row per class and `sample --label` picks one.
    #[arg(long)]
    #[serde(default)]
    pub conditional: bool,
    /// How a conditional D is told the label: projection (Miyato & Koyama 2018: the inner
    /// product of D's last features with a learned embedding of the class, added to its logit)
    /// or planes (one constant input plane per class, Mirza & Osindero 2014)
    #[arg(long, value_enum, default_value_t = DLabel::Projection)]
    #[serde(default = "DLabel::before_the_flag")]
    pub d_label: DLabel,
    /// How a conditional G is told the label: input (one-hot after z) or norm (also every batch
    /// norm of G scales and shifts its channels by a learned per-class gain and bias:
    /// conditional batch norm, de Vries et al. 2017, as in Miyato & Koyama 2018 and BigGAN)
    /// (InfoGAN's categorical code likewise) [default: norm where G has batch norm (dcgan,
    /// resnet), input otherwise]
    #[arg(long, value_enum, default_value_t = GLabel::Input, hide_default_value = true)]
    #[serde(default = "GLabel::before_the_flag")]
    pub g_label: GLabel,
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
    /// Also write the checkpoint every N iterations within an epoch (0: at epoch ends only), so
    /// a crash loses at most N iterations; `--resume` continues from there exactly.
    #[arg(long, default_value_t = 500)]
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Also keep the checkpoints of the last K epochs, as checkpoints/epoch_NNN.safetensors.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub keep: usize,
    /// Stop after N iterations in all, with a checkpoint; `--resume` goes on from there.
    #[arg(long)]
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Stop after M minutes of training in this invocation, with a checkpoint (as --max-steps).
    #[arg(long)]
    #[serde(default)]
    pub max_minutes: Option<f32>,
    /// And at least every M minutes of training (0: no time limit).
    #[arg(long, default_value_t = 5.0)]
    #[serde(default = "default_checkpoint_minutes")]
    pub checkpoint_minutes: f32,
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
    /// Feature-map channels at the highest resolution below the image's, doubled at each step
    /// down (DCGAN: G's 14x14 map and D's first conv at 28x28; resnet: G's last block and D's
    /// first, capped at 8x). 32 is plenty for 28x28 digits and a quarter of the work of Radford
    /// et al.'s 64.
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// The generator's width when it differs from D's (default: --width).
    #[arg(long)]
    #[serde(default)]
    pub g_width: Option<usize>,
    /// DCGAN: convolutions per level of D: the stride-2 one, then (depth − 1) 3x3 stride-1 ones
    /// at the same width (SN-GAN's discriminator).
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one_usize")]
    pub d_depth: usize,
    /// Initial weights: dcgan (N(0, 0.02), Radford et al.; the default for dcgan), pytorch
    /// (PyTorch's layer defaults; the default for mlp) or he (N(0, 2/fan_in); the default with
    /// equalised learning rates).
    #[arg(long, value_enum)]
    #[serde(default)]
    pub init: Option<InitScheme>,
    /// DCGAN: no batch norm in the generator.
    #[arg(long)]
    pub no_g_batch_norm: bool,
    /// DCGAN: batch norm in the discriminator.
    #[arg(long)]
    pub d_batch_norm: bool,
    /// DCGAN: how G doubles its feature maps: transposed (4×4 transposed convolutions, Radford
    /// et al.) or nearest (nearest 2× then a 3×3 convolution: no checkerboard, G does 2.25× the
    /// work) [default: nearest for a folder of images, transposed otherwise]
    #[arg(long, value_enum, default_value_t = GUpsample::Transposed, hide_default_value = true)]
    #[serde(default)]
    pub g_upsample: GUpsample,
    /// Spectral normalisation of every weighted layer of the discriminator (Miyato et al. 2018):
    /// one power iteration per step; `--d-spectral-norm false` turns it off [default: true for
    /// dcgan, resnet and progan, false for mlp, keras and tables]
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, hide_default_value = true)]
    #[serde(default)]
    pub d_spectral_norm: bool,
    /// AC-GAN's auxiliary classifier (Odena et al. 2017) beside D's label input, for
    /// conditional models: a head on D's last features learns the real images' classes, and G's
    /// loss adds this weight times that head's cross-entropy on its fakes (0: off) [default: 1 for
    /// a conditional dcgan, 0 otherwise]
    #[arg(long, default_value_t = 0.0, hide_default_value = true)]
    #[serde(default)]
    pub aux_weight: f32,
    /// Equalised learning rates (Karras et al. 2018): every weight tensor of G and D learns at
    /// √2/√fan_in times the rate, from He's initialisation, so that each layer's weights move
    /// by the same share of their size per step (off by default: with progan's hinge loss and
    /// spectral norm it drew noise where PyTorch's initialisation at one rate drew pages)
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, hide_default_value = true)]
    #[serde(default)]
    pub equalized_lr: bool,
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
}

/// One of DiffAugment's transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AugmentKind {
    Color,
    Translation,
    Cutout,
}

/// `--augment-p`: `auto` or a probability in [0, 1].
fn parse_augment_p(s: &str) -> std::result::Result<Probability, String> {
    if s == "auto" {
        return Ok(Probability::Auto { target: crate::ops::augment::ADA_TARGET });
    }
    match s.parse::<f32>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(Probability::Fixed(p)),
        _ => Err(format!("'{s}' is neither auto nor a probability in [0, 1]")),
    }
}

/// Configs saved before `--table-transform` existed standardised their tables.
fn legacy_transform() -> TransformKind {
    TransformKind::Standard
}

fn default_checkpoint_every() -> u64 {
    500
}

fn default_checkpoint_minutes() -> f32 {
    5.0
}

fn default_phase_images() -> u64 {
    20_000
}

fn default_image_size() -> usize {
    28
}

fn one() -> f32 {
    1.0
}

fn one_u64() -> u64 {
    1
}

fn one_usize() -> usize {
    1
}

fn info_cont_weight() -> f32 {
    crate::gan::config::INFO_CONT_WEIGHT
}

fn gp_weight() -> f32 {
    crate::gan::config::GP_WEIGHT
}

pub(crate) fn parse_list(what: &str, s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().map_err(|_| Error::Config(format!("--{what}: '{p}' is not a number"))))
        .collect()
}

impl RunConfig {
    fn d_dropout(&self) -> f32 {
        self.d_dropout.unwrap_or(match self.model {
            ModelKind::Mlp => 0.3,
            ModelKind::Dcgan | ModelKind::Keras | ModelKind::Resnet | ModelKind::Progan => 0.0,
        })
    }

    /// PacGAN's packing (1: none).
    pub fn pac(&self) -> usize {
        self.pac.unwrap_or(1).max(1)
    }

    /// The two networks for samples of shape `img` (table rows when `table`), told one of
    /// `classes` classes when > 0. D sees `pac` samples at once, stacked as channels.
    pub fn specs(&self, img: Shape, classes: usize, table: bool) -> Result<(NetSpec, NetSpec)> {
        let square = img.1 == img.2;
        let pac = self.pac();
        let packed = Shape(img.0 * pac, img.1, img.2);
        let (g, d) = match self.model {
            ModelKind::Mlp => (
                models::mlp_generator(
                    self.z_dim,
                    &parse_list("g-hidden", &self.g_hidden)?,
                    img,
                    !(table && self.table_linear_output),
                ),
                models::mlp_discriminator(packed, &parse_list("d-hidden", &self.d_hidden)?, self.d_dropout()),
            ),
            ModelKind::Dcgan if square && models::dcgan_levels(img.1).is_some() => {
                let o = DcganOptions {
                    width: self.width,
                    g_batch_norm: !self.no_g_batch_norm,
                    d_batch_norm: self.d_batch_norm,
                    d_dropout: self.d_dropout(),
                    d_depth: self.d_depth,
                    g_upsample: self.g_upsample,
                };
                let g = DcganOptions { width: self.g_width.unwrap_or(self.width), ..o };
                (models::dcgan_generator(self.z_dim, img, g), models::dcgan_discriminator(packed, o))
            }
            ModelKind::Resnet if resnet::supports(img) => {
                let g_width = self.g_width.unwrap_or(self.width);
                (resnet::resnet_generator(self.z_dim, img, g_width), resnet::resnet_discriminator(packed, self.width))
            }
            ModelKind::Keras if square && img.1.is_multiple_of(4) => {
                (models::keras_generator(self.z_dim, img), models::keras_discriminator(packed))
            }
            ModelKind::Progan if progan::levels(img).is_some() => {
                let nets = self.progan_nets(img, classes, Phase::START)?;
                return Ok((nets.g.spec, nets.d.spec));
            }
            kind => {
                return Err(Error::Config(format!(
                    "the {kind:?} model needs square images of a side it can halve (28, 32, 64), the \
                     data has {}x{}x{}; use --image-size for a folder, or --model mlp",
                    img.0, img.1, img.2
                )));
            }
        };
        self.finish_specs(g, d, classes)
    }

    /// Progressive growing's networks at `phase` for images `img`, told one of `classes`
    /// classes when > 0.
    pub fn progan_nets(&self, img: Shape, classes: usize, phase: Phase) -> Result<PhaseNets> {
        if self.info_cat + self.info_cont > 0 {
            return Err(Error::Config("--model progan does not take InfoGAN's codes yet".into()));
        }
        let packed = Shape(img.0 * self.pac(), img.1, img.2);
        let g_width = self.g_width.unwrap_or(self.width);
        let mut nets = PhaseNets {
            phase,
            g: progan::generator(self.z_dim, img, g_width, phase),
            d: progan::discriminator(packed, self.width, phase),
        };
        (nets.g.spec, nets.d.spec) = self.finish_specs(nets.g.spec, nets.d.spec, classes)?;
        Ok(nets)
    }

    /// The label (or InfoGAN's code) and spectral norm, applied to a model's two networks.
    fn finish_specs(&self, g: NetSpec, d: NetSpec, classes: usize) -> Result<(NetSpec, NetSpec)> {
        if classes == 0 && self.info_cat == 0 && self.g_label == GLabel::Norm {
            return Err(Error::Config(
                "--g-label norm tells G the class (or InfoGAN's categorical code): it needs --conditional or \
                 --info-cat"
                    .into(),
            ));
        }
        let (mut g, mut d) =
            if classes > 0 { models::conditional(g, d, classes, self.d_label == DLabel::Projection) } else { (g, d) };
        // The categorical code, like a class, can also scale and shift every batch norm of G.
        let g_classes = classes + self.info_cat;
        if self.g_label == GLabel::Norm {
            g = models::class_norms(g, g_classes)?;
        }
        // InfoGAN's categorical code enters G as a one-hot label would; D is not told it.
        g.input = Shape(g.input.0 + self.info_cat, 1, 1);
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
            unroll: self.unroll,
            unroll_grad: self.unroll_grad,
            equalized_lr: self.equalized_lr,
            aux_weight: self.aux_weight,
            clip: self.clip,
            real_label: self.real_label,
            opt_g: opt(self.opt_g, self.lr_g),
            opt_d: opt(self.opt_d, self.lr_d),
            seed: self.seed,
            init: self.init(),
            classes: 0,
            instance_noise: self.instance_noise,
            noise_anneal_steps: 0,
            lr_decay: self.lr_decay,
            lr_decay_every: 0,
            g_batch: self.g_batch.unwrap_or(0),
            g_ema: self.g_ema,
            pac: self.pac(),
            gp_weight: self.gp_weight,
            r1: self.r1,
            r1_every: self.r1_every,
            info_cat: self.info_cat,
            info_cont: self.info_cont,
            info_weight: self.info_weight,
            info_cont_weight: self.info_cont_weight,
            augment: Policy {
                color: self.augment.contains(&AugmentKind::Color),
                translation: self.augment.contains(&AugmentKind::Translation),
                cutout: self.augment.contains(&AugmentKind::Cutout),
            },
            augment_p: self.augment_p,
        }
    }

    /// Radford et al.'s N(0, 0.02) for the DCGAN, PyTorch's layer defaults for the MLP.
    pub fn init(&self) -> InitScheme {
        self.init.unwrap_or(match self.model {
            _ if self.equalized_lr => InitScheme::He,
            ModelKind::Dcgan => InitScheme::Dcgan,
            ModelKind::Mlp | ModelKind::Keras | ModelKind::Resnet | ModelKind::Progan => InitScheme::Pytorch,
        })
    }

    pub(super) fn validate(&self) -> Result<()> {
        if self.batch_size == 0
            || self.epochs == 0
            || self.z_dim == 0
            || self.log_every == 0
            || self.width == 0
            || self.g_width == Some(0)
            || self.d_depth == 0
            || self.phase_images == 0
        {
            return Err(Error::Config(
                "--batch-size, --epochs, --z-dim, --log-every, --width, --g-width, --d-depth and --phase-images \
                 must be positive"
                    .into(),
            ));
        }
        if let Some(pac) = self.pac.filter(|&p| p == 0 || !self.batch_size.is_multiple_of(p)) {
            return Err(Error::Config(format!(
                "--pac {pac} must be positive and divide --batch-size {}",
                self.batch_size
            )));
        }
        if self.augment.is_empty() && self.augment_p != Probability::default() {
            return Err(Error::Config("--augment-p sets how often --augment's transforms apply: name them".into()));
        }
        if let Some(g) = self.g_batch.filter(|&g| g == 0 || g > self.batch_size) {
            return Err(Error::Config(format!("--g-batch {g} must be between 1 and --batch-size {}", self.batch_size)));
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
            ("gp-weight", self.gp_weight, NON_NEGATIVE),
            ("r1", self.r1, NON_NEGATIVE),
            ("info-weight", self.info_weight, NON_NEGATIVE),
            ("aux-weight", self.aux_weight, NON_NEGATIVE),
            ("info-cont-weight", self.info_cont_weight, NON_NEGATIVE),
            ("real-label", self.real_label, LABEL),
            ("instance-noise", self.instance_noise, NON_NEGATIVE),
            ("lr-decay", self.lr_decay, POSITIVE),
            ("g-ema", self.g_ema, UNIT),
            ("checkpoint-minutes", self.checkpoint_minutes, NON_NEGATIVE),
        ];
        for (flag, value, (want, ok)) in checks {
            if !value.is_finite() || !ok(value) {
                return Err(Error::Config(format!("--{flag} {value}: must be a finite number {want}")));
            }
        }
        if self.max_minutes.is_some_and(|m| !m.is_finite() || m <= 0.0) {
            return Err(Error::Config("--max-minutes must be a positive number".into()));
        }
        if self.d_skip_below.is_some_and(|v| !v.is_finite()) {
            return Err(Error::Config("--d-skip-below must be a finite number".into()));
        }
        // What Gan::new would refuse, refused before anything is written (the class count is
        // known only once the data is read: any, for a conditional run).
        GanConfig { classes: self.conditional as usize, ..self.gan_config() }.check_extras()?;
        if self.r1_every == 0 {
            return Err(Error::Config("--r1-every must be at least 1".into()));
        }
        if (self.r1 > 0.0 || self.loss == LossKind::WganGp) && self.d_batch_norm {
            return Err(Error::Config(crate::nn::PENALTY_WITHOUT_BATCH_NORM.into()));
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

/// `--backend`, checked while the command line is parsed (before anything is written).
fn backend_name(s: &str) -> std::result::Result<String, String> {
    s.parse::<BackendChoice>().map(|_| s.to_string())
}

/// config.json: every setting of the run, and once the backend exists the adapter it trains on
/// and the kernels chosen for it (so a run's numbers can be traced to the code that made them).
pub(crate) fn write_config(out: &Path, args: &RunConfig, backend: Option<&GpuBackend>) -> Result<()> {
    // Through text, so that f32 settings keep their shortest form (0.999, not 0.99900001).
    let text = serde_json::to_string(args).expect("serialisable");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    if let (Some(b), Some(map)) = (backend, config.as_object_mut()) {
        let a = &b.ctx.adapter;
        map.insert("adapter".into(), serde_json::json!({"name": a.name, "backend": a.backend, "driver": a.driver}));
        map.insert("kernels".into(), serde_json::to_value(b.plan()).expect("serialisable"));
    }
    let path = out.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).expect("serialisable"))
        .map_err(|source| Error::Io { path, source })
}
