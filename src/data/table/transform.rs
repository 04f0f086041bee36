//! What G learns a column as, and the way back. Standardisation keeps a column's shape, so a
//! skewed or two-peaked column asks G to draw that shape from Gaussian noise through an MLP; the
//! quantile transform (the default) maps each column through its empirical CDF onto a standard
//! normal instead, so every column G draws is a plain bell curve and the shape is restored
//! exactly on the way back. Integer and categorical columns come back rounded to a whole number
//! and to one of their categories.

use serde::{Deserialize, Serialize};

use super::report::{column_stats, interpolate, unit};
use super::{ColumnKind, Table};

/// How columns are encoded for training (`--table-transform`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TransformKind {
    /// Empirical CDF, then the standard normal's inverse CDF.
    #[default]
    Quantile,
    /// (x − mean) / std.
    Standard,
}

/// One column's encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// `std` is never 0: a constant column maps to zeros rather than NaN.
    Standard { mean: f64, std: f64 },
    /// The column's quantiles at the levels (i + 0.5)/K, i < K: every value when the column has
    /// at most [`MAX_KNOTS`] rows (so training rows come back exactly).
    Quantile { knots: Vec<f64> },
}

/// Enough knots that interpolating between them moves a value by well under the noise of any
/// generated sample, few enough to keep a checkpoint's metadata small.
pub const MAX_KNOTS: usize = 1000;

/// A column's kind and encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnCoder {
    pub kind: ColumnKind,
    pub encoding: Encoding,
}

/// The generator's own marginal of each column, as quantile knots of its encoded outputs. G
/// learns every quantile-coded column as N(0, 1) but draws it a little too narrow or wide, most
/// visibly in a long tail, where a z-spread of 0.88 shrinks a log-normal's std by a fifth.
/// Decoding through G's empirical CDF instead of Φ maps what G draws back onto the column's own
/// quantiles (quantile mapping, as bias-corrected climate models do): monotone per column, so
/// G's ranks, and with them its joint structure, are unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The checkpoint's net the knots were drawn from ("g_ema" or "g"): another net's marginals
    /// differ, so `sample --raw` decodes through Φ when they were fitted on the moving average.
    pub net: String,
    pub knots: Vec<Vec<f64>>,
}

/// Rows of G drawn to calibrate on: a level's noise is about 1/√n of its share, well under
/// the 5000-row tables' own.
pub const CALIBRATION_ROWS: usize = 20000;

impl Calibration {
    /// From the encoded rows of `net`, row-major with `cols` columns.
    pub fn fit(net: &str, rows: &[f32], cols: usize) -> Self {
        let column = |c: usize| rows.iter().skip(c).step_by(cols).map(|&v| v as f64).collect();
        Calibration { net: net.into(), knots: (0..cols).map(|c| knots(column(c))).collect() }
    }

    /// The level in (0, 1) of `v` among G's outputs for column `c`; G's extremes map to its
    /// outermost knots' levels, as Φ's tails clamp to the column's outermost knots.
    fn level(&self, c: usize, v: f64) -> f64 {
        let k = &self.knots[c];
        let i = k.partition_point(|&x| x < v);
        let t = match i {
            0 => 0.0,
            i if i == k.len() => (k.len() - 1) as f64,
            i => {
                let (lo, hi) = (k[i - 1], k[i]);
                (i - 1) as f64 + if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
            }
        };
        (t + 0.5) / k.len() as f64
    }
}

/// Every column's coder, in column order; saved in the checkpoint so `sample` decodes alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableCoder {
    pub columns: Vec<ColumnCoder>,
}

impl TableCoder {
    pub fn fit(t: &Table, how: TransformKind) -> Self {
        let cols = t.columns.len();
        let stats = column_stats(&t.values, cols);
        let columns = (0..cols)
            .map(|c| {
                let encoding = match how {
                    TransformKind::Standard => Encoding::Standard { mean: stats.mean[c], std: unit(stats.std[c]) },
                    TransformKind::Quantile => {
                        Encoding::Quantile { knots: knots(t.values.chunks_exact(cols).map(|row| row[c]).collect()) }
                    }
                };
                ColumnCoder { kind: t.kinds[c].clone(), encoding }
            })
            .collect();
        TableCoder { columns }
    }

    /// A coder that only standardises, for checkpoints written before column kinds existed.
    pub fn standard(mean: &[f64], std: &[f64]) -> Self {
        let columns = mean
            .iter()
            .zip(std)
            .map(|(&mean, &std)| ColumnCoder { kind: ColumnKind::Real, encoding: Encoding::Standard { mean, std } })
            .collect();
        TableCoder { columns }
    }

    pub fn kinds(&self) -> Vec<ColumnKind> {
        self.columns.iter().map(|c| c.kind.clone()).collect()
    }

    /// The table's rows as G learns them, row-major f32. A quantile-coded value is placed by its
    /// rank: tied values (integers, categories) are spread evenly over their share of (0, 1) in
    /// a fixed pseudo-random order, so G sees a continuous normal there too.
    pub fn encode(&self, t: &Table) -> Vec<f32> {
        let cols = self.columns.len();
        let mut out = vec![0.0f32; t.rows * cols];
        for (c, coder) in self.columns.iter().enumerate() {
            let column = t.values.iter().skip(c).step_by(cols).copied();
            match &coder.encoding {
                Encoding::Standard { mean, std } => {
                    column.enumerate().for_each(|(r, x)| out[r * cols + c] = ((x - mean) / std) as f32);
                }
                Encoding::Quantile { .. } => {
                    let values: Vec<f64> = column.collect();
                    let mut order: Vec<usize> = (0..values.len()).collect();
                    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(mix(a).cmp(&mix(b))));
                    let n = values.len() as f64;
                    for (rank, &r) in order.iter().enumerate() {
                        out[r * cols + c] = normal_quantile((rank as f64 + 0.5) / n) as f32;
                    }
                }
            }
        }
        out
    }

    /// Generated rows back in the table's units: whole numbers for integer columns, category
    /// indices for categorical ones; quantile-coded columns through G's own marginal when
    /// `calibration` holds it. A trailing partial row is dropped.
    pub fn decode(&self, z: &[f32], calibration: Option<&Calibration>) -> Vec<f64> {
        let cols = self.columns.len().max(1);
        let whole = z.len() / cols * cols;
        z[..whole]
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let coder = &self.columns[i % cols];
                let x = match &coder.encoding {
                    Encoding::Standard { mean, std } => v as f64 * std + mean,
                    Encoding::Quantile { knots } => {
                        let level = match calibration {
                            Some(g) => g.level(i % cols, v as f64),
                            None => normal_cdf(v as f64),
                        };
                        interpolate(knots, level * knots.len() as f64 - 0.5)
                    }
                };
                match &coder.kind {
                    ColumnKind::Real => x,
                    ColumnKind::Integer => x.round(),
                    ColumnKind::Categorical(names) => x.round().clamp(0.0, names.len().saturating_sub(1) as f64),
                }
            })
            .collect()
    }
}

/// The quantiles at levels (i + 0.5)/K of `values` (K = min(rows, MAX_KNOTS)), interpolating
/// between the sorted values; with K = rows they are the sorted values themselves.
fn knots(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let (n, k) = (values.len(), values.len().clamp(1, MAX_KNOTS));
    (0..k).map(|i| interpolate(&values, (i as f64 + 0.5) / k as f64 * n as f64 - 0.5)).collect()
}

/// SplitMix64's finaliser: a fixed pseudo-random order for tied values that does not follow the
/// file's row order (which may itself be sorted by another column).
fn mix(i: usize) -> u64 {
    let mut x = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The standard normal CDF Φ.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error 1.2e-9), polished by
/// one Halley step on the exact CDF to full double precision.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.69683028665376,
        220.9460984245205,
        -275.9285104469687,
        138.357751867269,
        -30.66479806614716,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
    const C: [f64; 6] = [
        -0.007784894002430293,
        -0.3223964580411365,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let p = p.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0);
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - 0.02425 {
        let (q, r) = (p - 0.5, (p - 0.5) * (p - 0.5));
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kinds: Vec<ColumnKind>, values: Vec<f64>) -> Table {
        let cols = kinds.len();
        let columns = (0..cols).map(|c| format!("c{c}")).collect();
        Table { columns, kinds, rows: values.len() / cols, values }
    }

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-12);
        assert!((normal_quantile(0.5)).abs() < 1e-15);
        // Up to z = 5: above, 1 − Φ(z) has too few significant bits left in an f64.
        for k in -80..=50 {
            let z = k as f64 / 10.0;
            let back = normal_quantile(normal_cdf(z));
            assert!((back - z).abs() < 1e-9 * (1.0 + z.abs()), "{z} -> {back}");
        }
    }

    /// Skewed, two-peaked, integer and categorical columns: every training row comes back
    /// exactly under both transforms (real columns to the rounding of the f32 that G sees:
    /// 1e-5 of the column's range, reached across the gap between two peaks).
    #[test]
    fn encode_then_decode_round_trips() {
        let cats = ColumnKind::Categorical(vec!["a".into(), "b".into(), "c".into()]);
        let kinds = vec![ColumnKind::Real, ColumnKind::Real, ColumnKind::Integer, cats];
        let rows = 997;
        let values: Vec<f64> = (0..rows)
            .flat_map(|r| {
                let u = (mix(r) >> 11) as f64 / (1u64 << 53) as f64;
                let skewed = (3.0 * u).exp();
                let peaks = if r % 3 == 0 { -5.0 + u } else { 7.0 + 2.0 * u };
                [skewed, peaks, (r % 7) as f64 * 10.0, (r % 3 == 1) as u8 as f64 + (r % 5 == 0) as u8 as f64]
            })
            .collect();
        let t = table(kinds, values);
        let range = |c: usize| {
            let col = t.values.iter().skip(c).step_by(4);
            col.clone().fold(f64::MIN, |a, &b| a.max(b)) - col.fold(f64::MAX, |a, &b| a.min(b))
        };
        for how in [TransformKind::Quantile, TransformKind::Standard] {
            let coder = TableCoder::fit(&t, how);
            let z = coder.encode(&t);
            let back = coder.decode(&z, None);
            for (i, (&b, &v)) in back.iter().zip(&t.values).enumerate() {
                let tol = if i % 4 < 2 { 1e-5 * range(i % 4) } else { 0.0 };
                assert!((b - v).abs() <= tol, "{how:?} row {} column {}: {b} vs {v}", i / 4, i % 4);
            }
        }
        let quantile = TableCoder::fit(&t, TransformKind::Quantile).encode(&t);
        let mean = quantile.iter().step_by(4).map(|&v| v as f64).sum::<f64>() / rows as f64;
        let var = quantile.iter().step_by(4).map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / rows as f64;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 0.01, "the skewed column becomes N(0, 1): {mean} {var}");
    }

    #[test]
    fn decode_stays_inside_the_data_and_rounds() {
        let t = table(
            vec![ColumnKind::Real, ColumnKind::Integer],
            (0..5000).flat_map(|r| [r as f64, (r % 4) as f64]).collect(),
        );
        let coder = TableCoder::fit(&t, TransformKind::Quantile);
        let Encoding::Quantile { knots } = &coder.columns[0].encoding else { panic!() };
        assert_eq!(knots.len(), MAX_KNOTS);
        let back = coder.decode(&[-40.0, 0.3, 0.0, 1.2, 40.0, -1.0], None);
        // The outermost knots are the 0.05% and 99.95% quantiles.
        assert_eq!((back[0], back[4]), (knots[0], knots[MAX_KNOTS - 1]), "far tails clamp to the knots");
        assert_eq!((knots[0], knots[MAX_KNOTS - 1]), (2.0, 4997.0));
        assert!((back[2] - 2499.5).abs() < 3.0, "the median: {}", back[2]);
        assert!([back[1], back[3], back[5]].iter().all(|v| v.fract() == 0.0 && (0.0..4.0).contains(v)));
    }

    /// A G that draws a log-normal column's codes too narrow and shifted (as EMA generators
    /// do) shrinks the decoded std through Φ; through its own marginal the column's mean and
    /// std come back, and the order of the rows (their ranks, hence G's joint structure) stays.
    #[test]
    fn calibrated_decode_restores_the_marginal_and_keeps_ranks() {
        let rows = 5000;
        let normal = |r: usize| normal_quantile(((mix(r) >> 11) as f64 + 0.5) / (1u64 << 53) as f64);
        let t = table(vec![ColumnKind::Real], (0..rows).map(|r| normal(r).exp()).collect());
        let coder = TableCoder::fit(&t, TransformKind::Quantile);
        let g: Vec<f32> = (0..20000).map(|r| (0.85 * normal(r + rows) + 0.1) as f32).collect();
        let moments = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt())
        };
        let (mean, std) = moments(&t.values);
        let (raw_mean, raw_std) = moments(&coder.decode(&g, None));
        assert!(raw_std / std < 0.85, "the premise: a narrow G shrinks the column ({raw_std} vs {std})");
        let calibration = Calibration::fit("g", &g, 1);
        let back = coder.decode(&g, Some(&calibration));
        let (cal_mean, cal_std) = moments(&back);
        assert!(
            (cal_mean - mean).abs() < 0.03 * std && (cal_std / std - 1.0).abs() < 0.05,
            "calibrated: mean {cal_mean} std {cal_std} against {mean} {std} (raw {raw_mean} {raw_std})"
        );
        let mut by_g: Vec<usize> = (0..g.len()).collect();
        by_g.sort_by(|&a, &b| g[a].total_cmp(&g[b]));
        assert!(by_g.windows(2).all(|w| back[w[0]] <= back[w[1]]), "decoding is monotone in G's output");
    }
}
