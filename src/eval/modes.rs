//! `eval --table real.csv --samples gen.csv --modes K`: the mode-collapse measure of the
//! unrolled-GAN and VEEGAN papers for any table whose rows form clusters. The real rows' K modes
//! are found by k-means on the numeric columns (each divided by its real std); a row is on a mode
//! when it lies within 3σ of the nearest centre (σ: that mode's real spread per dimension), and a
//! mode is kept when at least a quarter of its fair share of generated rows lies on it.

use serde::Serialize;

use crate::data::table::ColumnKind;
use crate::data::table::report::{column_stats, unit};
use crate::ops::random::reference::{bits, unit_float};

/// Restarts of k-means from different seeds; the lowest within-mode spread wins.
const RESTARTS: u64 = 10;
const ITERATIONS: usize = 100;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModeReport {
    pub modes: usize,
    /// Modes holding at least a quarter of their fair share of generated rows within 3σ.
    pub modes_kept: usize,
    /// Shares of rows within 3σ of their nearest mode.
    pub generated_on_modes: f64,
    pub real_on_modes: f64,
    /// Generated rows on each mode, in the order of the modes' real sizes (largest first).
    pub generated_per_mode: Vec<usize>,
}

/// The modes of row-major `real` (`kinds` per column; categorical columns are left out) and how
/// `fake` covers them.
pub fn mode_report(kinds: &[ColumnKind], real: &[f64], fake: &[f64], k: usize) -> ModeReport {
    let cols = kinds.len();
    let stats = column_stats(real, cols);
    let numeric: Vec<usize> = (0..cols).filter(|&c| !matches!(kinds[c], ColumnKind::Categorical(_))).collect();
    let scaled = |rows: &[f64]| -> Vec<Vec<f64>> {
        rows.chunks_exact(cols)
            .map(|r| numeric.iter().map(|&c| (r[c] - stats.mean[c]) / unit(stats.std[c])).collect())
            .collect()
    };
    let (real, fake) = (scaled(real), scaled(fake));
    let centres = (0..RESTARTS)
        .map(|seed| kmeans(&real, k, seed))
        .min_by(|a, b| inertia(&real, a).total_cmp(&inertia(&real, b)))
        .expect("at least one restart");
    let dims = numeric.len().max(1) as f64;
    let mut sizes = vec![0usize; k];
    let mut spread = vec![0.0; k];
    for p in &real {
        let (m, d2) = nearest(&centres, p);
        sizes[m] += 1;
        spread[m] += d2;
    }
    let sigma: Vec<f64> = (0..k).map(|m| (spread[m] / (sizes[m].max(1) as f64 * dims)).sqrt()).collect();
    let on_modes = |rows: &[Vec<f64>]| {
        let mut per = vec![0usize; k];
        for p in rows {
            let (m, d2) = nearest(&centres, p);
            if d2.sqrt() <= 3.0 * sigma[m] {
                per[m] += 1;
            }
        }
        per
    };
    let (real_on, fake_on) = (on_modes(&real), on_modes(&fake));
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&m| std::cmp::Reverse(sizes[m]));
    let share = |per: &[usize], n: usize| per.iter().sum::<usize>() as f64 / n.max(1) as f64;
    let fair = |m: usize| fake.len() as f64 * sizes[m] as f64 / real.len().max(1) as f64;
    ModeReport {
        modes: k,
        modes_kept: (0..k).filter(|&m| fake_on[m] as f64 >= fair(m) / 4.0 && fake_on[m] > 0).count(),
        generated_on_modes: share(&fake_on, fake.len()),
        real_on_modes: share(&real_on, real.len()),
        generated_per_mode: order.iter().map(|&m| fake_on[m]).collect(),
    }
}

impl ModeReport {
    pub fn text(&self) -> String {
        format!(
            "modes (k-means on the real rows): {} of {} kept; {:.1}% of generated rows within 3σ of a mode \
             (real: {:.1}%); generated rows per mode: {:?}\n",
            self.modes_kept,
            self.modes,
            100.0 * self.generated_on_modes,
            100.0 * self.real_on_modes,
            self.generated_per_mode
        )
    }
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centre and the squared distance to it.
fn nearest(centres: &[Vec<f64>], p: &[f64]) -> (usize, f64) {
    centres.iter().map(|c| distance2(c, p)).enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0))
}

fn inertia(points: &[Vec<f64>], centres: &[Vec<f64>]) -> f64 {
    points.iter().map(|p| nearest(centres, p).1).sum()
}

/// A uniform in [0, 1) from (seed, counter): the project's counter-based generator.
fn uniform(seed: u64, i: u64) -> f64 {
    unit_float(bits(seed, 0, i)[0]) as f64
}

/// Lloyd's algorithm from k-means++ seeding (Arthur & Vassilvitskii 2007).
fn kmeans(points: &[Vec<f64>], k: usize, seed: u64) -> Vec<Vec<f64>> {
    let n = points.len();
    if n == 0 {
        return vec![Vec::new(); k];
    }
    let mut centres = vec![points[(uniform(seed, 0) * n as f64) as usize].clone()];
    while centres.len() < k {
        let d2: Vec<f64> = points.iter().map(|p| nearest(&centres, p).1).collect();
        let total: f64 = d2.iter().sum();
        let mut target = uniform(seed, centres.len() as u64) * total;
        let pick = d2.iter().position(|&d| {
            target -= d;
            target <= 0.0
        });
        centres.push(points[pick.unwrap_or(n - 1)].clone());
    }
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..ITERATIONS {
        let mut changed = false;
        for (a, p) in assignment.iter_mut().zip(points) {
            let m = nearest(&centres, p).0;
            changed |= *a != m;
            *a = m;
        }
        if !changed {
            break;
        }
        for (m, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> =
                points.iter().zip(&assignment).filter(|(_, a)| **a == m).map(|(p, _)| p).collect();
            if !members.is_empty() {
                for (d, v) in centre.iter_mut().enumerate() {
                    *v = members.iter().map(|p| p[d]).sum::<f64>() / members.len() as f64;
                }
            }
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::random::reference::standard_normal;

    /// Eight Gaussians on a circle (the ring): the real rows sit on their modes as a Gaussian
    /// does (98.9% within 3σ in 2-D), rows between the modes do not count, and a generator that
    /// drops three modes keeps five.
    #[test]
    fn finds_the_rings_modes_and_counts_what_covers_them() {
        let normal = |i: u64| standard_normal(bits(7, 0, i)) as f64;
        let ring = |rows: usize, modes: usize, offset: u64| -> Vec<f64> {
            (0..rows)
                .flat_map(|r| {
                    let a = 2.0 * std::f64::consts::PI * (r % modes) as f64 / 8.0;
                    let i = offset + r as u64;
                    [2.0 * a.cos() + 0.05 * normal(2 * i), 2.0 * a.sin() + 0.05 * normal(2 * i + 1)]
                })
                .collect()
        };
        let kinds = [ColumnKind::Real, ColumnKind::Real];
        let real = ring(4000, 8, 0);
        let same = mode_report(&kinds, &real, &ring(2000, 8, 10_000), 8);
        assert_eq!(same.modes_kept, 8);
        assert!((same.real_on_modes - 0.989).abs() < 0.01, "{same:?}");
        assert!((same.generated_on_modes - 0.989).abs() < 0.015, "{same:?}");
        // Five of the eight modes, and as many rows again halfway between neighbouring modes.
        let mut five = ring(1000, 5, 20_000);
        five.extend((0..1000).flat_map(|r| {
            let a = 2.0 * std::f64::consts::PI * ((r % 8) as f64 + 0.5) / 8.0;
            [2.0 * a.cos(), 2.0 * a.sin()]
        }));
        let collapsed = mode_report(&kinds, &real, &five, 8);
        assert_eq!(collapsed.modes_kept, 5, "{collapsed:?}");
        assert!((collapsed.generated_on_modes - 0.5).abs() < 0.02, "{collapsed:?}");
    }
}
