//! `eval --table real.csv --samples gen.csv`: the table report for rows made by any tool.

use std::path::Path;

use super::modes::mode_report;
use crate::data::table::report::TableReport;
use crate::data::table::{self, ColumnKind, Declared, Table};
use crate::error::{Error, Result};

pub fn eval_table(real: &Path, samples: &Path, json: bool, modes: Option<usize>) -> Result<()> {
    let real = table::read_csv(real)?;
    let fake = read_like(samples, &real)?;
    if let Some(k) = modes.filter(|&k| k == 0 || k > real.rows) {
        return Err(Error::Config(format!("--modes {k}: between 1 and the real table's {} rows", real.rows)));
    }
    let report = TableReport::new(&real.columns, &real.kinds, &real.values, &fake);
    let modes = modes.map(|k| mode_report(&real.kinds, &real.values, &fake, k));
    if json {
        let mut value = serde_json::to_value(&report).expect("a report serialises");
        if let Some(m) = &modes {
            value["modes"] = serde_json::to_value(m).expect("a report serialises");
        }
        println!("{value}");
    } else {
        print!("{}", report.text());
        if let Some(m) = &modes {
            print!("\n{}", m.text());
        }
    }
    Ok(())
}

/// `path`'s rows in `like`'s column order and category indices (a category `like` lacks gets
/// an index past its names, so it counts against every share).
fn read_like(path: &Path, like: &Table) -> Result<Vec<f64>> {
    let declared: Vec<(String, Declared)> = like
        .columns
        .iter()
        .zip(&like.kinds)
        .map(|(name, kind)| {
            let kind = if matches!(kind, ColumnKind::Categorical(_)) { Declared::Categorical } else { Declared::Real };
            (name.clone(), kind)
        })
        .collect();
    let other = table::read_csv_with(path, |columns| {
        let missing: Vec<&str> = like.columns.iter().filter(|c| !columns.contains(c)).map(|c| c.as_str()).collect();
        if missing.is_empty() {
            Ok(declared)
        } else {
            let msg = format!("has no column {} of the real table", missing.join(", "));
            Err(Error::Data { path: path.to_path_buf(), msg })
        }
    })?;
    let cols = other.columns.len();
    let mut out = Vec::with_capacity(other.rows * like.columns.len());
    let map: Vec<(usize, Option<Vec<f64>>)> = like
        .columns
        .iter()
        .zip(&like.kinds)
        .map(|(name, kind)| {
            let at = other.columns.iter().position(|c| c == name).expect("checked above");
            let recode = match (kind, &other.kinds[at]) {
                (ColumnKind::Categorical(names), ColumnKind::Categorical(theirs)) => Some(
                    theirs.iter().map(|t| names.iter().position(|n| n == t).unwrap_or(names.len()) as f64).collect(),
                ),
                _ => None,
            };
            (at, recode)
        })
        .collect();
    for row in other.values.chunks_exact(cols) {
        for (at, recode) in &map {
            out.push(match recode {
                Some(codes) => codes[row[*at] as usize],
                None => row[*at],
            });
        }
    }
    Ok(out)
}
