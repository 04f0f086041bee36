//! `--preset NAME`: well-known GAN setups by one flag. A preset fills in the settings it names;
//! any of them given on the command line wins.

use super::config::{GLabel, RunConfig};
use super::data::DataFormat;
use crate::gan::models::GUpsample;
use crate::gan::{LossKind, ModelKind, OptKind};
use crate::nn::InitScheme;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Goodfellow et al. 2014 (MNIST): MLP G 1200-1200, D 240-240 with dropout 0.5, SGD with
    /// momentum 0.5 at lr 0.1, batch 100, k = 1 D step per G step.
    Goodfellow2014,
    /// A small MLP GAN on MNIST zeros: G 64-128-512-784, D 784-256-1, SGD, G lr 1e-3,
    /// D lr 0.05, D batch 32, G batch 16 (the G step learns from 16 of the D step's fakes).
    MlpZeros,
    /// Radford et al. 2015: DCGAN with batch norm in G and D, Adam lr 2e-4 β1 0.5, batch 128,
    /// weights N(0, 0.02).
    Radford2015,
    /// The Keras DCGAN for MNIST (J. Brownlee's tutorial): D two 64-filter 3×3 stride-2 convs
    /// with dropout 0.4, G transposed convs to a sigmoid output, Adam 2e-4 β1 0.5, batch 128.
    DcganKeras,
}

/// Values of the table recipe's categorical code (InfoGAN's): more than a table's clusters is
/// harmless (16 kept the ring's 8 modes as well as 8 did), fewer leaves some to share a value.
pub const TABLE_INFO_CAT: usize = 16;

/// The default DCGAN's learning rate for G and D (other models keep Radford et al.'s 2e-4).
pub const DCGAN_LR: f32 = 1e-3;

/// The default DCGAN's batch size (other models keep 64).
pub const DCGAN_BATCH: usize = 16;

/// `set!(args, explicit; field = value, ...)`: each setting only where the user did not give
/// `--field`.
macro_rules! set {
    ($args:ident, $explicit:ident; $($field:ident = $value:expr),* $(,)?) => {{
        $(if !$explicit(stringify!($field)) { $args.$field = $value; })*
    }};
}

impl RunConfig {
    /// Applies the preset, if any, to every setting for which `explicit(id)` is false (`id` is
    /// the field name, as clap names the argument); then the defaults that depend on the model.
    pub(super) fn apply_preset(&mut self, explicit: &dyn Fn(&str) -> bool) {
        let Some(preset) = self.preset else {
            self.apply_recipe(explicit);
            return;
        };
        // The published setups had no moving average of G and no spectral norm.
        set!(self, explicit; g_ema = 0.0, d_spectral_norm = false);
        match preset {
            Preset::Goodfellow2014 => set!(self, explicit;
                model = ModelKind::Mlp,
                g_hidden = "1200,1200".into(),
                d_hidden = "240,240".into(),
                d_dropout = Some(0.5),
                loss = LossKind::Bce,
                opt_g = OptKind::Sgd,
                opt_d = OptKind::Sgd,
                lr_g = 0.1,
                lr_d = 0.1,
                momentum = 0.5,
                batch_size = 100,
                d_steps = 1,
                init = Some(InitScheme::Pytorch),
            ),
            Preset::MlpZeros => set!(self, explicit;
                model = ModelKind::Mlp,
                z_dim = 64,
                g_hidden = "128,512".into(),
                d_hidden = "256".into(),
                d_dropout = Some(0.0),
                loss = LossKind::Bce,
                opt_g = OptKind::Sgd,
                opt_d = OptKind::Sgd,
                momentum = 0.0,
                lr_g = 1e-3,
                lr_d = 0.05,
                batch_size = 32,
                g_batch = Some(16),
                digits = Some("0".into()),
                init = Some(InitScheme::Pytorch),
            ),
            Preset::Radford2015 => {
                self.apply_dcgan_training(explicit);
                set!(self, explicit;
                    model = ModelKind::Dcgan,
                    width = 64,
                    d_depth = 1,
                    d_batch_norm = true,
                    no_g_batch_norm = false,
                    init = Some(InitScheme::Dcgan),
                );
            }
            Preset::DcganKeras => {
                self.apply_dcgan_training(explicit);
                set!(self, explicit; model = ModelKind::Keras, init = Some(InitScheme::Pytorch));
            }
        }
    }

    /// The DCGAN paper's training (Radford et al. 2015), which both DCGAN presets follow: BCE,
    /// Adam at 2e-4 with β1 = 0.5 for G and D, batches of 128.
    fn apply_dcgan_training(&mut self, explicit: &dyn Fn(&str) -> bool) {
        set!(self, explicit;
            loss = LossKind::Bce,
            opt_g = OptKind::Adam,
            opt_d = OptKind::Adam,
            lr_g = 2e-4,
            lr_d = 2e-4,
            beta1 = 0.5,
            batch_size = 128,
        );
    }

    /// The recipes of a run without `--preset`, chosen by measurement: for tables, for the
    /// default DCGAN, and what `--loss wgan-gp` brings.
    fn apply_recipe(&mut self, explicit: &dyn Fn(&str) -> bool) {
        // The default DCGAN's recipe, chosen by measurement (README, "Why these defaults"):
        // Adam moves each weight by about lr per step, and at 2e-4 G needs thousands of
        // steps to move its output from the initial grey to the data's background; the
        // moving average (--g-ema) hides the noisier steps from the samples, hinge loss with
        // a spectrally normalised D scored best at that step size, and Adam without momentum
        // (β1 0, as SN-GAN, BigGAN and StyleGAN train) better again: momentum carries each
        // player past where the other has moved to.
        let format = self.data.as_ref().map(|d| self.format.unwrap_or_else(|| DataFormat::detect(d)));
        if format == Some(DataFormat::Csv) {
            // The table recipe, chosen by measurement (README, "Tables"): hinge loss and β1 0
            // as for images, but no spectral norm: a row is a few numbers, not thousands of
            // pixels for D to overfit, and capping each layer's gain kept D from seeing the
            // dependence between columns (spurious correlations of 0.1–0.15 with it, 0.06–0.07
            // without, on tables not tuned on); no dropout in D (it halved the spread G drew),
            // two D steps per G step, small nets and a 32-dim z, batch 32 at lr 5e-4. And a
            // categorical code with InfoGAN's loss instead of PacGAN's packing: a G that is a
            // continuous function of Gaussian noise leaks mass between clusters that touch
            // (the ring's modes, 40–80% of points on them without the code, 97–98% with it),
            // the code lets it jump, and packing would hide the wrong pairs from D.
            set!(self, explicit;
                model = ModelKind::Mlp,
                lr_g = 5e-4,
                lr_d = 5e-4,
                batch_size = 32,
                d_steps = 2,
                z_dim = 32,
                g_hidden = "256,256".into(),
                d_hidden = "256,256".into(),
                beta1 = 0.0,
                loss = LossKind::Hinge,
                d_spectral_norm = false,
                d_dropout = Some(0.0),
            );
            // The code needs an unpacked, unconditional model: packing or labels asked for
            // take its place.
            if self.pac() == 1 && !self.conditional {
                set!(self, explicit; info_cat = TABLE_INFO_CAT);
            }
        } else if self.model == ModelKind::Dcgan {
            // Batch 16: more, smaller steps per epoch gave lower FD and KID after 1 and 5 epochs
            // on both seeds measured than 32 (and 32 than 64); batch 8 was better after one epoch
            // but not after five, at 1.3x the cost (README, "Why these defaults").
            set!(self, explicit;
                lr_g = DCGAN_LR,
                lr_d = DCGAN_LR,
                beta1 = 0.0,
                loss = LossKind::Hinge,
                d_spectral_norm = true,
                batch_size = DCGAN_BATCH
            );
            // Pictures from a folder: G doubles by nearest 2× and a 3×3 convolution. A 4×4
            // transposed convolution of stride 2 sums 1, 2 or 4 taps by an output pixel's
            // position, a dotted texture G must learn to cancel; without it the classifier told
            // the samples from the icons less often at 32 and 64 px in the same minutes (0.70
            // against 0.76, 0.84 against 0.89; BENCHMARKS.md, session 21). MNIST's 28×28
            // default keeps the transposed convolutions it was chosen with.
            if format == Some(DataFormat::Folder) {
                set!(self, explicit; g_upsample = GUpsample::Nearest);
            }
        } else if matches!(self.model, ModelKind::Resnet | ModelKind::Progan) {
            // SN-GAN's and BigGAN's training: hinge loss, spectral norm in D, Adam with β1 0 at
            // 2e-4; the DCGAN's batch of 16.
            set!(self, explicit;
                beta1 = 0.0,
                loss = LossKind::Hinge,
                d_spectral_norm = true,
                batch_size = DCGAN_BATCH
            );
        }
        // Conditional batch norm: the label obeyed as often as with the one-hot input alone,
        // and a lower FD (10.4 against 11.8 after one epoch, 6.5 against 8.6 after five;
        // BENCHMARKS.md, session 19).
        let g_batch_norm = match self.model {
            ModelKind::Dcgan => !self.no_g_batch_norm,
            ModelKind::Resnet => true,
            ModelKind::Mlp | ModelKind::Keras | ModelKind::Progan => false,
        };
        // InfoGAN's categorical code the same way: the code meant the digit more often (purity
        // 52.8% and 60.2% against 40.8% and 33.1% on seeds 0 and 1; BENCHMARKS.md, session 20).
        if (self.conditional || self.info_cat > 0) && g_batch_norm {
            set!(self, explicit; g_label = GLabel::Norm);
        }
        // AC-GAN's auxiliary classifier beside the projection head: after five epochs every
        // class read as asked 98.9–100% of the time (the twos at 97.5–97.6% without it), at a
        // lower FD (6.23 and 6.77 against 6.51 and 7.50; BENCHMARKS.md, session 20).
        if self.conditional && self.model == ModelKind::Dcgan {
            set!(self, explicit; aux_weight = 1.0);
        }
        if self.loss == LossKind::WganGp {
            // Gulrajani et al.'s β (0, 0.9) and no other constraint on the critic, at the
            // default's step size and one critic step per G step: their lr 1e-4 with five
            // critic steps drew noise after one epoch (README, "Gradient penalties").
            set!(self, explicit; beta1 = 0.0, beta2 = 0.9, d_spectral_norm = false);
        }
    }
}
