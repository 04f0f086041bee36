//! One training iteration: `d_steps` discriminator steps (each on a real batch and a fresh fake
//! batch), then one generator step on the last fake batch, as in PyTorch's DCGAN example.
//! Everything is recorded on the backend; nothing waits for the device. Losses and logits land
//! in [`Gan::stats`], which the caller reads back when it wants (asynchronously on the GPU).

use super::config::{GanConfig, LossKind, OptConfig, OptKind};
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::nn::{Net, NetSpec};
use crate::ops::adam::AdamStep;
use crate::ops::condition::Condition;
use crate::ops::ema::EmaStep;
use crate::ops::random::Distribution;
use crate::ops::random::reference::threefry2x32;
use crate::ops::sgd::SgdStep;

/// Slots of [`Gan::stats`], each on a 64-float boundary so it can be bound on any adapter.
const SLOT: usize = 64;
const D_LOSS_REAL: usize = 0;
const D_LOSS_FAKE: usize = SLOT;
const G_LOSS: usize = 2 * SLOT;
const LOGITS_REAL: usize = 3 * SLOT;

/// Batches of fresh noise whose statistics become the EMA generator's batch-norm statistics.
pub const EMA_STAT_BATCHES: usize = 16;

/// A network's optimizer state: Adam's two moments, or SGD's momentum buffer (in `m`).
pub struct Optimizer<B: Backend> {
    pub cfg: OptConfig,
    pub m: B::T,
    pub v: B::T,
    /// Steps taken (Adam's t).
    pub t: u64,
}

impl<B: Backend> Optimizer<B> {
    pub fn new(b: &mut B, cfg: OptConfig, n: usize) -> Result<Self> {
        Ok(Optimizer { cfg, m: b.alloc(n)?, v: b.alloc(n)?, t: 0 })
    }

    pub fn step(&mut self, b: &mut B, params: &B::T, grads: &B::T) -> Result<()> {
        self.t += 1;
        let c = self.cfg;
        match c.kind {
            OptKind::Adam => {
                let s = AdamStep {
                    lr: c.lr,
                    beta1: c.beta1,
                    beta2: c.beta2,
                    eps: c.eps,
                    weight_decay: c.weight_decay,
                    decoupled: false,
                    t: self.t,
                };
                crate::ops::adam::step(b, &s, params, grads, &self.m, &self.v)
            }
            OptKind::Sgd => {
                let s = SgdStep { lr: c.lr, momentum: c.momentum, weight_decay: c.weight_decay };
                crate::ops::sgd::step(b, &s, params, grads, &self.m)
            }
        }
    }
}

/// A 64-bit seed for one purpose at one step: Threefry of (seed; step, purpose).
pub fn derive_seed(seed: u64, step: u64, purpose: u64) -> u64 {
    let [a, b] = threefry2x32(
        [seed as u32, (seed >> 32) as u32],
        [step as u32, ((step >> 32) ^ (purpose << 8)) as u32],
    );
    (a as u64) | ((b as u64) << 32)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IterStats {
    pub d_loss: f32,
    pub g_loss: f32,
    /// Mean D(x) on the real batch (σ of the logit; the raw critic score for WGAN).
    pub d_real: f32,
    /// Mean D(G(z)) on the fake batch.
    pub d_fake: f32,
    /// Fraction of real images the discriminator calls real (logit > 0).
    pub acc_real: f32,
    /// Fraction of fakes it calls fake (logit < 0).
    pub acc_fake: f32,
}

impl IterStats {
    /// The statistics of a metrics.jsonl line, None for lines of other kinds (evaluations).
    pub fn from_json(v: &serde_json::Value) -> Option<IterStats> {
        let f = |k: &str| v[k].as_f64().map(|x| x as f32);
        Some(IterStats {
            d_loss: f("d_loss")?,
            g_loss: f("g_loss")?,
            d_real: f("d_real")?,
            d_fake: f("d_fake")?,
            acc_real: f("acc_real")?,
            acc_fake: f("acc_fake")?,
        })
    }
}

pub struct Gan<B: Backend> {
    pub cfg: GanConfig,
    pub g: Net<B>,
    /// The moving average of G's weights (when `cfg.g_ema` > 0), which samples are drawn from.
    pub g_ema: Option<Net<B>>,
    pub d: Net<B>,
    pub opt_g: Optimizer<B>,
    pub opt_d: Optimizer<B>,
    /// Iterations done.
    pub step: u64,
    z: B::T,
    real_target: B::T,
    fake_target: B::T,
    gen_target: B::T,
    per_sample: B::T,
    /// Labels of the fake batch: uniform in [0, classes), floored by `condition`.
    fake_labels: B::T,
    /// G's input when conditional: z then the one-hot label.
    g_in: Option<B::T>,
    /// D's input and its gradient when conditional or noisy.
    d_in: Option<(B::T, B::T)>,
    /// How D's input is formed from an image (noise and seed are set per call).
    d_cond: Condition,
    /// False skips D's backward passes and updates (a frozen D, or one that is winning by too
    /// much); its losses are still computed.
    pub train_d: bool,
    /// [d_loss_real, d_loss_fake, g_loss, logits on real, logits on fake], slot-aligned.
    pub stats: B::T,
}

impl<B: Backend> Gan<B> {
    pub fn new(b: &mut B, cfg: GanConfig, g_spec: &NetSpec, d_spec: &NetSpec) -> Result<Self> {
        let n = cfg.batch;
        let pac = cfg.pac();
        if !n.is_multiple_of(pac) || !cfg.g_batch().is_multiple_of(pac) || (pac > 1 && cfg.classes > 0) {
            return Err(Error::Config(format!(
                "--pac {pac} needs a batch size (and --g-batch) that it divides, and an unconditional model"
            )));
        }
        let g = Net::new(b, g_spec, n)?;
        let d = Net::new(b, d_spec, n / pac)?;
        if !(0.0..1.0).contains(&cfg.g_ema) {
            return Err(Error::Config(format!("--g-ema {} must be in [0, 1) (0: off)", cfg.g_ema)));
        }
        let g_ema = if cfg.g_ema > 0.0 { Some(Net::new(b, g_spec, n)?) } else { None };
        let k = cfg.classes;
        let image = g.output_shape().size() * pac;
        let label_len = d_spec.input.size().checked_sub(image).filter(|&l| k > 0 && l % k == 0);
        let spatial = match label_len {
            Some(l) if l > 0 => l / k,
            None if k == 0 && d_spec.input.size() == image => 1,
            _ => {
                return Err(Error::Config(format!(
                    "D's input {:?} is not G's output {:?} plus {k} label planes",
                    d_spec.input,
                    g.output_shape()
                )));
            }
        };
        if g_spec.input.size() != cfg.z_dim + k {
            return Err(Error::Config(format!(
                "G's input has {} features, z_dim {} plus {k} classes",
                g_spec.input.size(),
                cfg.z_dim
            )));
        }
        let d_cond =
            Condition { n: n / pac, dim: image, classes: k, spatial, sigma: 0.0, seed: 0, offset: 0 };
        let d_in = if k > 0 || cfg.instance_noise > 0.0 {
            Some((b.alloc(d_cond.n * d_cond.out_dim())?, b.alloc(d_cond.n * d_cond.out_dim())?))
        } else {
            None
        };
        let opt_g = Optimizer::new(b, cfg.opt_g, g.params.len())?;
        let opt_d = Optimizer::new(b, cfg.opt_d, d.params.len())?;
        let (real_label, gen_label) = match cfg.loss {
            LossKind::Minimax => (cfg.real_label, 0.0),
            _ => (cfg.real_label, 1.0),
        };
        let mut gan = Gan {
            z: b.alloc(n * cfg.z_dim)?,
            fake_labels: b.alloc(n)?,
            g_in: if k > 0 { Some(b.alloc(n * (cfg.z_dim + k))?) } else { None },
            d_in,
            d_cond,
            train_d: true,
            real_target: b.upload(&vec![real_label; n])?,
            fake_target: b.alloc(n)?,
            gen_target: b.upload(&vec![gen_label; n])?,
            per_sample: b.alloc(n)?,
            stats: b.alloc(LOGITS_REAL + 2 * n.div_ceil(SLOT) * SLOT)?,
            cfg,
            g,
            g_ema,
            d,
            opt_g,
            opt_d,
            step: 0,
        };
        gan.g.init_with(b, derive_seed(gan.cfg.seed, 0, 1), gan.cfg.init)?;
        gan.d.init_with(b, derive_seed(gan.cfg.seed, 0, 2), gan.cfg.init)?;
        if let Some(ema) = &gan.g_ema {
            b.copy(&gan.g.params, &ema.params)?;
            b.copy(&gan.g.running, &ema.running)?;
        }
        Ok(gan)
    }

    /// Gives the EMA generator batch-norm statistics of its own: the cumulative average over
    /// [`EMA_STAT_BATCHES`] batches of fresh noise through the averaged weights (the method of
    /// torch.optim.swa_utils.update_bn). The live G's running statistics belong to the live
    /// weights and would not match an average of past weights. Deterministic in (seed, step),
    /// and touches nothing the training reads, so resumed runs stay exact.
    pub fn refresh_ema_statistics(&mut self, b: &mut B) -> Result<()> {
        if self.g_ema.as_ref().is_none_or(|e| !e.has_batch_norm()) {
            return Ok(());
        }
        for k in 0..EMA_STAT_BATCHES {
            let input = self.draw_input(b, 50 + k as u64)?;
            let ema = self.g_ema.as_mut().expect("checked above");
            ema.set_batch_norm_momentum(Some(1.0 / (k + 1) as f32));
            ema.forward(b, &input, true, 0, 0)?;
        }
        let ema = self.g_ema.as_mut().expect("checked above");
        ema.set_batch_norm_momentum(None);
        Ok(())
    }

    fn logits_fake_at(&self) -> usize {
        LOGITS_REAL + self.cfg.batch.div_ceil(SLOT) * SLOT
    }

    /// G's input for draw `k` of this iteration: fresh latent noise, and a fresh uniformly drawn
    /// label when conditional.
    fn draw_input(&mut self, b: &mut B, k: u64) -> Result<B::T> {
        let seed = derive_seed(self.cfg.seed, self.step, 100 + k);
        crate::ops::random::fill(b, Distribution::Normal { mean: 0.0, std: 1.0 }, seed, 0, &self.z)?;
        let Some(g_in) = &self.g_in else { return Ok(self.z.clone()) };
        let classes = self.cfg.classes as f32;
        let seed = derive_seed(self.cfg.seed, self.step, 300 + k);
        crate::ops::random::fill(
            b,
            Distribution::Uniform { low: 0.0, high: classes },
            seed,
            0,
            &self.fake_labels,
        )?;
        let s = self.g_condition();
        crate::ops::condition::forward(b, &s, &self.z, &self.fake_labels, g_in)?;
        Ok(g_in.clone())
    }

    fn g_condition(&self) -> Condition {
        let (n, z_dim, classes) = (self.cfg.batch, self.cfg.z_dim, self.cfg.classes);
        Condition { n, dim: z_dim, classes, spatial: 1, sigma: 0.0, seed: 0, offset: 0 }
    }

    /// The instance noise's standard deviation at the current step.
    pub fn noise_sigma(&self) -> f32 {
        let c = &self.cfg;
        match c.noise_anneal_steps {
            0 => c.instance_noise,
            t => c.instance_noise * (1.0 - self.step as f32 / t as f32).max(0.0),
        }
    }

    /// What D sees of images `x` with labels `label`: x itself, or x with instance noise and
    /// label planes (call numbers the draws within an iteration).
    fn d_input(&mut self, b: &mut B, x: &B::T, label: &B::T, call: u64) -> Result<B::T> {
        let Some((d_in, _)) = &self.d_in else { return Ok(x.clone()) };
        let s = Condition {
            sigma: self.noise_sigma(),
            seed: derive_seed(self.cfg.seed, self.step, 400 + call),
            ..self.d_cond
        };
        crate::ops::condition::forward(b, &s, x, label, d_in)?;
        Ok(d_in.clone())
    }

    /// Writes the mean loss of D's current output into `stats[slot]` and dL/dlogits into D's
    /// output gradient, for the real, fake or generator term of the loss.
    fn loss(&mut self, b: &mut B, slot: usize, role: Role) -> Result<()> {
        let (z, dz) = (self.d.output().clone(), self.d.output_grad().clone());
        // The generator's term may use only the first g_batch samples; the rest get no gradient.
        let (pac, d_batch) = (self.cfg.pac(), self.cfg.d_batch());
        let used = if role == Role::Gen { self.cfg.g_batch() / pac } else { d_batch };
        if used < d_batch {
            b.zero(&dz.slice(used, d_batch - used))?;
        }
        let (z, dz) = (z.slice(0, used), dz.slice(0, used));
        let n = used as f32;
        let out = self.stats.slice(slot, 1);
        let target = match role {
            Role::Real => &self.real_target,
            Role::Fake => &self.fake_target,
            Role::Gen => &self.gen_target,
        }
        .slice(0, used);
        let target = &target;
        let per_sample = self.per_sample.slice(0, used);
        match self.cfg.loss {
            LossKind::Bce | LossKind::Minimax => {
                // Minimax's generator minimises −BCE(D(G(z)), 0) = log(1 − D(G(z))).
                let sign = if role == Role::Gen && self.cfg.loss == LossKind::Minimax { -1.0 } else { 1.0 };
                crate::ops::bce_with_logits::forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, sign / n)?;
                crate::ops::bce_with_logits::backward(b, &z, target, &dz, sign)
            }
            LossKind::Lsgan => {
                crate::ops::mse::forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, 0.5 / n)?;
                crate::ops::mse::backward(b, &z, target, &dz, 0.5)
            }
            LossKind::Hinge if role != Role::Gen => {
                crate::ops::hinge::forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, 1.0 / n)?;
                crate::ops::hinge::backward(b, &z, target, &dz, 1.0)
            }
            LossKind::Wgan | LossKind::Hinge => {
                // The critic maximises D(x) − D(G(z)); the generator (WGAN's and the hinge
                // loss's) maximises D(G(z)).
                let sign = if role == Role::Fake { 1.0 } else { -1.0 };
                crate::ops::reduce::sum(b, &z, &out, sign / n)?;
                crate::ops::wgan::critic_backward(b, &dz, sign)
            }
        }
    }

    /// One iteration on `reals` (one real batch per discriminator step) with their `labels`
    /// (one per real batch when conditional, else none).
    pub fn iteration(&mut self, b: &mut B, reals: &[B::T], labels: &[B::T]) -> Result<()> {
        assert_eq!(reals.len(), self.cfg.d_steps.max(1), "one real batch per discriminator step");
        let conditional = self.cfg.classes > 0;
        assert_eq!(labels.len(), if conditional { reals.len() } else { 0 }, "labels iff conditional");
        let dropout_seed = |gan: &Self, call: u64| derive_seed(gan.cfg.seed, gan.step, 1000 + call);
        let n = self.cfg.d_batch();
        let fake_at = self.logits_fake_at();
        let mut g_in = self.z.clone();
        for (k, real) in reals.iter().enumerate() {
            let k = k as u64;
            g_in = self.draw_input(b, k)?;
            self.g.forward(b, &g_in, true, dropout_seed(self, 10 * k), 0)?;
            if self.train_d {
                b.zero(&self.d.grads)?;
            }
            self.d.normalise_weights(b)?;

            let real_label = labels.get(k as usize).unwrap_or(&self.fake_labels).clone();
            let x = self.d_input(b, real, &real_label, 2 * k)?;
            self.d.forward(b, &x, true, dropout_seed(self, 10 * k + 1), 0)?;
            self.loss(b, D_LOSS_REAL, Role::Real)?;
            b.copy(self.d.output(), &self.stats.slice(LOGITS_REAL, n))?;
            if self.train_d {
                self.d.backward(b, &x, None, true)?;
            }

            let fake = self.g.output().clone();
            let x = self.d_input(b, &fake, &self.fake_labels.clone(), 2 * k + 1)?;
            self.d.forward(b, &x, true, dropout_seed(self, 10 * k + 2), 0)?;
            self.loss(b, D_LOSS_FAKE, Role::Fake)?;
            b.copy(self.d.output(), &self.stats.slice(fake_at, n))?;
            if self.train_d {
                self.d.backward(b, &x, None, true)?;
                self.d.spectral_backward(b)?;
                self.opt_d.step(b, &self.d.params, &self.d.grads)?;
                if self.cfg.loss == LossKind::Wgan {
                    crate::ops::wgan::clip(b, &self.d.params, self.cfg.clip)?;
                }
            }
        }

        // Generator step on the last fake batch, through the just-updated discriminator.
        b.zero(&self.g.grads)?;
        let fake = self.g.output().clone();
        let x = self.d_input(b, &fake, &self.fake_labels.clone(), 999)?;
        if self.train_d {
            self.d.normalise_weights(b)?;
        }
        self.d.forward(b, &x, true, dropout_seed(self, 999), 0)?;
        self.loss(b, G_LOSS, Role::Gen)?;
        match &self.d_in {
            None => self.d.backward(b, &x, Some(self.g.output_grad()), false)?,
            Some((_, dx)) => {
                let dx = dx.clone();
                self.d.backward(b, &x, Some(&dx), false)?;
                crate::ops::condition::backward(b, &self.d_cond, &dx, self.g.output_grad())?;
            }
        }
        self.g.backward(b, &g_in, None, true)?;
        self.opt_g.step(b, &self.g.params, &self.g.grads)?;
        if let Some(ema) = &self.g_ema {
            crate::ops::ema::update(
                b,
                &EmaStep::warmed_up(self.cfg.g_ema, self.step),
                &self.g.params,
                &ema.params,
            )?;
        }
        self.step += 1;
        Ok(())
    }

    /// Summarises a read-back copy of [`Gan::stats`].
    pub fn summarise(&self, stats: &[f32]) -> IterStats {
        let n = self.cfg.d_batch();
        let real = &stats[LOGITS_REAL..LOGITS_REAL + n];
        let fake_at = self.logits_fake_at();
        let fake = &stats[fake_at..fake_at + n];
        let score = |z: f32| {
            if self.cfg.loss.raw_score() { z } else { crate::ops::activation::reference::sigmoid(z) }
        };
        let mean = |v: &[f32], f: &dyn Fn(f32) -> f32| v.iter().map(|&z| f(z)).sum::<f32>() / n as f32;
        IterStats {
            d_loss: stats[D_LOSS_REAL] + stats[D_LOSS_FAKE],
            g_loss: stats[G_LOSS],
            d_real: mean(real, &score),
            d_fake: mean(fake, &score),
            acc_real: mean(real, &|z| (z > 0.0) as u8 as f32),
            acc_fake: mean(fake, &|z| (z < 0.0) as u8 as f32),
        }
    }

    /// Generates images for `z` ([batch, z_dim]) of classes `labels` ([batch], when
    /// conditional) with G in evaluation mode: the EMA generator when there is one (call
    /// [`Gan::refresh_ema_statistics`] first), or the live one when `raw`.
    pub fn generate(&mut self, b: &mut B, z: &B::T, labels: Option<&B::T>, raw: bool) -> Result<Vec<f32>> {
        let input = match (&self.g_in, labels) {
            (Some(g_in), Some(l)) => {
                crate::ops::condition::forward(b, &self.g_condition(), z, l, g_in)?;
                g_in.clone()
            }
            (None, None) => z.clone(),
            _ => return Err(Error::Config("labels are needed exactly when the model is conditional".into())),
        };
        let g = match &mut self.g_ema {
            Some(ema) if !raw => ema,
            _ => &mut self.g,
        };
        g.forward(b, &input, false, 0, 0)?;
        b.read(g.output())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Real,
    Fake,
    Gen,
}
