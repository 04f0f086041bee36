//! Sample-quality scores on classifier features and probabilities, in f64 on the CPU (10000 ×
//! 128 features are small): Fréchet distance, KID, the classifier "Inception Score",
//! precision/recall, and the class histogram that catches mode collapse.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{Error, Result};

/// Below this many samples a feature covariance is too noisy (and below the feature count,
/// singular) for a Fréchet distance worth printing.
pub const MIN_SAMPLES_FOR_FD: usize = 500;

/// Mean and covariance (divided by n − 1) of n feature rows of length d.
#[derive(Clone, Debug)]
pub struct FeatureStats {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
    pub n: usize,
}

impl FeatureStats {
    pub fn new(features: &[f32], d: usize) -> Result<Self> {
        let n = features.len() / d.max(1);
        if n < 2 {
            return Err(Error::Config("feature statistics need at least 2 samples".into()));
        }
        let x = DMatrix::from_row_iterator(n, d, features[..n * d].iter().map(|&v| v as f64));
        let mean = DVector::from_iterator(d, x.column_iter().map(|c| c.mean()));
        let mut centred = x;
        for (mut col, m) in centred.column_iter_mut().zip(mean.iter()) {
            col.add_scalar_mut(-m);
        }
        let cov = centred.tr_mul(&centred) / (n - 1) as f64;
        Ok(FeatureStats { mean, cov, n })
    }
}

/// Eigen-decomposition of a symmetric matrix with eigenvalues clamped at 0: covariances are
/// positive semi-definite, and rounding must not turn a 0 into a NaN-producing negative.
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let sym = (m + m.transpose()) * 0.5;
    let e = SymmetricEigen::new(sym);
    let roots = e.eigenvalues.map(|l| l.max(0.0).sqrt());
    &e.eigenvectors * DMatrix::from_diagonal(&roots) * e.eigenvectors.transpose()
}

/// ‖μa − μb‖² + tr(Σa) + tr(Σb) − 2 tr((Σa^½ Σb Σa^½)^½): the Fréchet distance of two Gaussians
/// (Heusel et al. 2017). The inner product is symmetric PSD, so both roots come from symmetric
/// eigen-decompositions: real, never NaN.
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    let n = a.n.min(b.n);
    if n < MIN_SAMPLES_FOR_FD {
        return Err(Error::Config(format!(
            "the Fréchet distance needs at least {MIN_SAMPLES_FOR_FD} samples per set, got {n}; raise --n"
        )));
    }
    let ra = psd_sqrt(&a.cov);
    let inner = &ra * &b.cov * &ra;
    let e = SymmetricEigen::new((&inner + inner.transpose()) * 0.5);
    let tr_sqrt: f64 = e.eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    let d = (&a.mean - &b.mean).norm_squared() + a.cov.trace() + b.cov.trace() - 2.0 * tr_sqrt;
    Ok(d.max(0.0))
}

/// Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD² with the polynomial
/// kernel k(x, y) = ((s·x)·(s·y) / d + 1)³, averaged over `subsets` random subsets of `size` rows
/// of each set; mean and standard deviation. `s` scales features to the magnitude the kernel was
/// designed for (Inception's pool features are O(1); ReLU features of a small CNN are not, and the
/// cube then turns sampling noise into huge variance).
pub fn kid(x: &[f32], y: &[f32], d: usize, subsets: usize, size: usize, scale: f64, seed: u64) -> (f64, f64) {
    let (nx, ny) = (x.len() / d, y.len() / d);
    let m = size.min(nx).min(ny);
    if m < 2 {
        return (f64::NAN, f64::NAN);
    }
    let k = |a: &[f32], b: &[f32]| {
        let dot: f64 = a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum();
        (dot * scale * scale / d as f64 + 1.0).powi(3)
    };
    let mut values = Vec::with_capacity(subsets);
    for s in 0..subsets as u64 {
        let pick = |n: usize, salt: u64| subset(n, m, seed ^ (s << 8) ^ salt);
        let (ix, iy) = (pick(nx, 1), pick(ny, 2));
        let (mut kxx, mut kyy, mut kxy) = (0.0, 0.0, 0.0);
        for a in 0..m {
            for b in 0..m {
                if a != b {
                    kxx += k(row(x, ix[a], d), row(x, ix[b], d));
                    kyy += k(row(y, iy[a], d), row(y, iy[b], d));
                }
                kxy += k(row(x, ix[a], d), row(y, iy[b], d));
            }
        }
        let mf = m as f64;
        values.push((kxx + kyy) / (mf * (mf - 1.0)) - 2.0 * kxy / (mf * mf));
    }
    mean_std(&values)
}

fn row(s: &[f32], i: usize, d: usize) -> &[f32] {
    &s[i * d..(i + 1) * d]
}

/// 1 / the root mean square of all feature values: what [`kid`] scales features by.
pub fn unit_rms_scale(features: &[f32]) -> f64 {
    let ms = features.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / features.len().max(1) as f64;
    if ms > 0.0 { 1.0 / ms.sqrt() } else { 1.0 }
}

/// `m` distinct indices below `n`, drawn by a seeded partial Fisher–Yates shuffle.
fn subset(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m.min(n) {
        let [a, b] = crate::ops::random::reference::bits(seed, 0, i as u64);
        let j = i + (((b as u64) << 32 | a as u64) % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// exp(E_x KL(p(y|x) ‖ p(y))) over `splits` consecutive splits (Salimans et al. 2016), with the
/// classifier in place of Inception: 1 when every sample looks the same, the class count when
/// samples are confident and the classes balanced. Mean and standard deviation over splits.
pub fn inception_score(probs: &[f32], k: usize, splits: usize) -> (f64, f64) {
    let n = probs.len() / k;
    let splits = splits.clamp(1, n.max(1));
    let scores: Vec<f64> = (0..splits)
        .map(|s| {
            let part = &probs[s * n / splits * k..(s + 1) * n / splits * k];
            let rows = part.len() / k;
            let mut marginal = vec![0.0f64; k];
            for p in part.chunks(k) {
                for (m, &v) in marginal.iter_mut().zip(p) {
                    *m += v as f64 / rows as f64;
                }
            }
            let kl: f64 = part
                .chunks(k)
                .map(|p| {
                    p.iter()
                        .zip(&marginal)
                        .filter(|&(&v, _)| v > 0.0)
                        .map(|(&v, &m)| v as f64 * ((v as f64).ln() - m.max(1e-300).ln()))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / rows as f64;
            kl.exp()
        })
        .collect();
    mean_std(&scores)
}

/// Improved precision and recall (Kynkäänniemi et al. 2019): a sample is inside a set's manifold
/// when it lies within the k-th-nearest-neighbour radius of some member. Precision: fakes inside
/// the real manifold; recall: reals inside the fake manifold.
pub fn precision_recall(real: &[f32], fake: &[f32], d: usize, k: usize) -> (f64, f64) {
    let radii = |s: &[f32]| -> Vec<f32> {
        let n = s.len() / d;
        (0..n)
            .map(|i| {
                let mut dist: Vec<f32> = (0..n).filter(|&j| j != i).map(|j| dist2(s, i, s, j, d)).collect();
                let kth = k.min(dist.len()).saturating_sub(1);
                dist.select_nth_unstable_by(kth, f32::total_cmp);
                dist.get(kth).copied().unwrap_or(f32::INFINITY)
            })
            .collect()
    };
    let inside = |probe: &[f32], set: &[f32], r: &[f32]| {
        let n = probe.len() / d;
        let hits = (0..n).filter(|&i| (0..r.len()).any(|j| dist2(probe, i, set, j, d) <= r[j])).count();
        hits as f64 / n.max(1) as f64
    };
    let (rr, rf) = (radii(real), radii(fake));
    (inside(fake, real, &rr), inside(real, fake, &rf))
}

fn dist2(a: &[f32], i: usize, b: &[f32], j: usize, d: usize) -> f32 {
    row(a, i, d).iter().zip(row(b, j, d)).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// How the classifier sorts the samples: counts per class, how many classes hold at least a
/// tenth of their fair share, and KL(histogram ‖ uniform) in nats (0 = balanced, ln k = one class).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassHistogram {
    pub counts: Vec<usize>,
    pub covered: usize,
    pub kl_to_uniform: f64,
    /// The largest class's share of the samples.
    pub top_share: f64,
}

pub fn class_histogram(predicted: &[usize], k: usize) -> ClassHistogram {
    let mut counts = vec![0; k];
    for &p in predicted {
        counts[p.min(k - 1)] += 1;
    }
    let n = predicted.len().max(1) as f64;
    let fair = n / k as f64;
    let covered = counts.iter().filter(|&&c| c as f64 >= 0.1 * fair).count();
    let kl = counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n * (c as f64 / n * k as f64).ln()).sum();
    let top_share = counts.iter().copied().max().unwrap_or(0) as f64 / n;
    ClassHistogram { counts, covered, kl_to_uniform: kl, top_share }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rows: &[[f32; 2]]) -> FeatureStats {
        FeatureStats::new(&rows.iter().flatten().copied().collect::<Vec<_>>(), 2).unwrap()
    }

    #[test]
    fn feature_stats_by_hand() {
        let s = stats(&[[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]]);
        assert_eq!(s.mean.as_slice(), &[3.0, 4.0]);
        // Var x = (4 + 0 + 4) / 2 = 4, var y = (4 + 4 + 16) / 2 = 12, cov = (2·2 + 0 + 2·4) / 2 = 6.
        assert_eq!(s.cov.as_slice(), &[4.0, 6.0, 6.0, 12.0]);
    }

    fn gaussian_stats(mean: [f64; 2], var: [f64; 2]) -> FeatureStats {
        FeatureStats {
            mean: DVector::from_row_slice(&mean),
            cov: DMatrix::from_diagonal(&DVector::from_row_slice(&var)),
            n: MIN_SAMPLES_FOR_FD,
        }
    }

    #[test]
    fn frechet_distance_of_gaussians_by_hand() {
        // Diagonal covariances: Σ over dimensions of (μa − μb)² + (σa − σb)².
        let a = gaussian_stats([0.0, 1.0], [4.0, 1.0]);
        let b = gaussian_stats([3.0, 1.0], [1.0, 9.0]);
        let want = 9.0 + (2.0f64 - 1.0).powi(2) + (1.0f64 - 3.0).powi(2);
        assert!((frechet_distance(&a, &b).unwrap() - want).abs() < 1e-9);
        assert!(frechet_distance(&a, &a).unwrap().abs() < 1e-9);
        // A singular covariance (a point mass) still gives a real, finite distance.
        let point = gaussian_stats([0.0, 0.0], [0.0, 0.0]);
        assert!((frechet_distance(&point, &a).unwrap() - (1.0 + 5.0)).abs() < 1e-9);
        let few = FeatureStats { n: 10, ..a.clone() };
        assert!(frechet_distance(&few, &a).is_err(), "too few samples must be refused");
    }

    #[test]
    fn kid_by_hand_and_of_two_draws_of_one_distribution() {
        // d = 1, sets {0, 1} and {1, 2}: k(x, y) = (xy + 1)³.
        let k = |x: f64, y: f64| (x * y + 1.0f64).powi(3);
        let want = (2.0 * k(0.0, 1.0) + 2.0 * k(1.0, 2.0)) / 2.0
            - 2.0 * (k(0.0, 1.0) + k(0.0, 2.0) + k(1.0, 1.0) + k(1.0, 2.0)) / 4.0;
        let (got, _) = kid(&[0.0, 1.0], &[1.0, 2.0], 1, 1, 2, 1.0, 0);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        // Two draws of one distribution score near 0, far below a shifted one.
        let x: Vec<f32> = (0..800).map(|i| (i as f32 * 0.37).sin()).collect();
        let shifted: Vec<f32> = x[400..].iter().map(|v| v + 0.5).collect();
        let (same, _) = kid(&x[..400], &x[400..], 2, 5, 100, 1.0, 1);
        let (apart, _) = kid(&x[..400], &shifted, 2, 5, 100, 1.0, 1);
        assert!(same.abs() < 0.05 * apart, "same {same}, shifted {apart}");
    }

    #[test]
    fn score_is_one_for_one_class_and_k_for_confident_balanced_classes() {
        let one: Vec<f32> = (0..100).flat_map(|_| [1.0, 0.0, 0.0, 0.0]).collect();
        let (s, _) = inception_score(&one, 4, 10);
        assert!((s - 1.0).abs() < 1e-9);
        let balanced: Vec<f32> = (0..120).flat_map(|i| (0..4).map(move |c| (c == i % 4) as u8 as f32)).collect();
        let (s, std) = inception_score(&balanced, 4, 10);
        assert!((s - 4.0).abs() < 1e-9 && std < 1e-9, "{s} ± {std}");
    }

    #[test]
    fn precision_recall_of_same_and_disjoint_sets() {
        let a: Vec<f32> = (0..60).map(|i| (i as f32 * 0.61).sin()).collect();
        assert_eq!(precision_recall(&a, &a, 2, 3), (1.0, 1.0));
        let far: Vec<f32> = a.iter().map(|v| v + 100.0).collect();
        assert_eq!(precision_recall(&a, &far, 2, 3), (0.0, 0.0));
    }

    #[test]
    fn histogram_coverage_and_kl() {
        let h = class_histogram(&[3; 50], 10);
        assert_eq!((h.covered, h.top_share), (1, 1.0));
        assert!((h.kl_to_uniform - 10f64.ln()).abs() < 1e-12);
        let h = class_histogram(&(0..100).map(|i| i % 10).collect::<Vec<_>>(), 10);
        assert_eq!(h.covered, 10);
        assert!(h.kl_to_uniform.abs() < 1e-12);
    }
}
