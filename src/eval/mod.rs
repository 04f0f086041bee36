//! `wgan-gpu eval` and `wgan-gpu train-classifier`: sample quality measured with a digit
//! classifier trained by our own ops, and mode-collapse checks.

pub mod classifier;
pub mod metrics;
pub mod modes;
pub mod samples;
pub mod table;
pub mod two_sample;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backend::Backend;
use crate::data::folder::{self, FolderOptions};
use crate::data::mnist;
use crate::error::{Error, Result};
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext};
use crate::nn::Shape;
use classifier::{CLASSES, Classifier, FEATURES, Scored, to_signed};
use metrics::{ClassHistogram, FeatureStats};

/// Precision and recall compare every sample with every other: O(n²). They use this many.
pub const PR_SAMPLES: usize = 2000;
const KID_SUBSETS: usize = 10;
const KID_SUBSET_SIZE: usize = 1000;
const IS_SPLITS: usize = 10;
/// Nearest neighbours for the precision/recall manifolds (Kynkäänniemi et al. use k = 3).
const PR_K: usize = 3;

#[derive(Clone, Debug, Serialize)]
pub struct Scores {
    /// What was scored ("samples", "real train (reference)").
    pub what: String,
    pub n: usize,
    /// Fréchet distance on classifier features against the MNIST test set (lower is better).
    pub fd: Option<f64>,
    /// Kernel distance (unbiased MMD², cubic polynomial kernel) on the same features scaled to
    /// unit RMS over the test set, ×1000.
    pub kid_x1000: f64,
    pub kid_std_x1000: f64,
    /// exp E KL(p(y|x) ‖ p(y)) over 10 splits: 10 is ideal for 10 balanced confident classes.
    pub score: f64,
    pub score_std: f64,
    pub precision: f64,
    pub recall: f64,
    pub classes: ClassHistogram,
    /// Conditional models: the classifier's accuracy on the samples of each requested label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_class_accuracy: Option<Vec<f64>>,
    /// Beside it, the classifier's accuracy on the real test digits of each class: the most a
    /// generator can score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_class_ceiling: Option<Vec<f64>>,
}

impl Scores {
    /// A line for the console when the samples look collapsed, else None.
    pub fn collapse_warning(&self, previous: Option<&Scores>) -> Option<String> {
        let h = &self.classes;
        let dropped = previous.is_some_and(|p| h.covered < p.classes.covered);
        (dropped || h.top_share > 0.5).then(|| {
            format!(
                "possible mode collapse: {} of {CLASSES} classes covered{}, the largest class has {:.0}% of samples",
                h.covered,
                previous.map(|p| format!(" (was {})", p.classes.covered)).unwrap_or_default(),
                100.0 * h.top_share
            )
        })
    }
}

/// The MNIST test set's features: what every sample set is compared against.
pub struct Reference {
    pub test: Scored,
    pub stats: FeatureStats,
    /// Features are scaled by this for KID: to unit root mean square over the test set.
    kid_scale: f64,
}

impl Reference {
    pub fn new<B: Backend>(b: &mut B, clf: &mut Classifier<B>) -> Result<Self> {
        let test = mnist::test()?;
        let test = clf.score(b, &to_signed(&test, test.count))?;
        let stats = FeatureStats::new(&test.features, FEATURES)?;
        let kid_scale = metrics::unit_rms_scale(&test.features);
        Ok(Reference { test, stats, kid_scale })
    }

    /// Every score of `s` against the test set. `labels`: the class each sample was asked for.
    pub fn score(&self, what: &str, s: &Scored, labels: Option<&[usize]>, seed: u64) -> Result<Scores> {
        let stats = FeatureStats::new(&s.features, FEATURES)?;
        let fd = match metrics::frechet_distance(&stats, &self.stats) {
            Ok(d) => Some(d),
            Err(_) if s.n < metrics::MIN_SAMPLES_FOR_FD => None,
            Err(e) => return Err(e),
        };
        let (kid, kid_std) = metrics::kid(
            &s.features,
            &self.test.features,
            FEATURES,
            KID_SUBSETS,
            KID_SUBSET_SIZE,
            self.kid_scale,
            seed,
        );
        let (score, score_std) = metrics::inception_score(&s.probs, CLASSES, IS_SPLITS);
        let m = PR_SAMPLES.min(s.n).min(self.test.n) * FEATURES;
        let (precision, recall) = metrics::precision_recall(&self.test.features[..m], &s.features[..m], FEATURES, PR_K);
        let predicted = s.predicted();
        let per_class_accuracy = labels.map(|l| per_class_accuracy(&predicted, l));
        Ok(Scores {
            what: what.into(),
            n: s.n,
            fd,
            kid_x1000: 1000.0 * kid,
            kid_std_x1000: 1000.0 * kid_std,
            score,
            score_std,
            precision,
            recall,
            classes: metrics::class_histogram(&predicted, CLASSES),
            per_class_accuracy,
            per_class_ceiling: None,
        })
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct EvalArgs {
    /// A generator checkpoint (or its run folder) to draw samples from.
    #[arg(long, conflicts_with_all = ["images", "table"], required_unless_present_any = ["images", "table", "real"])]
    pub checkpoint: Option<PathBuf>,
    /// Images made by any tool: a folder of PNGs, a grid PNG written by `sample`, an IDX file or
    /// a .npy array (u8 0..255, or f32 in [0, 1] or [−1, 1]); 28×28 white-on-black digits.
    #[arg(long, conflicts_with = "table")]
    pub images: Option<PathBuf>,
    /// A real CSV table to compare `--samples` with: per-column mean, spread, quantile and
    /// Kolmogorov–Smirnov gaps, category shares and the correlation gap (the report a table run
    /// writes each epoch), for rows made by any tool.
    #[arg(long, requires = "samples")]
    pub table: Option<PathBuf>,
    /// With --table: also find the real rows' K modes (k-means on the numeric columns) and report
    /// the modes the samples keep and the share of them within 3σ of a mode (the unrolled GAN's
    /// and VEEGAN's mode-collapse measure; the ring has 8).
    #[arg(long, requires = "table", conflicts_with_all = ["checkpoint", "images", "real"])]
    pub modes: Option<usize>,
    /// A folder of real images (any kind, any size) to compare samples with: a classifier
    /// two-sample test (its held-out accuracy; 0.5: indistinguishable), the share of memorised
    /// samples, and colour statistics. Samples come from `--samples` or `--checkpoint`.
    #[arg(long, conflicts_with_all = ["table", "images"])]
    pub real: Option<PathBuf>,
    /// With --table: the generated CSV rows (the same columns). With --real: a folder of
    /// images or a .npy array of the real images' size and channels.
    #[arg(long, conflicts_with = "checkpoint")]
    pub samples: Option<PathBuf>,
    /// With --real: how the folder's non-square images become square, as the run trained on
    /// them (`train --crop`).
    #[arg(long, value_enum, default_value_t = crate::data::folder::Crop::Center, requires = "real")]
    pub crop: crate::data::folder::Crop,
    /// Samples to draw from a checkpoint [default: 10000; 26000 for stacked MNIST, as PacGAN
    /// counts its modes; 2000 with --real]
    #[arg(long)]
    pub n: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Skip the reference line (real training images scored the same way).
    #[arg(long)]
    pub no_reference: bool,
    /// Draw from the live generator's weights, not their moving average (--g-ema).
    #[arg(long)]
    pub raw: bool,
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

pub fn print_table(rows: &[Scores]) {
    let w = rows.iter().map(|r| r.what.chars().count()).max().unwrap_or(0);
    println!(
        "{:<w$} {:>6} {:>8} {:>13} {:>13} {:>6} {:>6} {:>7} {:>7}",
        "", "n", "FD", "KIDx1000", "score", "prec", "recall", "classes", "KL(u)"
    );
    for r in rows {
        println!(
            "{:<w$} {:>6} {:>8} {:>13} {:>13} {:>6.3} {:>6.3} {:>7} {:>7.3}",
            r.what,
            r.n,
            r.fd.map_or("n/a".into(), |d| format!("{d:.2}")),
            format!("{:.2}±{:.2}", r.kid_x1000, r.kid_std_x1000),
            format!("{:.2}±{:.2}", r.score, r.score_std),
            r.precision,
            r.recall,
            format!("{}/{CLASSES}", r.classes.covered),
            r.classes.kl_to_uniform,
        );
    }
    for r in rows {
        println!("{}: class histogram {:?}", r.what, r.classes.counts);
        let percent = |acc: &[f64]| acc.iter().map(|a| format!("{:.1}%", 100.0 * a)).collect::<Vec<_>>().join(" ");
        if let Some(acc) = &r.per_class_accuracy {
            println!("{}: classifier accuracy per requested label: {}", r.what, percent(acc));
        }
        if let Some(acc) = &r.per_class_ceiling {
            println!("the classifier on real test digits, per class: {}", percent(acc));
        }
    }
}

/// For each class c, the share of the samples labelled c that the classifier reads as c.
fn per_class_accuracy(predicted: &[usize], labels: &[usize]) -> Vec<f64> {
    (0..CLASSES)
        .map(|c| {
            let asked: Vec<usize> = (0..predicted.len()).filter(|&i| labels[i] == c).collect();
            asked.iter().filter(|&&i| predicted[i] == c).count() as f64 / asked.len().max(1) as f64
        })
        .collect()
}

/// How well InfoGAN's categorical code picks the digit: for each code value, the classifier's
/// majority class among its samples and that class's share. Chen et al. 2016 report the code
/// as a classifier with about 5% error on MNIST.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CodeReport {
    pub what: &'static str,
    /// Per code value: (majority class, its share of the value's samples).
    pub codes: Vec<(usize, f64)>,
    /// The code read as a classifier, each value matched to a digit of its own (the best
    /// one-to-one matching; by majority when there are more values than digits): its error.
    pub error: f64,
    /// Distinct majority classes: 10 when every code value has a digit of its own.
    pub distinct_classes: usize,
}

impl CodeReport {
    /// `codes` [n] the value each sample was drawn with, `predicted` [n] its digit.
    pub fn new(codes: &[usize], predicted: &[usize]) -> Self {
        let k = codes.iter().max().map_or(0, |m| m + 1);
        let mut counts = vec![[0usize; CLASSES]; k];
        for (&c, &p) in codes.iter().zip(predicted) {
            counts[c][p] += 1;
        }
        let majority: Vec<(usize, usize, usize)> = counts
            .iter()
            .map(|row| {
                let (class, &top) = row.iter().enumerate().max_by_key(|&(i, &n)| (n, usize::MAX - i)).expect("classes");
                (class, top, row.iter().sum())
            })
            .collect();
        let right = if k <= CLASSES { best_matching(&counts) } else { majority.iter().map(|m| m.1).sum() };
        let mut distinct: Vec<usize> = majority.iter().map(|m| m.0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        CodeReport {
            what: "infogan categorical code",
            codes: majority.iter().map(|&(c, top, all)| (c, top as f64 / all.max(1) as f64)).collect(),
            error: 1.0 - right as f64 / codes.len().max(1) as f64,
            distinct_classes: distinct.len(),
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::from("InfoGAN categorical code -> the classifier's majority digit (share):\n");
        for (k, (class, share)) in self.codes.iter().enumerate() {
            s += &format!("  code {k}: {class} ({:.1}%)\n", 100.0 * share);
        }
        s += &format!(
            "  error {:.1}% (each code value matched to a digit of its own), {} distinct majority digits\n",
            100.0 * self.error,
            self.distinct_classes
        );
        s
    }
}

/// The most samples a one-to-one matching of code values (rows of `counts`) to classes can
/// put in their matched class: a dynamic programme over the sets of classes taken.
fn best_matching(counts: &[[usize; CLASSES]]) -> usize {
    let mut best = vec![None::<usize>; 1 << CLASSES];
    best[0] = Some(0);
    for mask in 0..1usize << CLASSES {
        let Some(got) = best[mask] else { continue };
        let row = mask.count_ones() as usize;
        if row == counts.len() {
            continue;
        }
        for class in (0..CLASSES).filter(|c| mask & (1 << c) == 0) {
            let next = &mut best[mask | 1 << class];
            *next = Some(next.unwrap_or(0).max(got + counts[row][class]));
        }
    }
    (0..1usize << CLASSES)
        .filter(|m| m.count_ones() as usize == counts.len())
        .filter_map(|m| best[m])
        .max()
        .unwrap_or(0)
}

pub fn eval(args: EvalArgs, device: &DeviceSettings) -> Result<()> {
    if let (Some(real), Some(samples)) = (&args.table, &args.samples) {
        return table::eval_table(real, samples, args.json, args.modes);
    }
    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    if let Some(real) = &args.real {
        return eval_folder(&args, real, GpuContext::new(backend, device)?);
    }
    if args.samples.is_some() {
        return Err(Error::Config("--samples goes with --table or --real".into()));
    }
    let mut b = GpuBackend::new(GpuContext::new(backend, device)?)?;
    if let Some(c) = args.checkpoint.as_deref().filter(|c| samples::output_shape(c).ok() == Some(STACKED)) {
        return eval_stacked(&args, c, &mut b);
    }
    let (images, asked, what) = match (&args.checkpoint, &args.images) {
        (Some(c), _) => {
            let (images, asked) = samples::from_checkpoint(&mut b, c, args.n.unwrap_or(10000), args.seed, args.raw)?;
            (images, asked, format!("samples of {}", c.display()))
        }
        (None, Some(p)) => (samples::read_images(p)?, samples::Asked::Nothing, p.display().to_string()),
        (None, None) => return Err(Error::Config("give --checkpoint or --images".into())),
    };
    let mut clf = Classifier::bundled(&mut b, 500)?;
    let reference = Reference::new(&mut b, &mut clf)?;
    let scored = clf.score(&mut b, &images)?;
    let labels = match &asked {
        samples::Asked::Classes(l) => Some(l.as_slice()),
        _ => None,
    };
    let mut rows = vec![reference.score(&what, &scored, labels, args.seed)?];
    let codes = match &asked {
        samples::Asked::Codes(c) => Some(CodeReport::new(c, &scored.predicted())),
        _ => None,
    };
    if !args.no_reference {
        let train = mnist::train()?;
        let real = clf.score(&mut b, &to_signed(&train, scored.n.max(PR_SAMPLES)))?;
        rows.push(reference.score("real train (reference)", &real, None, args.seed)?);
    }
    if labels.is_some() {
        let test = mnist::test()?;
        let predicted = clf.score(&mut b, &to_signed(&test, test.count))?.predicted();
        let truth: Vec<usize> = test.labels.unwrap_or_default().iter().map(|&c| usize::from(c)).collect();
        rows[0].per_class_ceiling = Some(per_class_accuracy(&predicted, &truth));
    }
    if args.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r).expect("serialisable"));
        }
        if let Some(c) = &codes {
            println!("{}", serde_json::to_string(c).expect("serialisable"));
        }
    } else {
        print_table(&rows);
        if let Some(c) = &codes {
            eprint!("{}", c.text());
        }
        if let Some(w) = rows[0].collapse_warning(None) {
            eprintln!("warning: {w}");
        }
        if scored.n < 5000 {
            eprintln!("note: {} samples; FD and KID are biased upward below ~5000 (--n)", scored.n);
        }
    }
    Ok(())
}

/// A stacked-MNIST image: three digits as channels.
const STACKED: Shape = Shape(3, 28, 28);
/// Samples the stacked-MNIST modes are counted on, as PacGAN counts them.
pub const STACKED_SAMPLES: usize = 26000;

/// How many of stacked MNIST's 1000 modes (digit triples, each channel read by the bundled
/// classifier) a set of images covers.
#[derive(Clone, Debug, Serialize)]
pub struct ModeReport {
    pub what: String,
    pub n: usize,
    /// Modes with at least one sample.
    pub modes: usize,
    /// KL divergence of the modes' histogram to the uniform distribution over the 1000.
    pub kl_to_uniform: f64,
}

impl ModeReport {
    pub fn new(what: &str, clf: &mut Classifier<GpuBackend>, b: &mut GpuBackend, images: &[f32]) -> Result<Self> {
        let n = images.len() / STACKED.size();
        // Each channel as a digit of its own, in order: sample i's channel c is digit 3i + c.
        let digits = clf.score(b, images)?.predicted();
        let mut counts = vec![0usize; 1000];
        for d in digits.chunks_exact(3) {
            counts[100 * d[0] + 10 * d[1] + d[2]] += 1;
        }
        let kl = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let q = c as f64 / n as f64;
                q * (q * 1000.0).ln()
            })
            .sum();
        Ok(ModeReport { what: what.into(), n, modes: counts.iter().filter(|&&c| c > 0).count(), kl_to_uniform: kl })
    }
}

/// `eval --checkpoint` of a stacked-MNIST generator: the modes covered and their KL to uniform,
/// beside the real stacked images'.
fn eval_stacked(args: &EvalArgs, checkpoint: &Path, b: &mut GpuBackend) -> Result<()> {
    let n = args.n.unwrap_or(STACKED_SAMPLES);
    let (images, _, _) = samples::draw(b, checkpoint, n, args.seed, args.raw)?;
    let mut clf = Classifier::bundled(b, 500)?;
    let mut rows = vec![ModeReport::new(&format!("samples of {}", checkpoint.display()), &mut clf, b, &images)?];
    if !args.no_reference {
        let real = crate::data::mnist::stacked(n)?;
        rows.push(ModeReport::new("real stacked MNIST (reference)", &mut clf, b, &to_signed(&real, n))?);
    }
    for r in &rows {
        if args.json {
            println!("{}", serde_json::to_string(r).expect("serialisable"));
        } else {
            println!(
                "{}: {} samples cover {} of 1000 modes, KL to uniform {:.3}",
                r.what, r.n, r.modes, r.kl_to_uniform
            );
        }
    }
    Ok(())
}

/// `eval --real FOLDER`: the two-sample measures of `--samples` (or a checkpoint's samples)
/// against the folder, read at the samples' size and channels.
fn eval_folder(args: &EvalArgs, real: &Path, ctx: std::sync::Arc<GpuContext>) -> Result<()> {
    let mut b = GpuBackend::new(ctx)?;
    let samples = match (&args.samples, &args.checkpoint) {
        (Some(p), _) => samples_from_files(p)?,
        (None, Some(c)) => {
            let n = args.n.unwrap_or(two_sample::MAX_PER_SIDE);
            let (values, shape, _) = samples::draw(&mut b, c, n, args.seed, args.raw)?;
            two_sample::ImageBatch { values, shape }
        }
        (None, None) => return Err(Error::Config("--real needs --samples or --checkpoint".into())),
    };
    let Shape(c, h, w) = samples.shape;
    if h != w {
        return Err(Error::Config(format!("samples of {h}x{w}: the real folder is read square")));
    }
    let o = FolderOptions { skip_bad: true, crop: args.crop, ..FolderOptions::new(h, Some(c)) };
    let set = folder::read_folder_with(real, &o)?;
    let real = two_sample::ImageBatch { values: to_signed(&set, set.count), shape: samples.shape };
    let report = two_sample::compare(&mut b, &real, &samples, args.seed)?;
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        println!("{}", report.text());
    }
    Ok(())
}

/// Generated images from a folder (their own size and channels, as the first image has them)
/// or a .npy array [n, c, h, w].
fn samples_from_files(path: &Path) -> Result<two_sample::ImageBatch> {
    if path.is_dir() {
        let first = folder::first_image_shape(path)?;
        let set = folder::read_folder(path, first.1, Some(first.0))?;
        return Ok(two_sample::ImageBatch { values: to_signed(&set, set.count), shape: first });
    }
    let file = crate::data::npy::read(path)?;
    let shape = match file.shape()[..] {
        [_, c, h, w] => Shape(c, h, w),
        [_, h, w] => Shape(1, h, w),
        ref other => {
            return Err(Error::Data { path: path.into(), msg: format!("shape {other:?} is not [n, c, h, w]") });
        }
    };
    Ok(two_sample::ImageBatch { values: samples::read_npy(path, shape.size())?, shape })
}

#[cfg(test)]
mod tests {
    use super::CodeReport;

    #[test]
    fn a_code_is_scored_by_its_best_one_to_one_matching() {
        // Codes 0 and 1 both draw mostly 7s: one of them must be matched to another digit.
        let codes = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
        let predicted = [7, 7, 7, 1, 7, 7, 7, 3, 4, 4];
        let r = CodeReport::new(&codes, &predicted);
        assert_eq!(r.codes[0], (7, 0.75));
        assert_eq!(r.distinct_classes, 2);
        // Best: 0 → 7 (3), 1 → 3 (1) or 1 → 7 and 0 → 1 (1 + 3), 2 → 4 (2): 6 of 10.
        assert!((r.error - 0.4).abs() < 1e-12, "{}", r.error);
    }
}
