//! How close generated rows are to a real table: per column the mean, the spread, the quantiles
//! and a two-sample Kolmogorov–Smirnov statistic (and each category's share), and the gap between
//! the two correlation matrices. Written as `report.txt` and `report.json` every epoch, and
//! printed by `eval --table real.csv --samples gen.csv`.

use serde::Serialize;

use super::{ColumnKind, format_number};

/// Mean and population standard deviation of each column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// Stats of row-major `values` with `cols` columns; a trailing partial row is ignored.
pub fn column_stats(values: &[f64], cols: usize) -> ColumnStats {
    let (rows, n) = shape(values, cols);
    let mut mean = vec![0.0; cols];
    let mut var = vec![0.0; cols];
    for row in values.chunks_exact(cols.max(1)).take(rows) {
        mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x / n);
    }
    for row in values.chunks_exact(cols.max(1)).take(rows) {
        var.iter_mut().zip(row.iter().zip(&mean)).for_each(|(v, (&x, &m))| *v += (x - m).powi(2) / n);
    }
    ColumnStats { mean, std: var.into_iter().map(f64::sqrt).collect() }
}

/// Whole rows in `values`, and the same as a divisor that is never 0.
fn shape(values: &[f64], cols: usize) -> (usize, f64) {
    let rows = values.len().checked_div(cols).unwrap_or(0);
    (rows, rows.max(1) as f64)
}

/// Pearson correlation, `cols`×`cols` row-major. A constant column correlates 0 with the others
/// (rather than NaN) and 1 with itself, so reports and comparisons stay numeric.
pub fn correlation(values: &[f64], cols: usize) -> Vec<f64> {
    let (rows, _) = shape(values, cols);
    let mean = column_stats(values, cols).mean;
    let mut cov = vec![0.0; cols * cols];
    for row in values.chunks_exact(cols.max(1)).take(rows) {
        for i in 0..cols {
            for j in i..cols {
                cov[i * cols + j] += (row[i] - mean[i]) * (row[j] - mean[j]);
            }
        }
    }
    let mut r = vec![0.0; cols * cols];
    for i in 0..cols {
        for j in i..cols {
            let denom = (cov[i * cols + i] * cov[j * cols + j]).sqrt();
            let v = if i == j {
                1.0
            } else if denom > 0.0 && denom.is_finite() {
                (cov[i * cols + j] / denom).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            r[i * cols + j] = v;
            r[j * cols + i] = v;
        }
    }
    r
}

/// The two columns whose correlation is largest in magnitude ((0, 0) for a single column).
pub fn most_correlated(values: &[f64], cols: usize) -> (usize, usize) {
    let r = correlation(values, cols);
    let pairs = (0..cols).flat_map(|i| (i + 1..cols).map(move |j| (i, j)));
    pairs.max_by(|a, b| r[a.0 * cols + a.1].abs().total_cmp(&r[b.0 * cols + b.1].abs())).unwrap_or((0, 0))
}

/// Sorted copy of column `c`.
fn sorted_column(values: &[f64], cols: usize, c: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.chunks_exact(cols).map(|row| row[c]).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b| of two sorted samples.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut worst) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every copy of the smaller value on both sides, so ties count once.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        worst = worst.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    worst
}

/// The `p`-quantile of a sorted sample, interpolating between neighbours.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    interpolate(sorted, p.clamp(0.0, 1.0) * (sorted.len().max(1) - 1) as f64)
}

/// `sorted` read at the fractional position `t` (clamped to its ends), linearly between the two
/// neighbours; NaN when empty. Quantiles, a quantile coder's knots and its inverse all read so.
pub fn interpolate(sorted: &[f64], t: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else { return f64::NAN };
    let t = t.clamp(0.0, last as f64);
    let (lo, frac) = (t.floor() as usize, t.fract());
    let hi = (lo + 1).min(last);
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// One category's share of the real and the generated rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Share {
    pub category: String,
    pub real: f64,
    pub generated: f64,
}

/// One column, real against generated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnReport {
    pub name: String,
    pub kind: &'static str,
    pub real_mean: f64,
    pub generated_mean: f64,
    pub real_std: f64,
    pub generated_std: f64,
    /// |generated mean − real mean| in real standard deviations.
    pub mean_gap_std: f64,
    /// Generated std / real std.
    pub std_ratio: f64,
    /// Mean |quantile gap| over the levels 5%, 10%, …, 95%, in real standard deviations.
    pub quantile_gap_std: f64,
    /// The two-sample Kolmogorov–Smirnov statistic.
    pub ks: f64,
    /// Categorical columns: each category's share, and their total variation distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<Vec<Share>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_distance: Option<f64>,
}

/// The whole comparison, as `report.json` holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableReport {
    pub rows_real: usize,
    pub rows_generated: usize,
    pub columns: Vec<ColumnReport>,
    /// max |real − generated| over the correlation matrices' off-diagonal entries, and where.
    pub correlation_max_gap: f64,
    pub correlation_worst_pair: Option<(String, String)>,
    pub correlation_mean_gap: f64,
    pub real_correlation: Vec<f64>,
    pub generated_correlation: Vec<f64>,
}

/// A spread to divide by that is never 0 (a constant column's is 1).
pub(crate) fn unit(std: f64) -> f64 {
    if std > 0.0 && std.is_finite() { std } else { 1.0 }
}

fn column_report(name: &str, kind: &ColumnKind, real: &[f64], fake: &[f64]) -> ColumnReport {
    let stats = |v: &[f64]| column_stats(v, 1);
    let (r, f) = (stats(real), stats(fake));
    let (r_mean, f_mean, r_std, f_std) = (r.mean[0], f.mean[0], r.std[0], f.std[0]);
    let quantile_gap =
        (1..20).map(|k| (quantile(real, k as f64 / 20.0) - quantile(fake, k as f64 / 20.0)).abs()).sum::<f64>()
            / 19.0
            / unit(r_std);
    let shares = match kind {
        ColumnKind::Categorical(names) => Some(
            names
                .iter()
                .enumerate()
                .map(|(code, category)| {
                    let share = |v: &[f64]| {
                        v.iter().filter(|&&x| x.round() == code as f64).count() as f64 / v.len().max(1) as f64
                    };
                    Share { category: category.clone(), real: share(real), generated: share(fake) }
                })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let share_distance = shares.as_ref().map(|s| s.iter().map(|s| (s.real - s.generated).abs()).sum::<f64>() / 2.0);
    ColumnReport {
        name: name.to_string(),
        kind: match kind {
            ColumnKind::Real => "real",
            ColumnKind::Integer => "integer",
            ColumnKind::Categorical(_) => "categorical",
        },
        real_mean: r_mean,
        generated_mean: f_mean,
        real_std: r_std,
        generated_std: f_std,
        mean_gap_std: (f_mean - r_mean).abs() / unit(r_std),
        std_ratio: f_std / unit(r_std),
        quantile_gap_std: quantile_gap,
        ks: ks_statistic(real, fake),
        shares,
        share_distance,
    }
}

impl TableReport {
    /// Compares row-major `real` and `fake` rows of the same columns (categorical cells as indices
    /// into the same names).
    pub fn new(columns: &[String], kinds: &[ColumnKind], real: &[f64], fake: &[f64]) -> Self {
        let cols = columns.len();
        let per_column = (0..cols)
            .map(|c| {
                let (r, f) = (sorted_column(real, cols, c), sorted_column(fake, cols, c));
                column_report(&columns[c], &kinds[c], &r, &f)
            })
            .collect();
        let (rc, fc) = (correlation(real, cols), correlation(fake, cols));
        let pairs: Vec<(usize, usize)> = (0..cols).flat_map(|i| (i + 1..cols).map(move |j| (i, j))).collect();
        let gap = |&(i, j): &(usize, usize)| (rc[i * cols + j] - fc[i * cols + j]).abs();
        let worst = pairs.iter().copied().max_by(|a, b| gap(a).total_cmp(&gap(b)));
        TableReport {
            rows_real: shape(real, cols).0,
            rows_generated: shape(fake, cols).0,
            columns: per_column,
            correlation_max_gap: worst.map_or(0.0, |p| gap(&p)),
            correlation_worst_pair: worst.map(|(i, j)| (columns[i].clone(), columns[j].clone())),
            correlation_mean_gap: pairs.iter().map(gap).sum::<f64>() / pairs.len().max(1) as f64,
            real_correlation: rc,
            generated_correlation: fc,
        }
    }

    /// One line: the worst column by each measure, and the worst correlation gap.
    pub fn summary(&self) -> String {
        let worst = |f: &dyn Fn(&ColumnReport) -> f64| self.columns.iter().map(f).fold(0.0, f64::max);
        format!(
            "worst column: mean gap {:.2} std, std ratio off by {:.2}, KS {:.3}; correlation gap {:.2}",
            worst(&|c| c.mean_gap_std),
            worst(&|c| (c.std_ratio - 1.0).abs()),
            worst(&|c| c.ks),
            self.correlation_max_gap
        )
    }

    /// The plain-text report: a row per column, category shares, then the correlations.
    pub fn text(&self) -> String {
        let w = self.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).max(6);
        let mut out = format!("rows: real {}, generated {}\n\n", self.rows_real, self.rows_generated);
        out += &format!(
            "{:<w$}  {:>11}  {:>11}  {:>11}  {:>11}  {:>9}  {:>9}  {:>9}  {:>6}\n",
            "column", "real mean", "gen mean", "real std", "gen std", "mean gap", "std ratio", "quant gap", "KS"
        );
        for c in &self.columns {
            let cells = [c.real_mean, c.generated_mean, c.real_std, c.generated_std].map(format_number);
            out += &format!(
                "{:<w$}  {:>11}  {:>11}  {:>11}  {:>11}  {:>9.3}  {:>9.3}  {:>9.3}  {:>6.3}\n",
                c.name, cells[0], cells[1], cells[2], cells[3], c.mean_gap_std, c.std_ratio, c.quantile_gap_std, c.ks
            );
        }
        out += "(gaps in real standard deviations; quant gap: mean over the 5%..95% quantiles)\n";
        for c in self.columns.iter().filter(|c| c.shares.is_some()) {
            out += &format!("\n{} shares (real / generated), distance {:.3}:", c.name, c.share_distance.unwrap_or(0.0));
            for s in c.shares.iter().flatten() {
                out += &format!(" {} {:.3}/{:.3}", s.category, s.real, s.generated);
            }
            out += "\n";
        }
        out + &self.correlation_text()
    }

    fn correlation_text(&self) -> String {
        let cols = self.columns.len();
        let Some((a, b)) = &self.correlation_worst_pair else {
            return "\ncorrelation: needs at least 2 columns\n".into();
        };
        let pairs = cols * (cols - 1) / 2;
        let mut out = format!(
            "\ncorrelation |real - generated|: max {:.3} ({a} × {b}), mean {:.3} over {pairs} pairs\n",
            self.correlation_max_gap, self.correlation_mean_gap
        );
        if cols <= 8 {
            let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
            out += &matrix("real correlation", &names, &self.real_correlation);
            out += &matrix("generated correlation", &names, &self.generated_correlation);
        }
        out
    }
}

fn matrix(title: &str, columns: &[String], r: &[f64]) -> String {
    let short = |c: &String| c.chars().take(8).collect::<String>();
    let w = columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut out = format!("\n{title}:\n{:<w$}", "");
    columns.iter().for_each(|c| out += &format!("  {:>8}", short(c)));
    for (i, name) in columns.iter().enumerate() {
        out += &format!("\n{name:<w$}");
        r[i * columns.len()..(i + 1) * columns.len()].iter().for_each(|v| out += &format!("  {v:>8.3}"));
    }
    out + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn correlation_of_linked_and_constant_columns() {
        let values: Vec<f64> = (0..10).flat_map(|i| [i as f64, 3.0 * i as f64 + 1.0, -(i as f64), 5.0]).collect();
        let r = correlation(&values, 4);
        let expect = [[1.0, 1.0, -1.0, 0.0], [1.0, 1.0, -1.0, 0.0], [-1.0, -1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        for (got, want) in r.iter().zip(expect.iter().flatten()) {
            assert!((got - want).abs() < 1e-12, "{r:?}");
        }
    }

    #[test]
    fn ks_and_quantiles() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 25.0).collect();
        assert_eq!(ks_statistic(&a, &a), 0.0);
        assert!((ks_statistic(&a, &shifted) - 0.25).abs() < 1e-12);
        assert_eq!(ks_statistic(&[0.0, 0.0, 1.0], &[0.0, 1.0, 1.0]), 1.0 / 3.0);
        assert_eq!(quantile(&a, 0.5), 49.5);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn report_lists_columns_shares_and_worst_pair() {
        let columns = names(&["a", "b", "c"]);
        let kinds = [ColumnKind::Real, ColumnKind::Real, ColumnKind::Categorical(names(&["x", "y"]))];
        let real: Vec<f64> = (0..10).flat_map(|i| [i as f64, i as f64, (i % 2) as f64]).collect();
        let fake: Vec<f64> = (0..10).flat_map(|i| [i as f64, -(i as f64), 0.0]).collect();
        let report = TableReport::new(&columns, &kinds, &real, &fake);
        let text = report.text();
        assert!(text.starts_with("rows: real 10, generated 10\n"), "{text}");
        assert!(text.contains("max 2.000 (a × b)"), "{text}");
        assert!(text.contains("c shares (real / generated), distance 0.500: x 0.500/1.000 y 0.500/0.000"), "{text}");
        assert!(text.contains("generated correlation:"), "{text}");
        let a = &report.columns[0];
        assert_eq!((a.mean_gap_std, a.std_ratio, a.ks, a.quantile_gap_std), (0.0, 1.0, 0.0, 0.0));
        assert!((report.columns[1].mean_gap_std - 9.0 / 2.8722813232690143).abs() < 1e-9);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["columns"][2]["share_distance"], 0.5);
        assert!(json["columns"][0].get("shares").is_none());
        let one = TableReport::new(&names(&["a"]), &[ColumnKind::Real], &[1.0, 2.0], &[1.0]);
        assert!(one.text().contains("needs at least 2 columns"));
    }
}
