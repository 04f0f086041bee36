//! One training iteration: `d_steps` discriminator steps (each on a real batch and a fresh fake
//! batch), then one generator step on the last fake batch, as in PyTorch's DCGAN example.
//! Everything is recorded on the backend; nothing waits for the device. Losses and logits land
//! in [`Gan::stats`], which the caller reads back when it wants (asynchronously on the GPU).

use super::config::{GanConfig, LossKind, OptConfig, OptKind, Penalty};
use crate::backend::{Backend, Tensor};
use crate::error::{Error, Result};
use crate::nn::{Net, NetSpec, Shape};
use crate::ops::augment::Adjust;
use crate::ops::condition::Condition;
use crate::ops::ema::EmaStep;
use crate::ops::gradient_penalty::GradientPenalty;
use crate::ops::info_loss::InfoLoss;
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
    /// Parts of the buffer stepped at their own multiple of the learning rate: (start, len,
    /// scale), in order, covering it (at first one group, the whole buffer at the rate).
    pub groups: Vec<(usize, usize, f32)>,
}

impl<B: Backend> Optimizer<B> {
    pub fn new(b: &mut B, cfg: OptConfig, n: usize) -> Result<Self> {
        Ok(Optimizer { cfg, m: b.alloc(n)?, v: b.alloc(n)?, t: 0, groups: vec![(0, n, 1.0)] })
    }

    pub fn step(&mut self, b: &mut B, params: &B::T, grads: &B::T) -> Result<()> {
        self.step_scaled(b, params, grads, 1.0)
    }

    /// A step at `lr_scale` times the configured learning rate (a decay schedule's factor), and
    /// each group's own multiple of it.
    pub fn step_scaled(&mut self, b: &mut B, params: &B::T, grads: &B::T, lr_scale: f32) -> Result<()> {
        self.t += 1;
        for &(start, len, scale) in &self.groups {
            let [p, g, m, v] = [params, grads, &self.m, &self.v].map(|t| t.slice(start, len));
            self.step_part(b, (&p, &g, &m, &v), lr_scale * scale)?;
        }
        Ok(())
    }

    /// Step `t` on one part of the buffers: parameters, gradients and the optimizer's state.
    fn step_part(&self, b: &mut B, (params, grads, m, v): (&B::T, &B::T, &B::T, &B::T), lr_scale: f32) -> Result<()> {
        let c = OptConfig { lr: self.cfg.lr * lr_scale, ..self.cfg };
        match c.kind {
            OptKind::Adam => crate::ops::adam::step(b, &c.adam_step(self.t), params, grads, m, v),
            OptKind::Sgd => {
                let s = SgdStep { lr: c.lr, momentum: c.momentum, weight_decay: c.weight_decay };
                crate::ops::sgd::step(b, &s, params, grads, m)
            }
        }
    }
}

/// A 64-bit seed for one purpose at one step: Threefry of (seed; step, purpose).
pub fn derive_seed(seed: u64, step: u64, purpose: u64) -> u64 {
    let [a, b] =
        threefry2x32([seed as u32, (seed >> 32) as u32], [step as u32, ((step >> 32) ^ (purpose << 8)) as u32]);
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
    /// The gradient penalty's part of d_loss (WGAN-GP, R1), at its last evaluation.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub penalty: f32,
    /// InfoGAN's loss of Q on the generator step's fakes (before `info_weight`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub info: f32,
    /// ADA's probability of each augmentation after the iteration (`--augment-p auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment_p: Option<f32>,
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
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
            penalty: f("penalty").unwrap_or(0.0),
            info: f("info").unwrap_or(0.0),
            augment_p: f("augment_p"),
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
    /// The gradient penalty's buffers, when D is trained with one.
    penalty: Option<PenaltyBuffers<B::T>>,
    /// InfoGAN's Q head, when G has latent codes.
    pub q: Option<InfoHead<B>>,
    /// [d_loss_real, d_loss_fake, g_loss, logits on real, logits on fake, penalty], slot-aligned.
    pub stats: B::T,
    /// Where D is kept during an unrolled iteration's look-ahead (`--unroll`).
    unrolled: Option<SavedD<B::T>>,
    /// The augmented images D reads, their gradient and colour's scratch (`--augment`).
    pub augmented: Option<Augmented<B::T>>,
    /// Every blend's α in G, its moving average and D (progressive growing's fade-in).
    pub blend: f32,
    /// The step the moving average's warm-up counts from: progressive growing restarts it with
    /// each phase, so that the average follows the new layers within the phase instead of
    /// holding their initial weights for thousands of steps.
    pub ema_since: u64,
}

/// DiffAugment's buffers: the images D reads, dL/d(them), colour's intermediate images and
/// per-sample sums, the drawn transforms and the probability of each (ADA's p).
pub struct Augmented<T> {
    out: T,
    grad: T,
    mid: T,
    sums: T,
    draws: T,
    pub p: T,
}

impl<T: Tensor> Augmented<T> {
    /// The buffers for G's output `images` [n, c, h, w], when `cfg` augments.
    fn new<B: Backend<T = T>>(b: &mut B, cfg: &GanConfig, images: &T) -> Result<Option<Self>> {
        if !cfg.augment.any() {
            return Ok(None);
        }
        let (len, n) = (images.len(), cfg.batch);
        let (out, grad, mid) = (b.alloc(len)?, b.alloc(len)?, b.alloc(len)?);
        let draws = b.alloc(n * crate::ops::augment::DRAWS)?;
        let p = b.upload(&[cfg.augment_p.initial()])?;
        Ok(Some(Augmented { out, grad, mid, sums: b.alloc(n)?, draws, p }))
    }

    fn scratch(&self) -> crate::ops::augment::Scratch<'_, T> {
        crate::ops::augment::Scratch { mid: &self.mid, sums: &self.sums, draws: &self.draws, p: &self.p }
    }
}

/// D's state (and the iteration's losses) as an unrolled iteration's look-ahead found it.
struct SavedD<T> {
    params: T,
    m: T,
    v: T,
    t: u64,
    running: T,
    spectral: T,
    stats: T,
    /// InfoGAN's Q (weights, Adam's moments, step count), which learns alongside D.
    q: Option<(T, T, T, u64)>,
    /// What the full unrolled gradient needs to go back through the look-ahead steps.
    trail: Option<Trail<T>>,
}

/// The full unrolled gradient's record of the look-ahead (D's weights and spectral-norm state
/// before each of its steps) and the buffers of the backward through it.
struct Trail<T> {
    params: Vec<T>,
    spectral: Vec<T>,
    /// D's gradient at each look-ahead step, where the step's derivative is taken.
    grads: Vec<T>,
    /// dL_G/d(D's weights) at the step being gone back through.
    adjoint: T,
    /// The adjoint times the look-ahead step's derivative with respect to the gradient.
    direction: T,
    grads_plus: T,
    image_grad_plus: T,
    image_grad_minus: T,
    g_running: T,
    norm: T,
}

/// The length of the weight perturbation whose two gradients give a Hessian-vector product by
/// central differences (DARTS's 0.01; Liu et al. 2019).
const HVP_STEP: f32 = 0.01;

/// InfoGAN's Q: a small MLP on D's features that predicts G's latent codes, with its own
/// optimizer (D's settings).
pub struct InfoHead<B: Backend> {
    pub net: Net<B>,
    pub opt: Optimizer<B>,
    s: InfoLoss,
    loss: B::T,
    feature_grad: B::T,
}

/// Q's hidden layer.
pub const Q_HIDDEN: usize = 128;

impl<B: Backend> InfoHead<B> {
    /// Q for the features of `d`, when `cfg` asks for latent codes.
    fn new(b: &mut B, cfg: &GanConfig, d: &Net<B>) -> Result<Option<Self>> {
        if !cfg.info() && !cfg.aux() {
            return Ok(None);
        }
        let n = cfg.batch;
        let features = d.features().len() / d.batch;
        let s = cfg.info_loss(n);
        let spec = crate::gan::models::info_head(features, Q_HIDDEN, s.k + s.c);
        let net = Net::new(b, &spec, n)?;
        let opt = Optimizer::new(b, cfg.opt_d, net.params.len())?;
        Ok(Some(InfoHead { net, opt, s, loss: b.alloc(n)?, feature_grad: b.alloc(n * features)? }))
    }
}

/// How D's input is formed from G's output (label planes, when conditional), after checking that
/// the two networks and `cfg` fit together.
fn d_condition(cfg: &GanConfig, g_spec: &NetSpec, d_spec: &NetSpec, g_out: Shape) -> Result<Condition> {
    // A projection head reads the label itself: no planes.
    let k = if d_spec.reads_labels() { 0 } else { cfg.classes };
    let pac = cfg.pac();
    let image = g_out.size() * pac;
    let label_len = d_spec.input.size().checked_sub(image).filter(|&l| k > 0 && l % k == 0);
    let spatial = match label_len {
        Some(l) if l > 0 => l / k,
        None if k == 0 && d_spec.input.size() == image => 1,
        _ => {
            return Err(Error::Config(format!(
                "D's input {:?} is not G's output {g_out:?} plus {k} label planes",
                d_spec.input
            )));
        }
    };
    let g_classes = cfg.g_classes();
    if g_spec.input.size() != cfg.z_dim + g_classes {
        return Err(Error::Config(format!(
            "G's input has {} features, z_dim {} plus {g_classes} classes or code values",
            g_spec.input.size(),
            cfg.z_dim
        )));
    }
    cfg.check_extras()?;
    Ok(Condition { n: cfg.batch / pac, dim: image, classes: k, spatial, sigma: 0.0, seed: 0, offset: 0 })
}

/// What a gradient penalty works on: the interpolates and their weights (WGAN-GP), D's input
/// gradient and its adjoint, and per-decision norms and penalties.
struct PenaltyBuffers<T> {
    kind: Penalty,
    mixed: T,
    t: T,
    input_grad: T,
    adjoint: T,
    norm: T,
    loss: T,
}

impl<T: Tensor> PenaltyBuffers<T> {
    /// The buffers of `cfg`'s penalty, if it has one, for D's input as `d_cond` forms it.
    fn new<B: Backend<T = T>>(b: &mut B, cfg: &GanConfig, d_cond: &Condition) -> Result<Option<Self>> {
        let Some(kind) = cfg.penalty() else { return Ok(None) };
        let (rows, d_len) = (d_cond.n, d_cond.n * d_cond.out_dim());
        Ok(Some(PenaltyBuffers {
            kind,
            mixed: b.alloc(rows * d_cond.dim)?,
            t: b.alloc(rows)?,
            input_grad: b.alloc(d_len)?,
            adjoint: b.alloc(d_len)?,
            norm: b.alloc(rows)?,
            loss: b.alloc(rows)?,
        }))
    }
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
        let mut d = Net::new(b, d_spec, n / pac)?;
        if !(0.0..1.0).contains(&cfg.g_ema) {
            return Err(Error::Config(format!("--g-ema {} must be in [0, 1) (0: off)", cfg.g_ema)));
        }
        let g_ema = if cfg.g_ema > 0.0 { Some(Net::new(b, g_spec, n)?) } else { None };
        let d_cond = d_condition(&cfg, g_spec, d_spec, g.output_shape())?;
        let d_in = if d_cond.classes > 0 || cfg.instance_noise > 0.0 {
            Some((b.alloc(d_cond.n * d_cond.out_dim())?, b.alloc(d_cond.n * d_cond.out_dim())?))
        } else {
            None
        };
        let penalty = PenaltyBuffers::new(b, &cfg, &d_cond)?;
        if penalty.is_some() {
            d.enable_input_grad_backward(b)?;
        }
        let q = InfoHead::new(b, &cfg, &d)?;
        if cfg.lookahead() > 0 && cfg.ada_target().is_some() {
            return Err(Error::Config("--unroll does not combine with --augment-p auto yet".into()));
        }
        let stats_len = LOGITS_REAL + 2 * n.div_ceil(SLOT) * SLOT + 4 * SLOT;
        let unrolled = if cfg.lookahead() > 0 {
            let mut alloc = |len: usize| b.alloc(len);
            let (dp, qp) = (d.params.len(), q.as_ref().map(|q| q.net.params.len()));
            let q = match qp {
                Some(len) => Some((alloc(len)?, alloc(len)?, alloc(len)?, 0)),
                None => None,
            };
            let trail = if cfg.full_unroll() {
                let steps = cfg.lookahead();
                let image = g.output().len();
                Some(Trail {
                    params: (0..steps).map(|_| alloc(dp)).collect::<Result<_>>()?,
                    spectral: (0..steps).map(|_| alloc(d.spectral_state.len())).collect::<Result<_>>()?,
                    grads: (0..steps).map(|_| alloc(dp)).collect::<Result<_>>()?,
                    adjoint: alloc(dp)?,
                    direction: alloc(dp)?,
                    grads_plus: alloc(dp)?,
                    image_grad_plus: alloc(image)?,
                    image_grad_minus: alloc(image)?,
                    g_running: alloc(g.running.len())?,
                    norm: alloc(1)?,
                })
            } else {
                None
            };
            Some(SavedD {
                trail,
                params: alloc(dp)?,
                m: alloc(dp)?,
                v: alloc(dp)?,
                t: 0,
                running: alloc(d.running.len())?,
                spectral: alloc(d.spectral_state.len())?,
                stats: alloc(stats_len)?,
                q,
            })
        } else {
            None
        };
        let Shape(_, h, w) = g.output_shape();
        if cfg.augment.any() && h * w == 1 {
            return Err(Error::Config("--augment transforms pictures; this model generates rows".into()));
        }
        let augmented = Augmented::new(b, &cfg, g.output())?;
        let g_classes = cfg.g_classes();
        let mut opt_g = Optimizer::new(b, cfg.opt_g, g.params.len())?;
        let mut opt_d = Optimizer::new(b, cfg.opt_d, d.params.len())?;
        if cfg.equalized_lr {
            (opt_g.groups, opt_d.groups) = (g.equalized_lr_groups(), d.equalized_lr_groups());
        }
        let (real_label, gen_label) = match cfg.loss {
            LossKind::Minimax => (cfg.real_label, 0.0),
            _ => (cfg.real_label, 1.0),
        };
        let mut gan = Gan {
            z: b.alloc(n * cfg.z_dim)?,
            fake_labels: b.alloc(n)?,
            g_in: if g_classes > 0 { Some(b.alloc(n * (cfg.z_dim + g_classes))?) } else { None },
            d_in,
            d_cond,
            train_d: true,
            real_target: b.upload(&vec![real_label; n])?,
            fake_target: b.alloc(n)?,
            gen_target: b.upload(&vec![gen_label; n])?,
            per_sample: b.alloc(n)?,
            stats: b.alloc(stats_len)?,
            penalty,
            q,
            unrolled,
            augmented,
            blend: 0.0,
            ema_since: 0,
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
        if let Some(q) = &mut gan.q {
            q.net.init(b, derive_seed(gan.cfg.seed, 0, 3))?;
        }
        if let Some(ema) = &gan.g_ema {
            b.copy(&gan.g.params, &ema.params)?;
            b.copy(&gan.g.running, &ema.running)?;
        }
        Ok(gan)
    }

    /// Sets every blend's α (progressive growing's fade-in): (1 − α)·old path + α·new path.
    pub fn set_blend(&mut self, alpha: f32) {
        self.blend = alpha;
        for net in [&mut self.g, &mut self.d].into_iter().chain(self.g_ema.as_mut()) {
            net.set_blend(alpha);
        }
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

    /// The dropout masks' seed of forward pass `call` of this iteration.
    fn dropout_seed(&self, call: u64) -> u64 {
        derive_seed(self.cfg.seed, self.step, 1000 + call)
    }

    fn penalty_at(&self) -> usize {
        LOGITS_REAL + 2 * self.cfg.batch.div_ceil(SLOT) * SLOT
    }

    fn info_at(&self) -> usize {
        self.penalty_at() + SLOT
    }

    fn augment_p_at(&self) -> usize {
        self.info_at() + SLOT
    }

    /// Where the losses of D passes that only serve a gradient go (the full unrolled backward).
    fn scratch_at(&self) -> usize {
        self.augment_p_at() + SLOT
    }

    /// ADA: D's logits on the real batch it has just judged (as the stats keep them) move p, and
    /// the stats keep p.
    fn adjust_augmentation(&mut self, b: &mut B) -> Result<()> {
        let (Some(a), Some(target)) = (&self.augmented, self.cfg.ada_target()) else { return Ok(()) };
        if self.train_d {
            let step = self.cfg.batch as f32 / crate::ops::augment::ADA_IMAGES;
            let s = Adjust { n: self.cfg.d_batch(), target, step };
            crate::ops::augment::adjust(b, &s, &self.stats.slice(LOGITS_REAL, s.n), &a.p)?;
        }
        b.copy(&a.p, &self.stats.slice(self.augment_p_at(), 1))
    }

    /// The Q head's loss on D's features of the batch D has just seen, whose codes (InfoGAN's,
    /// or the classes for the auxiliary classifier) are `codes`, into the stats, and its
    /// gradient (times the head's weight) into Q's parameters when `train_q`; returns the
    /// gradient with respect to D's features, for D's backward. None without a Q head.
    fn info_loss(&mut self, b: &mut B, train_q: bool, codes: &B::T) -> Result<Option<B::T>> {
        let features = self.d.features().clone();
        let (info_at, weight) = (self.info_at(), self.cfg.head_weight());
        let Some(q) = &mut self.q else { return Ok(None) };
        q.net.forward(b, &features, true, 0, 0)?;
        let (out, dout) = (q.net.output().clone(), q.net.output_grad().clone());
        crate::ops::info_loss::forward(b, &q.s, &out, codes, &self.z, &q.loss)?;
        crate::ops::reduce::sum(b, &q.loss, &self.stats.slice(info_at, 1), 1.0 / q.s.n as f32)?;
        crate::ops::info_loss::backward(b, &q.s, (&out, codes, &self.z), &dout, weight)?;
        q.net.backward(b, &features, Some(&q.feature_grad), train_q)?;
        Ok(Some(q.feature_grad.clone()))
    }

    /// D's backward, with Q's gradient added at D's features when there is one.
    fn d_backward(&mut self, b: &mut B, x: &B::T, dx: Option<&B::T>, param_grads: bool, q: Option<B::T>) -> Result<()> {
        match q {
            Some(feature_grad) => self.d.backward_with_feature_grad(b, x, dx, param_grads, &feature_grad),
            None => self.d.backward(b, x, dx, param_grads),
        }
    }

    /// Adds the gradient penalty's parameter gradient to D's, on discriminator step `k`:
    /// WGAN-GP's on interpolates of `real` and `fake`, R1's on `real` (every `every`
    /// iterations). Forward on those samples, D's input gradient by a backward pass of ones,
    /// the penalty on it, then the double backward into D's weights.
    fn penalise(&mut self, b: &mut B, real: &B::T, fake: &B::T, label: &B::T, k: u64) -> Result<()> {
        let Some(p) = &self.penalty else { return Ok(()) };
        let (rows, row_len) = (self.d_cond.n, self.d_cond.out_dim());
        let image = self.d_cond.dim;
        let (x, weight, target, call) = match p.kind {
            Penalty::Wgan { weight } => {
                let seed = derive_seed(self.cfg.seed, self.step, 500 + k);
                let uniform = Distribution::Uniform { low: 0.0, high: 1.0 };
                crate::ops::random::fill(b, uniform, seed, 0, &p.t)?;
                let mix = GradientPenalty { rows, row_len: image, dim: image, weight, target: 1.0 };
                crate::ops::gradient_penalty::interpolate(b, &mix, real, fake, &p.t, &p.mixed)?;
                (p.mixed.clone(), weight, 1.0, 600 + k)
            }
            // The real batch's own call number: the same instance noise as its D step saw.
            Penalty::R1 { gamma, every } if self.step.is_multiple_of(every) => {
                (real.clone(), 0.5 * gamma * every as f32, 0.0, 2 * k)
            }
            Penalty::R1 { .. } => return Ok(()),
        };
        let (input_grad, adjoint, norm, loss) =
            (p.input_grad.clone(), p.adjoint.clone(), p.norm.clone(), p.loss.clone());
        let s = GradientPenalty { rows, row_len, dim: image, weight, target };
        let x = self.d_input(b, &x, label, call)?;
        self.d.forward(b, &x, true, self.dropout_seed(10 * k + 3), 0)?;
        // dz = rows / rows = 1 for every decision: D's input gradient, per sample.
        crate::ops::wgan::critic_backward(b, self.d.output_grad(), rows as f32)?;
        self.d.backward(b, &x, Some(&input_grad), false)?;
        crate::ops::gradient_penalty::forward(b, &s, &input_grad, &norm, &loss)?;
        crate::ops::reduce::sum(b, &loss, &self.stats.slice(self.penalty_at(), 1), 1.0 / rows as f32)?;
        crate::ops::gradient_penalty::backward(b, &s, &input_grad, &norm, &adjoint)?;
        self.d.input_grad_backward(b, &adjoint)
    }

    /// G's input for draw `k` of this iteration: fresh latent noise, and a fresh uniformly drawn
    /// label when conditional.
    fn draw_input(&mut self, b: &mut B, k: u64) -> Result<B::T> {
        let seed = derive_seed(self.cfg.seed, self.step, 100 + k);
        crate::ops::random::fill(b, Distribution::Normal { mean: 0.0, std: 1.0 }, seed, 0, &self.z)?;
        if let Some(q) = self.q.as_ref().filter(|q| q.s.c > 0) {
            let seed = derive_seed(self.cfg.seed, self.step, 700 + k);
            crate::ops::info_loss::draw_codes(b, &q.s, seed, &self.z)?;
        }
        let Some(g_in) = &self.g_in else { return Ok(self.z.clone()) };
        let classes = self.cfg.g_classes() as f32;
        let seed = derive_seed(self.cfg.seed, self.step, 300 + k);
        crate::ops::random::fill(b, Distribution::Uniform { low: 0.0, high: classes }, seed, 0, &self.fake_labels)?;
        let s = self.g_condition();
        crate::ops::condition::forward(b, &s, &self.z, &self.fake_labels, g_in)?;
        for g in std::iter::once(&self.g).chain(&self.g_ema) {
            if let Some(labels) = g.labels() {
                b.copy(&self.fake_labels, labels)?;
            }
        }
        Ok(g_in.clone())
    }

    fn g_condition(&self) -> Condition {
        let (n, z_dim, classes) = (self.cfg.batch, self.cfg.z_dim, self.cfg.g_classes());
        Condition { n, dim: z_dim, classes, spatial: 1, sigma: 0.0, seed: 0, offset: 0 }
    }

    /// The learning rates' factor at the current step: `lr_decay` per `lr_decay_every` iterations.
    pub fn lr_scale(&self) -> f32 {
        match self.cfg.lr_decay_every {
            0 => 1.0,
            every => self.cfg.lr_decay.powi((self.step / every) as i32),
        }
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
        if let Some(labels) = self.d.labels() {
            b.copy(label, labels)?;
        }
        let x = match &self.augmented {
            Some(a) => {
                crate::ops::augment::forward(b, &self.augment_at(call), x, a.scratch(), &a.out)?;
                a.out.clone()
            }
            None => x.clone(),
        };
        let Some((d_in, _)) = &self.d_in else { return Ok(x) };
        let s = Condition {
            sigma: self.noise_sigma(),
            seed: derive_seed(self.cfg.seed, self.step, 400 + call),
            ..self.d_cond
        };
        crate::ops::condition::forward(b, &s, &x, label, d_in)?;
        Ok(d_in.clone())
    }

    /// DiffAugment's transforms of D's input number `call` of this iteration (the same in a
    /// forward and its backward).
    fn augment_at(&self, call: u64) -> crate::ops::augment::Augment {
        let Shape(c, h, w) = self.g.output_shape();
        let seed = derive_seed(self.cfg.seed, self.step, 5000 + call);
        crate::ops::augment::Augment::new(self.cfg.augment, (self.cfg.batch, c, h, w), seed)
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
                crate::ops::bce_with_logits::LOSS.forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, sign / n)?;
                crate::ops::bce_with_logits::LOSS.backward(b, &z, target, &dz, sign)
            }
            LossKind::Lsgan => {
                crate::ops::mse::LOSS.forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, 0.5 / n)?;
                crate::ops::mse::LOSS.backward(b, &z, target, &dz, 0.5)
            }
            LossKind::Hinge if role != Role::Gen => {
                crate::ops::hinge::LOSS.forward(b, &z, target, &per_sample)?;
                crate::ops::reduce::sum(b, &per_sample, &out, 1.0 / n)?;
                crate::ops::hinge::LOSS.backward(b, &z, target, &dz, 1.0)
            }
            LossKind::Wgan | LossKind::WganGp | LossKind::Hinge => {
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
        assert_eq!(reals.len(), self.cfg.real_batches(), "one real batch per discriminator step");
        let conditional = self.cfg.classes > 0;
        assert_eq!(labels.len(), if conditional { reals.len() } else { 0 }, "labels iff conditional");
        let kept = self.cfg.d_steps.max(1);
        let mut g_in = self.z.clone();
        for (k, real) in reals[..kept].iter().enumerate() {
            g_in = self.d_step(b, real, labels.get(k), k as u64)?;
        }
        let unrolled = self.unrolled.is_some() && self.train_d;
        if unrolled {
            self.save_d(b)?;
        }
        self.g_gradient(b, reals, labels, kept, g_in, unrolled)?;
        self.opt_g.step_scaled(b, &self.g.params, &self.g.grads, self.lr_scale())?;
        if unrolled {
            self.restore_d(b)?;
        }
        if let Some(ema) = &self.g_ema {
            crate::ops::ema::update(
                b,
                &EmaStep::warmed_up(self.cfg.g_ema, self.step - self.ema_since),
                &self.g.params,
                &ema.params,
            )?;
        }
        self.step += 1;
        Ok(())
    }

    /// G's loss gradient into its parameter gradients, on the last fake batch (`g_in`'s), through
    /// the D of now or, when `unrolled` (D saved), through D after look-ahead steps on the batches
    /// of `reals` from `from` on; the full variant also goes back through those steps.
    fn g_gradient(
        &mut self,
        b: &mut B,
        reals: &[B::T],
        labels: &[B::T],
        from: usize,
        mut g_in: B::T,
        unrolled: bool,
    ) -> Result<()> {
        // Unrolled: D looks further ahead on fresh batches; G's step is taken against that D,
        // then D goes back to where its kept steps left it. First-order look-ahead steps use D's
        // own optimizer (Adam), as Metz et al.'s unrolled updates did: the D that G anticipates
        // is the one training would really produce. The full variant's steps are Adam's with
        // D's moments held where the kept steps left them (per-weight step sizes as Adam's, and
        // a step whose derivative is I − lr·P·H, which one Hessian-vector product goes back
        // through; Adam's moving moments would make the derivative of each step depend on all
        // the gradients before it).
        let full = unrolled && self.cfg.full_unroll();
        if unrolled {
            for (k, real) in reals.iter().enumerate().skip(from) {
                g_in = match full {
                    false => self.d_step(b, real, labels.get(k), k as u64)?,
                    true => self.look_ahead_step(b, real, labels.get(k), k, k - from)?,
                };
            }
            // The iteration's losses are those of its kept steps.
            let saved = &self.unrolled.as_ref().expect("unrolled").stats;
            b.copy(saved, &self.stats)?;
        }

        // Generator step on the last fake batch, through the just-updated discriminator.
        b.zero(&self.g.grads)?;
        let fake = self.g.output().clone();
        let x = self.d_input(b, &fake, &self.fake_labels.clone(), 999)?;
        if self.train_d {
            self.d.normalise_weights(b)?;
        }
        self.d.forward(b, &x, true, self.dropout_seed(999), 0)?;
        self.loss(b, G_LOSS, Role::Gen)?;
        let q = self.info_loss(b, false, &self.fake_labels.clone())?;
        if full {
            // dL_G/d(D's weights) as well: where the backward through the look-ahead starts.
            b.zero(&self.d.grads)?;
        }
        let out = self.g.output_grad().clone();
        self.fake_backward(b, &x, 999, full, q, &out)?;
        self.g.backward(b, &g_in, None, true)?;
        if full {
            self.d.spectral_backward(b)?;
            self.back_through_look_ahead(b, reals, labels, from)?;
        }
        Ok(())
    }

    /// Back-propagates D's output gradient on `x` (D's input made from G's output by call
    /// `call`) to G's output, into `out`: through D, the label planes and noise, and the
    /// augmentation; D's parameter gradients accumulate when `param_grads`.
    fn fake_backward(
        &mut self,
        b: &mut B,
        x: &B::T,
        call: u64,
        param_grads: bool,
        q: Option<B::T>,
        out: &B::T,
    ) -> Result<()> {
        let image_grad = match &self.augmented {
            Some(a) => a.grad.clone(),
            None => out.clone(),
        };
        match self.d_in.clone() {
            None => self.d_backward(b, x, Some(&image_grad), param_grads, q)?,
            Some((_, dx)) => {
                self.d_backward(b, x, Some(&dx), param_grads, q)?;
                crate::ops::condition::backward(b, &self.d_cond, &dx, &image_grad)?;
            }
        }
        if let Some(a) = &self.augmented {
            crate::ops::augment::backward(b, &self.augment_at(call), &image_grad, a.scratch(), out)?;
        }
        Ok(())
    }

    /// A look-ahead step of the full unrolled variant on batch `k` (the `j`-th look-ahead step):
    /// D's weights, spectral state and gradient kept on the trail, then the step Adam would take
    /// from the saved moments. Returns G's input for the step's fake batch.
    fn look_ahead_step(&mut self, b: &mut B, real: &B::T, label: Option<&B::T>, k: usize, j: usize) -> Result<B::T> {
        let s = self.unrolled.as_ref().expect("unrolled");
        let trail = s.trail.as_ref().expect("full unroll");
        b.copy(&self.d.params, &trail.params[j])?;
        b.copy(&self.d.spectral_state, &trail.spectral[j])?;
        let (grads, m, v) = (trail.grads[j].clone(), s.m.clone(), s.v.clone());
        let g_in = self.draw_input(b, k as u64)?;
        self.g.forward(b, &g_in, true, self.dropout_seed(10 * k as u64), 0)?;
        self.d_gradient(b, real, label, k as u64, None)?;
        b.copy(&self.d.grads, &grads)?;
        crate::ops::adam::held_step(b, &self.look_ahead_adam(), (&m, &v), &grads, &self.d.params).map(|()| g_in)
    }

    /// The full variant's look-ahead steps: Adam's next step from the saved moments, at D's
    /// learning rate and its decay (weight decay left out).
    fn look_ahead_adam(&self) -> crate::ops::adam::AdamStep {
        let c = OptConfig { lr: self.cfg.opt_d.lr * self.lr_scale(), weight_decay: 0.0, ..self.cfg.opt_d };
        c.adam_step(self.unrolled.as_ref().map_or(0, |s| s.t) + 1)
    }

    /// D's loss on real batch `k` and the fake batch G last generated, at D's current weights:
    /// the raw weights' gradients into D's gradients, and dL_D/d(G's output) into `image_grad`
    /// when given. The losses go to a scratch slot.
    fn d_gradient(
        &mut self,
        b: &mut B,
        real: &B::T,
        label: Option<&B::T>,
        k: u64,
        image_grad: Option<&B::T>,
    ) -> Result<()> {
        let scratch = self.scratch_at();
        b.zero(&self.d.grads)?;
        self.d.normalise_weights(b)?;
        let real_label = label.unwrap_or(&self.fake_labels).clone();
        let x = self.d_input(b, real, &real_label, 2 * k)?;
        self.d.forward(b, &x, true, self.dropout_seed(10 * k + 1), 0)?;
        self.loss(b, scratch, Role::Real)?;
        self.d.backward(b, &x, None, true)?;
        let fake = self.g.output().clone();
        let x = self.d_input(b, &fake, &self.fake_labels.clone(), 2 * k + 1)?;
        self.d.forward(b, &x, true, self.dropout_seed(10 * k + 2), 0)?;
        self.loss(b, scratch, Role::Fake)?;
        match image_grad {
            Some(out) => self.fake_backward(b, &x, 2 * k + 1, true, None, out)?,
            None => self.d.backward(b, &x, None, true)?,
        }
        self.d.spectral_backward(b)
    }

    /// The full unrolled gradient's way back: with D's gradient of G's loss at the last
    /// look-ahead D in D's gradients, walks the look-ahead steps (batches `from`..) backwards.
    /// Step θ' = θ − lr·Δ(∇L_D(θ, G)) sends an adjoint a of θ' back as a − lr·H·u to θ and as
    /// −lr·∂(∇L_D·u)/∂G to G's weights, u = Δ'·a (Δ acts element by element); both are
    /// central differences of D's gradients at θ ± ε·u (ε·‖u‖ = [`HVP_STEP`]), the second
    /// through G's backward of their gradients with respect to the fakes. G's weights do not
    /// change during the look-ahead, so each batch's fakes are G's forward on that batch's noise
    /// again; G's running statistics are put back after.
    fn back_through_look_ahead(&mut self, b: &mut B, reals: &[B::T], labels: &[B::T], from: usize) -> Result<()> {
        let s = self.unrolled.as_ref().expect("unrolled");
        let t = s.trail.as_ref().expect("full unroll");
        let (adjoint, direction, grads_plus, norm) =
            (t.adjoint.clone(), t.direction.clone(), t.grads_plus.clone(), t.norm.clone());
        let (plus, minus, g_running) = (t.image_grad_plus.clone(), t.image_grad_minus.clone(), t.g_running.clone());
        let trail: Vec<(B::T, B::T, B::T)> = t
            .params
            .iter()
            .zip(&t.spectral)
            .zip(&t.grads)
            .map(|((p, s), g)| (p.clone(), s.clone(), g.clone()))
            .collect();
        let (m, v) = (s.m.clone(), s.v.clone());
        b.copy(&self.d.grads, &adjoint)?;
        b.copy(&self.g.running, &g_running)?;
        let adam = self.look_ahead_adam();
        for (j, k) in (from..reals.len()).enumerate().rev() {
            let (params, spectral, grads) = &trail[j];
            crate::ops::adam::held_slope(b, &adam, (&m, &v), grads, &adjoint, &direction)?;
            crate::ops::reduce::sum_squares(b, &direction, &norm, 1.0)?;
            let length = b.read(&norm)?[0].sqrt();
            if !(length.is_finite() && length > 0.0) {
                continue;
            }
            let eps = HVP_STEP / length;
            let g_in = self.draw_input(b, k as u64)?;
            self.g.forward(b, &g_in, true, self.dropout_seed(10 * k as u64), 0)?;
            for (sign, image_grad) in [(1.0, &plus), (-1.0, &minus)] {
                crate::ops::mix::mix(b, (1.0, params), (sign * eps, &direction), &self.d.params)?;
                b.copy(spectral, &self.d.spectral_state)?;
                self.d_gradient(b, &reals[k], labels.get(k), k as u64, Some(image_grad))?;
                if sign > 0.0 {
                    b.copy(&self.d.grads, &grads_plus)?;
                }
            }
            let c = adam.lr / (2.0 * eps);
            if j > 0 {
                crate::ops::mix::axpy(b, -c, &grads_plus, 1.0, &adjoint)?;
                crate::ops::mix::axpy(b, c, &self.d.grads, 1.0, &adjoint)?;
            }
            crate::ops::mix::mix(b, (-c, &plus), (c, &minus), self.g.output_grad())?;
            self.g.backward(b, &g_in, None, true)?;
        }
        b.copy(&g_running, &self.g.running)
    }

    /// The unrolled GAN's surrogate loss, G's loss against D after look-ahead steps on `reals`
    /// from D as it is now, and its gradient into G's parameter gradients (first-order or full,
    /// as configured); D goes back after. What [`Gan::iteration`] does after its kept D steps,
    /// for tests and diagnostics.
    pub fn unrolled_g_loss(&mut self, b: &mut B, reals: &[B::T], labels: &[B::T]) -> Result<f32> {
        if self.unrolled.is_none() {
            return Err(Error::Config("the surrogate loss needs an unrolled model (--unroll 2 or more)".into()));
        }
        self.save_d(b)?;
        let g_in = self.z.clone();
        self.g_gradient(b, reals, labels, 0, g_in, true)?;
        let loss = b.read(&self.stats.slice(G_LOSS, 1))?[0];
        self.restore_d(b)?;
        Ok(loss)
    }

    /// One D step on `real` (with its labels when conditional) and a fresh fake batch; returns
    /// G's input for that batch (G's step learns from the last one).
    fn d_step(&mut self, b: &mut B, real: &B::T, labels: Option<&B::T>, k: u64) -> Result<B::T> {
        let n = self.cfg.d_batch();
        let fake_at = self.logits_fake_at();
        let g_in = self.draw_input(b, k)?;
        self.g.forward(b, &g_in, true, self.dropout_seed(10 * k), 0)?;
        if self.train_d {
            b.zero(&self.d.grads)?;
            if let Some(q) = &self.q {
                b.zero(&q.net.grads)?;
            }
        }
        self.d.normalise_weights(b)?;

        let real_label = labels.unwrap_or(&self.fake_labels).clone();
        let x = self.d_input(b, real, &real_label, 2 * k)?;
        self.d.forward(b, &x, true, self.dropout_seed(10 * k + 1), 0)?;
        self.loss(b, D_LOSS_REAL, Role::Real)?;
        b.copy(self.d.output(), &self.stats.slice(LOGITS_REAL, n))?;
        if self.train_d {
            // The auxiliary classifier learns the classes of real images only: learning G's
            // fakes' labels too would let it agree with whatever G draws for a class.
            let q = if self.cfg.aux() { self.info_loss(b, true, &real_label)? } else { None };
            self.d_backward(b, &x, None, true, q)?;
        }
        self.adjust_augmentation(b)?;

        let fake = self.g.output().clone();
        let x = self.d_input(b, &fake, &self.fake_labels.clone(), 2 * k + 1)?;
        self.d.forward(b, &x, true, self.dropout_seed(10 * k + 2), 0)?;
        self.loss(b, D_LOSS_FAKE, Role::Fake)?;
        b.copy(self.d.output(), &self.stats.slice(fake_at, n))?;
        if self.train_d {
            let q = if self.cfg.aux() { None } else { self.info_loss(b, true, &self.fake_labels.clone())? };
            self.d_backward(b, &x, None, true, q)?;
            self.penalise(b, real, &fake, &real_label, k)?;
            self.d.spectral_backward(b)?;
            self.opt_d.step_scaled(b, &self.d.params, &self.d.grads, self.lr_scale())?;
            if let Some(q) = &mut self.q {
                q.opt.step(b, &q.net.params, &q.net.grads)?;
            }
            if self.cfg.loss == LossKind::Wgan {
                crate::ops::wgan::clip(b, &self.d.params, self.cfg.clip)?;
            }
        }
        Ok(g_in)
    }

    /// Keeps D (weights, optimizer state, statistics, spectral-norm vectors) and the losses so
    /// far, before the look-ahead steps of an unrolled iteration.
    fn save_d(&mut self, b: &mut B) -> Result<()> {
        let s = self.unrolled.as_mut().expect("unrolled");
        for (from, to) in [
            (&self.d.params, &s.params),
            (&self.opt_d.m, &s.m),
            (&self.opt_d.v, &s.v),
            (&self.d.running, &s.running),
            (&self.d.spectral_state, &s.spectral),
            (&self.stats, &s.stats),
        ] {
            b.copy(from, to)?;
        }
        s.t = self.opt_d.t;
        if let (Some(q), Some((params, m, v, t))) = (&self.q, &mut s.q) {
            for (from, to) in [(&q.net.params, &*params), (&q.opt.m, &*m), (&q.opt.v, &*v)] {
                b.copy(from, to)?;
            }
            *t = q.opt.t;
        }
        Ok(())
    }

    /// D as [`Gan::save_d`] kept it.
    fn restore_d(&mut self, b: &mut B) -> Result<()> {
        let s = self.unrolled.as_ref().expect("unrolled");
        for (from, to) in [
            (&s.params, &self.d.params),
            (&s.m, &self.opt_d.m),
            (&s.v, &self.opt_d.v),
            (&s.running, &self.d.running),
            (&s.spectral, &self.d.spectral_state),
        ] {
            b.copy(from, to)?;
        }
        self.opt_d.t = s.t;
        if let (Some(q), Some((params, m, v, t))) = (&mut self.q, &s.q) {
            for (from, to) in [(params, &q.net.params), (m, &q.opt.m), (v, &q.opt.v)] {
                b.copy(from, to)?;
            }
            q.opt.t = *t;
        }
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
        let penalty = if self.penalty.is_some() { stats[self.penalty_at()] } else { 0.0 };
        IterStats {
            penalty,
            info: if self.q.is_some() { stats[self.info_at()] } else { 0.0 },
            augment_p: self.cfg.ada_target().map(|_| stats[self.augment_p_at()]),
            d_loss: stats[D_LOSS_REAL] + stats[D_LOSS_FAKE] + penalty,
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
        if let (Some(to), Some(l)) = (g.labels(), labels) {
            b.copy(l, to)?;
        }
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
