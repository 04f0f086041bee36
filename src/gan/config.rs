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
    /// Wasserstein critic with a gradient penalty (Gulrajani et al. 2017): D also minimises
    /// λ·(‖∇D(x̂)‖ − 1)² on random interpolates x̂ of real and fake samples (`--gp-weight`).
    WganGp,
    /// Hinge loss (Lim & Ye 2017, Miyato et al. 2018): D minimises relu(1 − D(x)) +
    /// relu(1 + D(G(z))), G minimises −D(G(z)).
    Hinge,
}

impl LossKind {
    /// Whether D's output is a raw score rather than the logit of a probability.
    pub fn raw_score(self) -> bool {
        matches!(self, LossKind::Wgan | LossKind::WganGp | LossKind::Hinge)
    }
}

/// How far back G's gradient reaches in an unrolled iteration (`--unroll-grad`; saved as spelled
/// on the command line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UnrollGrad {
    /// Through the look-ahead D's weights, taken as constants.
    #[default]
    FirstOrder,
    /// Also back through every look-ahead update of D (Metz et al.'s surrogate gradient): one
    /// Hessian-vector product per look-ahead step.
    Full,
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
    /// Residual G and D (SN-GAN, BigGAN): up-blocks with nearest upsampling in G, down-blocks
    /// with average pooling in D; for pictures at 32 to 128 pixels.
    Resnet,
    /// Progressive growing (Karras et al. 2018): G and D grow from the base resolution, each
    /// doubling faded in; pixel norm in G, the minibatch standard deviation in D.
    Progan,
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
    /// Adam's step number `t` with these settings (L2 weight decay, as torch.optim.Adam).
    pub fn adam_step(&self, t: u64) -> crate::ops::adam::AdamStep {
        crate::ops::adam::AdamStep {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled: false,
            t,
        }
    }

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
    /// Both learning rates are multiplied by `lr_decay` every `lr_decay_every` iterations (an
    /// epoch; 0: never).
    #[serde(default = "one_f32")]
    pub lr_decay: f32,
    #[serde(default)]
    pub lr_decay_every: u64,
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
    /// WGAN-GP's penalty weight λ.
    #[serde(default = "default_gp_weight")]
    pub gp_weight: f32,
    /// R1's γ (Mescheder et al. 2018; 0: off): D also minimises (γ/2)·‖∇D(x)‖² on real samples,
    /// every `r1_every` iterations (lazy regularisation, the penalty scaled by `r1_every`).
    #[serde(default)]
    pub r1: f32,
    #[serde(default = "one")]
    pub r1_every: u64,
    /// InfoGAN (Chen et al. 2016; 0 and 0: off): values of a categorical code appended to G's
    /// input one-hot, and how many of z's last dimensions are continuous codes, both predicted
    /// from D's features by a Q head; their mutual-information bound, times `info_weight`,
    /// enters G's loss and Q's (and D's body through Q).
    #[serde(default)]
    pub info_cat: usize,
    #[serde(default)]
    pub info_cont: usize,
    #[serde(default = "one_f32")]
    pub info_weight: f32,
    /// The continuous codes' share of InfoGAN's loss beside the categorical code's.
    #[serde(default = "info_cont_weight")]
    pub info_cont_weight: f32,
    /// Unrolled GAN (Metz et al. 2017; 0 or 1: off): G's step is taken against D as it will be
    /// `unroll` D steps from now, each on a fresh real batch, of which only the first is kept.
    #[serde(default)]
    pub unroll: usize,
    /// Whether G's gradient also flows back through the look-ahead steps.
    #[serde(default)]
    pub unroll_grad: UnrollGrad,
    /// AC-GAN's auxiliary classifier (Odena et al. 2017; 0: off), for conditional models: a head
    /// on D's last features learns the real images' classes, and G's loss adds this weight
    /// times its cross-entropy on the fakes of the classes they were drawn for.
    #[serde(default)]
    pub aux_weight: f32,
    /// Equalised learning rates (Karras et al. 2018): each weight tensor learns at √2/√fan_in
    /// times the rate, from He's initialisation.
    #[serde(default)]
    pub equalized_lr: bool,
    /// DiffAugment (Zhao et al. 2020): the transforms applied to every image D sees, real or
    /// fake, in D's steps and G's, G learning through them.
    #[serde(default)]
    pub augment: crate::ops::augment::Policy,
    /// How often each transform is applied: always, a fixed share, or ADA's controller.
    #[serde(default)]
    pub augment_p: crate::ops::augment::Probability,
}

/// Chen et al. 2016 weigh the continuous codes' term down (by 0.1 or less), so the categorical
/// code, not the continuous ones, takes what separates the data most.
pub const INFO_CONT_WEIGHT: f32 = 0.1;

fn info_cont_weight() -> f32 {
    INFO_CONT_WEIGHT
}

fn one_f32() -> f32 {
    1.0
}

/// Gulrajani et al.'s λ.
pub const GP_WEIGHT: f32 = 10.0;

fn default_gp_weight() -> f32 {
    GP_WEIGHT
}

fn one() -> u64 {
    1
}

/// A penalty on D's input gradient, as the iteration applies it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    /// λ·(‖∇D(x̂)‖ − 1)² on interpolates x̂ of real and fake samples.
    Wgan { weight: f32 },
    /// (γ/2)·‖∇D(x)‖² on real samples, on iterations that are multiples of `every`.
    R1 { gamma: f32, every: u64 },
}

impl Default for GanConfig {
    /// Radford et al.'s DCGAN settings (BCE, batch 64, z 100, Adam 2e-4 β1 0.5) with every
    /// extra off; the CLI's recipes start from their own flags, this serves benchmarks and tests.
    fn default() -> Self {
        GanConfig {
            loss: LossKind::Bce,
            batch: 64,
            z_dim: 100,
            d_steps: 1,
            clip: 0.01,
            real_label: 1.0,
            opt_g: OptConfig::dcgan_adam(),
            opt_d: OptConfig::dcgan_adam(),
            seed: 0,
            init: Default::default(),
            classes: 0,
            instance_noise: 0.0,
            noise_anneal_steps: 0,
            lr_decay: 1.0,
            lr_decay_every: 0,
            g_batch: 0,
            g_ema: 0.0,
            pac: 1,
            gp_weight: GP_WEIGHT,
            r1: 0.0,
            r1_every: 1,
            unroll: 0,
            unroll_grad: UnrollGrad::FirstOrder,
            equalized_lr: false,
            aux_weight: 0.0,
            info_cat: 0,
            info_cont: 0,
            info_weight: 1.0,
            info_cont_weight: INFO_CONT_WEIGHT,
            augment: Default::default(),
            augment_p: Default::default(),
        }
    }
}

impl GanConfig {
    /// D steps taken only to look ahead for G's step, then undone (`unroll` − 1).
    pub fn lookahead(&self) -> usize {
        self.unroll.saturating_sub(1)
    }

    /// Real batches one iteration reads: one per kept D step and one per look-ahead step.
    pub fn real_batches(&self) -> usize {
        self.d_steps.max(1) + self.lookahead()
    }

    /// Real samples one iteration reads.
    pub fn samples_per_iteration(&self) -> usize {
        self.batch * self.real_batches()
    }

    /// Whether a Q head learns InfoGAN's latent codes.
    pub fn info(&self) -> bool {
        self.info_cat + self.info_cont > 0
    }

    /// The one-hot planes appended to G's input: the classes, or InfoGAN's categorical code.
    pub fn g_classes(&self) -> usize {
        self.classes + self.info_cat
    }

    /// ADA's target, when D's input is augmented with `--augment-p auto`.
    pub fn ada_target(&self) -> Option<f32> {
        match self.augment_p {
            crate::ops::augment::Probability::Auto { target } if self.augment.any() => Some(target),
            _ => None,
        }
    }

    /// InfoGAN's loss over `n` samples of this configuration's codes.
    pub fn info_loss(&self, n: usize) -> crate::ops::info_loss::InfoLoss {
        if self.aux() {
            return crate::ops::info_loss::InfoLoss { n, k: self.classes, c: 0, z_dim: self.z_dim, cont_weight: 0.0 };
        }
        let (k, c, z_dim, cont_weight) = (self.info_cat, self.info_cont, self.z_dim, self.info_cont_weight);
        crate::ops::info_loss::InfoLoss { n, k, c, z_dim, cont_weight }
    }

    /// Whether D carries AC-GAN's auxiliary classifier.
    pub fn aux(&self) -> bool {
        self.aux_weight > 0.0 && self.classes > 0
    }

    /// The weight of the Q head's loss in G's: InfoGAN's or the auxiliary classifier's.
    pub fn head_weight(&self) -> f32 {
        if self.aux() { self.aux_weight } else { self.info_weight }
    }

    /// Checks the penalties and InfoGAN's codes against each other and the model: one penalty
    /// at a time, codes only for an unconditional, unpacked model with room for them in z.
    pub fn check_extras(&self) -> crate::error::Result<()> {
        use crate::error::Error;
        if self.loss == LossKind::WganGp && self.r1 > 0.0 {
            return Err(Error::Config("--r1 with --loss wgan-gp: choose one gradient penalty".into()));
        }
        if self.info() && (self.classes > 0 || self.pac() > 1 || self.info_cont > self.z_dim || self.info_cat == 1) {
            return Err(Error::Config(format!(
                "--info-cat {} --info-cont {}: InfoGAN's codes need an unconditional model without --pac, \
                 at least 2 categorical values (or 0) and at most --z-dim {} continuous codes",
                self.info_cat, self.info_cont, self.z_dim
            )));
        }
        if self.aux_weight > 0.0 && (self.classes == 0 || self.pac() > 1) {
            return Err(Error::Config(
                "--aux-weight trains a classifier of the labels: it needs --conditional (without --pac)".into(),
            ));
        }
        if self.full_unroll() && (self.penalty().is_some() || self.info() || self.aux() || self.loss == LossKind::Wgan)
        {
            return Err(Error::Config(
                "--unroll-grad full differentiates D's look-ahead updates, which a gradient penalty, weight \
                 clipping (--loss wgan) or InfoGAN's Q would make third-order or flat: use --unroll-grad first-order"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether G's gradient flows back through look-ahead steps (there are some, and it is asked).
    pub fn full_unroll(&self) -> bool {
        self.lookahead() > 0 && self.unroll_grad == UnrollGrad::Full
    }

    /// The gradient penalty D is trained with, if any.
    pub fn penalty(&self) -> Option<Penalty> {
        if self.loss == LossKind::WganGp {
            Some(Penalty::Wgan { weight: self.gp_weight })
        } else if self.r1 > 0.0 {
            Some(Penalty::R1 { gamma: self.r1, every: self.r1_every.max(1) })
        } else {
            None
        }
    }

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
