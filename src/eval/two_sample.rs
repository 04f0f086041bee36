//! How close generated images are to a real folder, for any folder (no pretrained network: none
//! can be shipped for every kind of picture):
//! - a classifier two-sample test (Lopez-Paz & Oquab 2017): a fresh small CNN, trained by our own
//!   ops, learns to tell real from generated on half of each; its accuracy on the other halves
//!   is 0.5 when they cannot be told apart and 1.0 when they always can;
//! - a memorisation check: the share of samples closer to a real image than real images are to
//!   each other (the 1st percentile of real images' nearest-neighbour distances);
//! - per-channel colour statistics.

use rayon::prelude::*;
use serde::Serialize;

use crate::backend::{Backend, Tensor};
use crate::data::epoch_order;
use crate::error::{Error, Result};
use crate::gan::step::{Optimizer, derive_seed};
use crate::gan::{OptConfig, OptKind};
use crate::nn::{InitScheme, LayerSpec as L, Net, NetSpec, Shape};
use crate::ops::activation::Activation;
use crate::ops::softmax_cross_entropy::{self as sce, SoftmaxCrossEntropy};

/// Images per side the test uses at most (half to train on, half held out).
pub const MAX_PER_SIDE: usize = 2000;
/// Fewer images per side than this give an accuracy too noisy to read.
pub const MIN_PER_SIDE: usize = 20;
const SEEDS: u64 = 3;
const EPOCHS: usize = 8;
const BATCH: usize = 25;
/// Nearest neighbours are found on images average-pooled to at most this side.
const NN_SIDE: usize = 16;
/// Nearer than this (RMS per value on the [−1, 1] scale: under a tenth of a u8 level) two images
/// are one picture.
const DUPLICATE: f64 = 1e-4;
/// The real images' nearest-neighbour distance quantile below which a sample counts memorised.
const MEMORISED_QUANTILE: f64 = 0.01;

/// Images in [−1, 1], planar, `shape` each.
pub struct ImageBatch {
    pub values: Vec<f32>,
    pub shape: Shape,
}

impl ImageBatch {
    pub fn count(&self) -> usize {
        self.values.len() / self.shape.size().max(1)
    }
    fn image(&self, i: usize) -> &[f32] {
        let d = self.shape.size();
        &self.values[i * d..(i + 1) * d]
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TwoSampleReport {
    pub real: usize,
    pub samples: usize,
    /// Held-out accuracy of the real-vs-generated classifier, mean over seeds (0.5: chance).
    pub two_sample_accuracy: f64,
    pub two_sample_accuracy_std: f64,
    pub two_sample_accuracy_per_seed: Vec<f64>,
    /// Share of samples nearer a real image than `memorised_threshold`.
    pub memorised: f64,
    /// The 1st percentile of real images' distances (RMS per value, [−1, 1] scale, pooled) to
    /// their nearest other real image.
    pub memorised_threshold: f64,
    /// Per channel, in 0..255: mean and standard deviation of the real images and the samples.
    pub real_mean: Vec<f64>,
    pub real_std: Vec<f64>,
    pub sample_mean: Vec<f64>,
    pub sample_std: Vec<f64>,
}

impl TwoSampleReport {
    pub fn text(&self) -> String {
        let list = |v: &[f64]| v.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(" ");
        format!(
            "two-sample accuracy {:.3} ± {:.3} over {} seeds (0.5: indistinguishable, 1.0: always told \
             apart; {} real, {} samples)\nmemorised {:.1}% (samples nearer a real image than {:.4}, the \
             1st percentile of real images' distances to each other)\ncolour mean real {} samples {}\n\
             colour std  real {} samples {}",
            self.two_sample_accuracy,
            self.two_sample_accuracy_std,
            self.two_sample_accuracy_per_seed.len(),
            self.real,
            self.samples,
            100.0 * self.memorised,
            self.memorised_threshold,
            list(&self.real_mean),
            list(&self.sample_mean),
            list(&self.real_std),
            list(&self.sample_std),
        )
    }
}

/// Every measure of `samples` against `real` (the same shape), on `b`.
pub fn compare<B: Backend>(b: &mut B, real: &ImageBatch, samples: &ImageBatch, seed: u64) -> Result<TwoSampleReport> {
    if real.shape != samples.shape {
        return Err(Error::Config(format!(
            "real images are {:?} and samples {:?}; give samples of the real images' size and channels",
            real.shape, samples.shape
        )));
    }
    let n = real.count().min(samples.count()).min(MAX_PER_SIDE);
    if n < MIN_PER_SIDE {
        return Err(Error::Config(format!(
            "{} real images and {} samples: the two-sample test needs at least {MIN_PER_SIDE} of each",
            real.count(),
            samples.count()
        )));
    }
    let accuracies = (0..SEEDS)
        .map(|s| classifier_accuracy(b, real, samples, n, derive_seed(seed, s, 21)))
        .collect::<Result<Vec<_>>>()?;
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    let var = accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (accuracies.len() - 1).max(1) as f64;
    let (memorised, memorised_threshold) = memorisation(real, samples);
    let (real_mean, real_std) = colour(real);
    let (sample_mean, sample_std) = colour(samples);
    Ok(TwoSampleReport {
        real: real.count(),
        samples: samples.count(),
        two_sample_accuracy: mean,
        two_sample_accuracy_std: var.sqrt(),
        two_sample_accuracy_per_seed: accuracies,
        memorised,
        memorised_threshold,
        real_mean,
        real_std,
        sample_mean,
        sample_std,
    })
}

/// The classifier: stride-2 4×4 convolutions (16, 32, 64, 64 channels) with LeakyReLU until the
/// side is at most 8, then a linear layer to two logits (generated, real).
pub fn classifier_spec(shape: Shape) -> NetSpec {
    let mut layers = Vec::new();
    let (mut side, mut width) = (shape.1.min(shape.2), 16);
    while side > 8 && layers.len() < 8 {
        layers.push(L::Conv2d { out: width, kernel: 4, stride: 2, pad: 1, bias: true });
        layers.push(L::Activation { f: Activation::LeakyRelu(0.2) });
        side /= 2;
        width = (width * 2).min(64);
    }
    layers.push(L::Linear { out: 2, bias: true });
    NetSpec { input: shape, layers, spectral_norm: false }
}

/// One seed's held-out accuracy: each side shuffled and halved, a fresh classifier trained on
/// the first halves for [`EPOCHS`], scored on the second.
fn classifier_accuracy<B: Backend>(
    b: &mut B,
    real: &ImageBatch,
    samples: &ImageBatch,
    n: usize,
    seed: u64,
) -> Result<f64> {
    let d = real.shape.size();
    let (r, f) = (epoch_order(real.count(), seed, 0), epoch_order(samples.count(), seed, 1));
    let half = n / 2;
    // Train items: (image, label) alternating sides; test items: the second halves.
    let item = |side: usize, k: usize| -> (&[f32], f32) {
        if side == 1 { (real.image(r[k] as usize), 1.0) } else { (samples.image(f[k] as usize), 0.0) }
    };
    let train: Vec<(usize, usize)> = (0..half).flat_map(|k| [(1, k), (0, k)]).collect();
    let test: Vec<(usize, usize)> = (half..n).flat_map(|k| [(1, k), (0, k)]).collect();
    let mut net = Net::new(b, &classifier_spec(real.shape), BATCH)?;
    net.init_with(b, seed, InitScheme::Pytorch)?;
    let cfg = OptConfig { kind: OptKind::Adam, lr: 1e-3, beta1: 0.9, ..OptConfig::dcgan_adam() };
    let mut opt = Optimizer::new(b, cfg, net.params.len())?;
    let (x, y, probs) = (b.alloc(BATCH * d)?, b.alloc(BATCH)?, b.alloc(BATCH * 2)?);
    let s = SoftmaxCrossEntropy { n: BATCH, k: 2 };
    let fill = |b: &mut B, items: &[(usize, usize)]| -> Result<Vec<f32>> {
        let mut xs = Vec::with_capacity(BATCH * d);
        let mut ys = Vec::with_capacity(BATCH);
        for &(side, k) in items {
            let (image, label) = item(side, k);
            xs.extend_from_slice(image);
            ys.push(label);
        }
        // A short last batch repeats its first item; only the real ones are counted.
        while ys.len() < BATCH {
            xs.extend_from_within(..d);
            ys.push(ys[0]);
        }
        b.write(&x, &xs)?;
        b.write(&y, &ys)?;
        Ok(ys)
    };
    let mut step = 0u64;
    for epoch in 0..EPOCHS {
        let order = epoch_order(train.len(), seed, epoch + 2);
        let shuffled: Vec<(usize, usize)> = order.iter().map(|&i| train[i as usize]).collect();
        for chunk in shuffled.chunks_exact(BATCH) {
            fill(b, chunk)?;
            b.zero(&net.grads)?;
            net.forward(b, &x, true, derive_seed(seed, step, 3), 0)?;
            sce::backward(b, &s, net.output(), &y, net.output_grad(), 1.0)?;
            net.backward(b, &x, None, true)?;
            opt.step(b, &net.params, &net.grads)?;
            b.flush()?;
            b.limit_in_flight(2)?;
            step += 1;
        }
    }
    let mut right = 0;
    for chunk in test.chunks(BATCH) {
        let ys = fill(b, chunk)?;
        net.forward(b, &x, false, 0, 0)?;
        sce::probs(b, &s, net.output(), &probs)?;
        let p = b.read(&probs)?;
        right += (0..chunk.len()).filter(|&i| (p[2 * i + 1] > p[2 * i]) == (ys[i] > 0.5)).count();
    }
    Ok(right as f64 / test.len() as f64)
}

/// Up to [`MAX_PER_SIDE`] images of `set` in a fixed shuffle (a folder lists its classes one
/// after another), average-pooled to at most [`NN_SIDE`] per side, flattened.
fn pooled(set: &ImageBatch) -> (Vec<Vec<f32>>, usize) {
    let Shape(c, h, w) = set.shape;
    let (fy, fx) = (h.div_ceil(NN_SIDE), w.div_ceil(NN_SIDE));
    let (ph, pw) = (h / fy, w / fx);
    let order = epoch_order(set.count(), 0, 0);
    let images = order[..set.count().min(MAX_PER_SIDE)]
        .iter()
        .map(|&i| {
            let img = set.image(i as usize);
            let mut out = Vec::with_capacity(c * ph * pw);
            for ch in 0..c {
                for y in 0..ph {
                    for x in 0..pw {
                        let mut sum = 0.0;
                        for dy in 0..fy {
                            for dx in 0..fx {
                                sum += img[ch * h * w + (y * fy + dy) * w + x * fx + dx];
                            }
                        }
                        out.push(sum / (fy * fx) as f32);
                    }
                }
            }
            out
        })
        .collect();
    (images, c * ph * pw)
}

/// The distance (RMS per value) from `q` to its nearest image of `set`, `skip` left out.
fn nearest(q: &[f32], set: &[Vec<f32>], skip: Option<usize>) -> f64 {
    let best = set
        .iter()
        .enumerate()
        .filter(|&(j, _)| Some(j) != skip)
        .map(|(_, v)| q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>())
        .fold(f32::MAX, f32::min);
    (best as f64 / q.len() as f64).sqrt()
}

/// (share of samples nearer a real image than the threshold, the threshold).
fn memorisation(real: &ImageBatch, samples: &ImageBatch) -> (f64, f64) {
    let (r, _) = pooled(real);
    let (s, _) = pooled(samples);
    // Exact duplicates within the folder (an icon set ships the same picture under two names)
    // would make the threshold 0; the distances between distinct images set it.
    let mut real_nn: Vec<f64> =
        (0..r.len()).into_par_iter().map(|i| nearest(&r[i], &r, Some(i))).filter(|&d| d > DUPLICATE).collect();
    if real_nn.is_empty() {
        return (0.0, 0.0);
    }
    real_nn.sort_by(f64::total_cmp);
    let threshold = real_nn[((real_nn.len() - 1) as f64 * MEMORISED_QUANTILE) as usize];
    let below = s.par_iter().filter(|q| nearest(q, &r, None) < threshold).count();
    (below as f64 / s.len() as f64, threshold)
}

/// Per channel: mean and standard deviation in 0..255.
fn colour(set: &ImageBatch) -> (Vec<f64>, Vec<f64>) {
    let Shape(c, h, w) = set.shape;
    let plane = h * w;
    (0..c)
        .map(|ch| {
            let values = (0..set.count())
                .flat_map(|i| set.image(i)[ch * plane..(ch + 1) * plane].iter().map(|&v| (v as f64 + 1.0) * 127.5));
            let (mut n, mut sum, mut sq) = (0.0, 0.0, 0.0);
            for v in values {
                (n, sum, sq) = (n + 1.0, sum + v, sq + v * v);
            }
            let mean = sum / n;
            (mean, (sq / n - mean * mean).max(0.0).sqrt())
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuBackend;

    /// Discs of random colour and place on a dark ground, 12×12 RGB.
    fn discs(n: usize, seed: u64) -> ImageBatch {
        let mut values = Vec::new();
        for i in 0..n {
            let [a, b] = crate::ops::random::reference::bits(seed, 0, i as u64);
            let (cx, cy, col) = ((a % 8) as f32 + 2.0, ((a >> 8) % 8) as f32 + 2.0, b);
            for ch in 0..3 {
                let v = ((col >> (8 * ch)) & 0xff) as f32 / 127.5 - 1.0;
                for y in 0..12 {
                    for x in 0..12 {
                        let inside = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < 9.0;
                        values.push(if inside { v } else { -0.8 });
                    }
                }
            }
        }
        ImageBatch { values, shape: Shape(3, 12, 12) }
    }

    #[test]
    fn two_halves_of_one_set_read_chance_and_noise_reads_one() {
        let mut b = CpuBackend;
        let (real, other) = (discs(200, 1), discs(200, 2));
        let same = compare(&mut b, &real, &other, 0).unwrap();
        assert!((same.two_sample_accuracy - 0.5).abs() < 0.12, "{}", same.text());
        // About 1% by construction; a small set of 64 places is noisier.
        assert!(same.memorised < 0.1, "{}", same.text());
        let noise = ImageBatch {
            values: (0..200 * 432).map(|i| ((i * 7919 % 255) as f32 / 127.5) - 1.0).collect(),
            shape: Shape(3, 12, 12),
        };
        let apart = compare(&mut b, &real, &noise, 0).unwrap();
        assert!(apart.two_sample_accuracy > 0.95, "{}", apart.text());
        let copies = compare(&mut b, &real, &ImageBatch { values: real.values.clone(), shape: real.shape }, 0).unwrap();
        assert!(copies.memorised > 0.95, "copies of the real images are memorised: {}", copies.text());
    }
}
