//! One training iteration: `d_steps` discriminator steps (each on a real batch and a fresh fake
//! batch), then one generator step on the last fake batch, as in PyTorch's DCGAN example.
//! Everything is recorded on the backend; nothing waits for the device. Losses and logits land
//! in [`Gan::stats`], which the caller reads back when it wants (asynchronously on the GPU).

use super::config::{GanConfig, LossKind, OptConfig, OptKind};
use crate::backend::{Backend, Tensor};
use crate::error::Result;
use crate::nn::{Net, NetSpec};
use crate::ops::adam::AdamStep;
use crate::ops::random::Distribution;
use crate::ops::sgd::SgdStep;
use crate::reference::random::threefry2x32;

/// Slots of [`Gan::stats`], each on a 64-float boundary so it can be bound on any adapter.
const SLOT: usize = 64;
const D_LOSS_REAL: usize = 0;
const D_LOSS_FAKE: usize = SLOT;
const G_LOSS: usize = 2 * SLOT;
const LOGITS_REAL: usize = 3 * SLOT;

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
                b.adam_step(&s, params, grads, &self.m, &self.v)
            }
            OptKind::Sgd => {
                let s = SgdStep { lr: c.lr, momentum: c.momentum, weight_decay: c.weight_decay };
                b.sgd_step(&s, params, grads, &self.m)
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

pub struct Gan<B: Backend> {
    pub cfg: GanConfig,
    pub g: Net<B>,
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
    /// [d_loss_real, d_loss_fake, g_loss, logits on real, logits on fake], slot-aligned.
    pub stats: B::T,
}

impl<B: Backend> Gan<B> {
    pub fn new(b: &mut B, cfg: GanConfig, g_spec: &NetSpec, d_spec: &NetSpec) -> Result<Self> {
        let n = cfg.batch;
        let g = Net::new(b, g_spec, n)?;
        let d = Net::new(b, d_spec, n)?;
        let opt_g = Optimizer::new(b, cfg.opt_g, g.params.len())?;
        let opt_d = Optimizer::new(b, cfg.opt_d, d.params.len())?;
        let (real_label, gen_label) = match cfg.loss {
            LossKind::Minimax => (cfg.real_label, 0.0),
            _ => (cfg.real_label, 1.0),
        };
        let mut gan = Gan {
            z: b.alloc(n * g_spec.input.size())?,
            real_target: b.upload(&vec![real_label; n])?,
            fake_target: b.alloc(n)?,
            gen_target: b.upload(&vec![gen_label; n])?,
            per_sample: b.alloc(n)?,
            stats: b.alloc(LOGITS_REAL + 2 * n.div_ceil(SLOT) * SLOT)?,
            cfg,
            g,
            d,
            opt_g,
            opt_d,
            step: 0,
        };
        gan.g.init_with(b, derive_seed(gan.cfg.seed, 0, 1), gan.cfg.init)?;
        gan.d.init_with(b, derive_seed(gan.cfg.seed, 0, 2), gan.cfg.init)?;
        Ok(gan)
    }

    fn logits_fake_at(&self) -> usize {
        LOGITS_REAL + self.cfg.batch.div_ceil(SLOT) * SLOT
    }

    /// The latent noise for draw `k` of this iteration.
    fn draw_noise(&mut self, b: &mut B, k: u64) -> Result<()> {
        let seed = derive_seed(self.cfg.seed, self.step, 100 + k);
        b.fill_random(Distribution::Normal { mean: 0.0, std: 1.0 }, seed, 0, &self.z)
    }

    /// Writes the mean loss of D's current output into `stats[slot]` and dL/dlogits into D's
    /// output gradient, for the real, fake or generator term of the loss.
    fn loss(&mut self, b: &mut B, slot: usize, role: Role) -> Result<()> {
        let n = self.cfg.batch as f32;
        let (z, dz) = (self.d.output().clone(), self.d.output_grad().clone());
        let out = self.stats.slice(slot, 1);
        let target = match role {
            Role::Real => &self.real_target,
            Role::Fake => &self.fake_target,
            Role::Gen => &self.gen_target,
        };
        match self.cfg.loss {
            LossKind::Bce | LossKind::Minimax => {
                // Minimax's generator minimises −BCE(D(G(z)), 0) = log(1 − D(G(z))).
                let sign = if role == Role::Gen && self.cfg.loss == LossKind::Minimax { -1.0 } else { 1.0 };
                b.bce_with_logits_forward(&z, target, &self.per_sample)?;
                b.sum(&self.per_sample, &out, sign / n)?;
                b.bce_with_logits_backward(&z, target, &dz, sign)
            }
            LossKind::Lsgan => {
                b.mse_forward(&z, target, &self.per_sample)?;
                b.sum(&self.per_sample, &out, 0.5 / n)?;
                b.mse_backward(&z, target, &dz, 0.5)
            }
            LossKind::Wgan => {
                // The critic maximises D(x) − D(G(z)); the generator maximises D(G(z)).
                let sign = if role == Role::Fake { 1.0 } else { -1.0 };
                b.sum(&z, &out, sign / n)?;
                b.wgan_critic_backward(&dz, sign)
            }
        }
    }

    /// One iteration on `reals` (one real batch per discriminator step).
    pub fn iteration(&mut self, b: &mut B, reals: &[B::T]) -> Result<()> {
        assert_eq!(reals.len(), self.cfg.d_steps.max(1), "one real batch per discriminator step");
        let dropout_seed = |gan: &Self, call: u64| derive_seed(gan.cfg.seed, gan.step, 1000 + call);
        let n = self.cfg.batch;
        let fake_at = self.logits_fake_at();
        for (k, real) in reals.iter().enumerate() {
            let k = k as u64;
            self.draw_noise(b, k)?;
            self.g.forward(b, &self.z, true, dropout_seed(self, 10 * k), 0)?;
            b.zero(&self.d.grads)?;

            self.d.forward(b, real, true, dropout_seed(self, 10 * k + 1), 0)?;
            self.loss(b, D_LOSS_REAL, Role::Real)?;
            b.copy(self.d.output(), &self.stats.slice(LOGITS_REAL, n))?;
            self.d.backward(b, real, None, true)?;

            let fake = self.g.output().clone();
            self.d.forward(b, &fake, true, dropout_seed(self, 10 * k + 2), 0)?;
            self.loss(b, D_LOSS_FAKE, Role::Fake)?;
            b.copy(self.d.output(), &self.stats.slice(fake_at, n))?;
            self.d.backward(b, &fake, None, true)?;

            self.opt_d.step(b, &self.d.params, &self.d.grads)?;
            if self.cfg.loss == LossKind::Wgan {
                b.wgan_clip(&self.d.params, self.cfg.clip)?;
            }
        }

        // Generator step on the last fake batch, through the just-updated discriminator.
        b.zero(&self.g.grads)?;
        let fake = self.g.output().clone();
        self.d.forward(b, &fake, true, dropout_seed(self, 999), 0)?;
        self.loss(b, G_LOSS, Role::Gen)?;
        self.d.backward(b, &fake, Some(self.g.output_grad()), false)?;
        self.g.backward(b, &self.z, None, true)?;
        self.opt_g.step(b, &self.g.params, &self.g.grads)?;
        self.step += 1;
        Ok(())
    }

    /// Summarises a read-back copy of [`Gan::stats`].
    pub fn summarise(&self, stats: &[f32]) -> IterStats {
        let n = self.cfg.batch;
        let real = &stats[LOGITS_REAL..LOGITS_REAL + n];
        let fake_at = self.logits_fake_at();
        let fake = &stats[fake_at..fake_at + n];
        let score = |z: f32| {
            if self.cfg.loss == LossKind::Wgan { z } else { crate::reference::activation::sigmoid(z) }
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

    /// Generates images for `z` (host noise, [batch, z_dim]) with G in evaluation mode.
    pub fn generate(&mut self, b: &mut B, z: &B::T) -> Result<Vec<f32>> {
        self.g.forward(b, z, false, 0, 0)?;
        b.read(self.g.output())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Real,
    Fake,
    Gen,
}
