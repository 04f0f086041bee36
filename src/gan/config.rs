use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// BCE; the generator maximises log D(G(z)) (non-saturating, Goodfellow 2014 §3).
    Bce,
    /// BCE; the generator minimises log(1 − D(G(z))), the original minimax game.
    Minimax,
    /// Least squares (Mao et al. 2017), targets 1 and 0, losses halved.
    Lsgan,
    /// Wasserstein critic with weight clipping (Arjovsky et al. 2017).
    Wgan,
    /// Hinge loss (Lim & Ye 2017, Miyato et al. 2018): D minimises relu(1 − D(x)) +
    /// relu(1 + D(G(z))), G minimises −D(G(z)).
    Hinge,
}

impl LossKind {
    /// Whether D's output is a raw score rather than the logit of a probability.
    pub fn raw_score(self) -> bool {
        matches!(self, LossKind::Wgan | LossKind::Hinge)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Fully connected G and D (Goodfellow et al. 2014); images of any size, and table rows.
    Mlp,
    /// Radford et al. 2015: transposed convolutions in G, strided convolutions in D.
    Dcgan,
    /// The Keras DCGAN of `--preset dcgan-keras`: pixels in [0, 1] and a sigmoid output.
    Keras,
}

impl ModelKind {
    /// Whether G's output (and the data it is shown) is in [0, 1] (sigmoid) rather than
    /// [−1, 1] (tanh).
    pub fn unit_pixels(self) -> bool {
        self == ModelKind::Keras
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OptKind {
    Adam,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptConfig {
    pub kind: OptKind,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// SGD momentum.
    pub momentum: f32,
    pub weight_decay: f32,
}

impl OptConfig {
    /// Radford et al. 2015: Adam, lr 2e-4, β1 0.5.
    pub fn dcgan_adam() -> Self {
        OptConfig {
            kind: OptKind::Adam,
            lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanConfig {
    pub loss: LossKind,
    pub batch: usize,
    pub z_dim: usize,
    /// Discriminator (critic) steps per generator step.
    pub d_steps: usize,
    /// WGAN weight clipping bound.
    pub clip: f32,
    /// Target for real images in the discriminator's loss (1.0, or e.g. 0.9 for one-sided smoothing).
    pub real_label: f32,
    pub opt_g: OptConfig,
    pub opt_d: OptConfig,
    pub seed: u64,
    /// How both networks' weights start (older checkpoints: PyTorch's defaults).
    #[serde(default)]
    pub init: crate::nn::InitScheme,
    /// Classes both networks are told (0: unconditional). G's input is z then the one-hot label;
    /// D's is the image then one constant plane per class (one feature per class for an MLP).
    #[serde(default)]
    pub classes: usize,
    /// Standard deviation of the Gaussian instance noise on every input of D (Sønderby et al.
    /// 2016, Arjovsky & Bottou 2017), falling linearly to 0 at step `noise_anneal_steps`.
    #[serde(default)]
    pub instance_noise: f32,
    #[serde(default)]
    pub noise_anneal_steps: u64,
    /// Samples of each fake batch the generator step learns from (0: all `batch`): a generator
    /// batch smaller than the discriminator's, as in setups that train them at different sizes.
    #[serde(default)]
    pub g_batch: usize,
    /// Decay of the generator's exponential moving average (0: none), updated after every G
    /// step with a warm-up; samples come from it.
    #[serde(default)]
    pub g_ema: f32,
    /// PacGAN packing (0 or 1: off): D judges `pac` consecutive samples at once, concatenated
    /// (for images, stacked as channels), so its batch is `batch / pac`.
    #[serde(default)]
    pub pac: usize,
}

impl GanConfig {
    /// Samples D judges at once.
    pub fn pac(&self) -> usize {
        self.pac.max(1)
    }

    /// D's batch: one decision per `pac` samples.
    pub fn d_batch(&self) -> usize {
        self.batch / self.pac()
    }

    /// The generator step's batch: `g_batch` when set (at most `batch`), else `batch`.
    pub fn g_batch(&self) -> usize {
        if self.g_batch == 0 { self.batch } else { self.g_batch.min(self.batch) }
    }
}
