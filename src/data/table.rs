//! A CSV table of numeric columns: reading it strictly, standardising it for training, writing
//! generated rows back, and a plain-text report comparing real and generated rows.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Numeric rows with named columns, `values` row-major (`rows` × `columns.len()`).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: usize,
    pub values: Vec<f64>,
}

/// Fewer rows leave no spread to learn from (and no standard deviation to scale by).
const MIN_ROWS: usize = 2;

/// Reads a CSV file whose first line names the columns and every other cell is a finite number.
/// Errors name the line (as an editor numbers it, header = line 1) and the column.
pub fn read_csv(path: &Path) -> Result<Table> {
    let text = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(&text[..]);
    let bad = |msg: String| Error::Data { path: path.to_path_buf(), msg };
    let at =
        |pos: Option<&csv::Position>, detail: String| bad(format!("line {}{detail}", line_of(&text, pos)));
    let head = reader.headers().map_err(|e| at(e.position(), format!(": {e}")))?.clone();
    let columns = header(&head).map_err(|detail| at(head.position(), detail))?;
    if columns.is_empty() {
        return Err(bad("empty file: no header and no data rows".into()));
    }
    let mut values = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position(), format!(": {e}")))?;
        parse_row(&record, &columns, &mut values).map_err(|detail| at(record.position(), detail))?;
        rows += 1;
    }
    match rows {
        0 => Err(bad("no data rows; the file needs a header line and at least 2 rows of numbers".into())),
        1 => Err(bad(format!("only 1 data row; at least {MIN_ROWS} are needed"))),
        _ => Ok(Table { columns, rows, values }),
    }
}

/// The 1-based line a record starts on. The csv crate's own line count is off after blank lines
/// and CRLF endings, and its byte offset points before the blank lines it skipped, so this skips
/// those and counts line breaks (`\n`, `\r\n` or a lone `\r`) in the raw text itself. Only called
/// on errors, so the linear scan costs nothing on good files.
fn line_of(text: &[u8], pos: Option<&csv::Position>) -> usize {
    let start = pos.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX)).min(text.len());
    let skip = text[start..].iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
    let breaks = text[..start + skip]
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}

/// Column names from the header, which must be non-empty and unique; an empty header (an empty
/// file) gives no columns. Errors are the text after "line N".
fn header(record: &csv::StringRecord) -> std::result::Result<Vec<String>, String> {
    if record.is_empty() {
        return Ok(Vec::new());
    }
    let mut columns: Vec<String> = Vec::with_capacity(record.len());
    for (i, name) in record.iter().enumerate() {
        if name.is_empty() {
            return Err(format!(": header column {} has no name; name every column", i + 1));
        }
        if columns.iter().any(|c| c == name) {
            return Err(format!(": header names column '{name}' twice; column names must be unique"));
        }
        columns.push(name.to_string());
    }
    Ok(columns)
}

/// Appends one record's numbers to `values`, or says which cell is wrong (the text after "line N").
fn parse_row(
    record: &csv::StringRecord,
    columns: &[String],
    values: &mut Vec<f64>,
) -> std::result::Result<(), String> {
    if record.len() != columns.len() {
        let plural = if record.len() == 1 { "" } else { "s" };
        return Err(format!(" has {} field{plural}, the header {}", record.len(), columns.len()));
    }
    for (cell, name) in record.iter().zip(columns) {
        if cell.is_empty() {
            return Err(format!(", column '{name}': missing value"));
        }
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => values.push(v),
            Ok(_) => return Err(format!(", column '{name}': '{cell}' is not a finite number")),
            Err(_) => return Err(format!(", column '{name}': '{cell}' is not a number")),
        }
    }
    Ok(())
}

/// Writes a header and row-major `values` to `path` through a temporary file, so a crash or a
/// full disk never leaves a half-written table where a good one was. Non-finite values are
/// written as `NaN`/`inf` (visible, and rejected by [`read_csv`]) rather than hidden.
pub fn write_csv(path: &Path, columns: &[String], values: &[f64]) -> Result<()> {
    if columns.is_empty() || !values.len().is_multiple_of(columns.len()) {
        let msg = format!("{} values do not fill rows of {} columns", values.len(), columns.len());
        return Err(Error::Data { path: path.to_path_buf(), msg });
    }
    let bytes = csv_bytes(columns, values).map_err(|e| Error::Data { path: path.to_path_buf(), msg: e })?;
    let tmp = temp_path(path);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}

fn csv_bytes(columns: &[String], values: &[f64]) -> std::result::Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).map_err(|e| e.to_string())?;
    for row in values.chunks_exact(columns.len()) {
        w.write_record(row.iter().map(|&v| format_number(v))).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// `name.csv` → `name.csv.tmp` beside it, so the final rename stays on one file system.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Six significant digits, the shortest text that reads back as that rounded value: generated
/// data carries no more precision than that, and files stay small and readable.
pub(crate) fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    let a = rounded.abs();
    if rounded == 0.0 {
        "0".into()
    } else if (1e-4..1e15).contains(&a) {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

/// Per-column shift and scale to zero mean, unit variance (population std).
#[derive(Clone, Debug, PartialEq)]
pub struct Standardiser {
    pub mean: Vec<f64>,
    /// Never 0: a constant column gets 1 so it maps to all zeros instead of NaN.
    pub std: Vec<f64>,
}

impl Standardiser {
    pub fn fit(t: &Table) -> Self {
        let ColumnStats { mean, std } = column_stats(&t.values, t.columns.len());
        let std = std.into_iter().map(|s| if s > 0.0 && s.is_finite() { s } else { 1.0 }).collect();
        Standardiser { mean, std }
    }

    /// `(x - mean) / std`, row-major, as f32 for the GPU.
    pub fn apply(&self, t: &Table) -> Vec<f32> {
        self.map(&t.values, |x, m, s| (x - m) / s).map(|v| v as f32).collect()
    }

    /// Generated standardised values back in the table's original units.
    pub fn invert(&self, z: &[f32]) -> Vec<f64> {
        self.map(z, |x, m, s| x * s + m).collect()
    }

    fn map<'a, T: Copy + Into<f64>>(
        &'a self,
        xs: &'a [T],
        f: impl Fn(f64, f64, f64) -> f64 + 'a,
    ) -> impl Iterator<Item = f64> + 'a {
        let cols = self.mean.len().min(self.std.len());
        let whole = xs.len().checked_div(cols).unwrap_or(0) * cols;
        xs[..whole]
            .iter()
            .enumerate()
            .map(move |(i, &x)| f(x.into(), self.mean[i % cols], self.std[i % cols]))
    }
}

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

/// A plain-text report comparing real and generated rows: per column mean and std of each side,
/// then the two correlation matrices' largest absolute difference and the mean absolute difference
/// (and the matrices themselves when cols <= 8). Returned as a String ready to print and write to a file.
pub fn compare_report(columns: &[String], real: &[f64], fake: &[f64]) -> String {
    let cols = columns.len();
    let (rows_real, _) = shape(real, cols);
    let (rows_fake, _) = shape(fake, cols);
    let mut out = format!("rows: real {rows_real}, generated {rows_fake}\n\n");
    out += &stats_section(columns, &column_stats(real, cols), &column_stats(fake, cols));
    out += &correlation_section(columns, &correlation(real, cols), &correlation(fake, cols));
    out
}

fn stats_section(columns: &[String], real: &ColumnStats, fake: &ColumnStats) -> String {
    let w = columns.iter().map(|c| c.chars().count()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "{:<w$}  {:>12}  {:>12}  {:>12}  {:>12}\n",
        "column", "real mean", "gen mean", "real std", "gen std"
    );
    for (i, name) in columns.iter().enumerate() {
        let cells = [real.mean[i], fake.mean[i], real.std[i], fake.std[i]].map(format_number);
        out +=
            &format!("{name:<w$}  {:>12}  {:>12}  {:>12}  {:>12}\n", cells[0], cells[1], cells[2], cells[3]);
    }
    out
}

fn correlation_section(columns: &[String], real: &[f64], fake: &[f64]) -> String {
    let cols = columns.len();
    let pairs: Vec<(usize, usize)> = (0..cols).flat_map(|i| (i + 1..cols).map(move |j| (i, j))).collect();
    if pairs.is_empty() {
        return "\ncorrelation: needs at least 2 columns\n".into();
    }
    let diff = |&(i, j): &(usize, usize)| (real[i * cols + j] - fake[i * cols + j]).abs();
    let mean = pairs.iter().map(diff).sum::<f64>() / pairs.len() as f64;
    let (worst, max) = pairs
        .iter()
        .map(|p| (p, diff(p)))
        .fold((pairs[0], 0.0), |best, (p, d)| if d > best.1 { (*p, d) } else { best });
    let mut out = format!(
        "\ncorrelation |real - generated|: max {max:.3} ({} × {}), mean {mean:.3} over {} pairs\n",
        columns[worst.0],
        columns[worst.1],
        pairs.len()
    );
    if cols <= 8 {
        out += &matrix("real correlation", columns, real);
        out += &matrix("generated correlation", columns, fake);
    }
    out
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

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("wgan-table-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.csv"));
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn err(contents: &str) -> String {
        let path = temp_file("bad", contents);
        match read_csv(&path) {
            Err(Error::Data { path: p, msg }) => {
                assert_eq!(p, path);
                msg
            }
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_trimmed_numbers() {
        let path = temp_file("ok", "a, b ,c\n1, 2.5 ,-3e2\n\n  4,5,6\n");
        let t = read_csv(&path).unwrap();
        assert_eq!(
            t,
            Table {
                columns: names(&["a", "b", "c"]),
                rows: 2,
                values: vec![1.0, 2.5, -300.0, 4.0, 5.0, 6.0]
            }
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let path = temp_file("round", "");
        let columns = names(&["x", "y, quoted", "z"]);
        let values = vec![0.1, -2.0, 1234567.891, 1e-7, 3.0e20, -0.0];
        write_csv(&path, &columns, &values).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "x,\"y, quoted\",z\n0.1,-2,1234570\n1e-7,3e20,0\n");
        let t = read_csv(&path).unwrap();
        assert_eq!((t.columns, t.rows), (columns, 2));
        assert_eq!(t.values, vec![0.1, -2.0, 1234570.0, 1e-7, 3e20, 0.0]);
        assert!(!temp_path(&path).exists());
        assert!(write_csv(&path, &names(&["a", "b"]), &[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn format_number_keeps_six_digits() {
        assert_eq!(format_number(std::f64::consts::PI), "3.14159");
        assert_eq!(format_number(-0.000123456789), "-0.000123457");
        assert_eq!(format_number(0.00001234), "1.234e-5");
        assert_eq!(format_number(42.0), "42");
    }

    #[test]
    fn standardise_and_invert_round_trip() {
        let t = Table { columns: names(&["a", "c"]), rows: 3, values: vec![1.0, 7.0, 2.0, 7.0, 3.0, 7.0] };
        let s = Standardiser::fit(&t);
        assert_eq!(s.mean, vec![2.0, 7.0]);
        assert_eq!(s.std[1], 1.0, "constant column gets std 1");
        let z = s.apply(&t);
        assert_eq!(z[1], 0.0);
        assert!((z[0] + z[4]).abs() < 1e-6 && (z[0] + 1.2247449).abs() < 1e-5);
        let back = s.invert(&z);
        back.iter().zip(&t.values).for_each(|(b, v)| assert!((b - v).abs() < 1e-5, "{b} vs {v}"));
        assert_eq!(s.invert(&[0.0; 3]).len(), 2, "a partial row is dropped");
    }

    #[test]
    fn correlation_of_linked_and_constant_columns() {
        let values: Vec<f64> =
            (0..10).flat_map(|i| [i as f64, 3.0 * i as f64 + 1.0, -(i as f64), 5.0]).collect();
        let r = correlation(&values, 4);
        let expect =
            [[1.0, 1.0, -1.0, 0.0], [1.0, 1.0, -1.0, 0.0], [-1.0, -1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        for (got, want) in r.iter().zip(expect.iter().flatten()) {
            assert!((got - want).abs() < 1e-12, "{r:?}");
        }
    }

    #[test]
    fn report_lists_columns_and_worst_pair() {
        let columns = names(&["a", "b"]);
        let real: Vec<f64> = (0..10).flat_map(|i| [i as f64, i as f64]).collect();
        let fake: Vec<f64> = (0..10).flat_map(|i| [i as f64, -(i as f64)]).collect();
        let report = compare_report(&columns, &real, &fake);
        assert!(report.starts_with("rows: real 10, generated 10\n"), "{report}");
        assert!(report.contains("max 2.000 (a × b), mean 2.000 over 1 pairs"), "{report}");
        assert!(report.contains("generated correlation:"), "{report}");
        assert!(compare_report(&names(&["a"]), &[1.0, 2.0], &[1.0]).contains("needs at least 2 columns"));
        assert!(compare_report(&[], &[], &[]).contains("rows: real 0"));
    }

    #[test]
    fn bad_cells_name_their_line_and_column() {
        let rows = (2..17).map(|i| format!("{i},{i}\n")).collect::<String>();
        assert_eq!(
            err(&format!("n,age\n{rows}1, abc\n3,4\n")),
            "line 17, column 'age': 'abc' is not a number"
        );
        assert_eq!(err("x,y\n1,2\n\n\n1,2\n3,4\n\n5,\n"), "line 8, column 'y': missing value");
        assert_eq!(err("x,y\n1,2\n\"1\n\",2\n3, nan\n"), "line 5, column 'y': 'nan' is not a finite number");
        assert_eq!(err("x\n1\ninf\n"), "line 3, column 'x': 'inf' is not a finite number");
        // The csv crate's own line numbers are wrong for these; ours must not be.
        assert_eq!(err("x,y\r\n1,2\r\n\r\n3,b\r\n"), "line 4, column 'y': 'b' is not a number");
        assert_eq!(err("\n\nx,y\n1,2\n\n\n\n5,z"), "line 8, column 'y': 'z' is not a number");
        assert_eq!(err("x,y\r1,2\r\r3,q\r"), "line 4, column 'y': 'q' is not a number");
        assert_eq!(err("\u{feff}x,y\n1,2\n3,?\n"), "line 3, column 'y': '?' is not a number");
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(err("a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n"), "line 5 has 3 fields, the header 4");
        assert!(err("").starts_with("empty file"));
        assert!(err("a,b\n").starts_with("no data rows"));
        assert!(err("a,b\n1,2\n").starts_with("only 1 data row"));
        assert_eq!(err("a,,c\n1,2,3\n"), "line 1: header column 2 has no name; name every column");
        assert_eq!(
            err("a,b,a\n1,2,3\n"),
            "line 1: header names column 'a' twice; column names must be unique"
        );
        assert!(err("a,b\n1,\u{0}2\n").contains("is not a number"));
        assert_eq!(err("a,b\n1,2\n3\n"), "line 3 has 1 field, the header 2");
        assert_eq!(err("\n\n a , \n1,2\n"), "line 3: header column 2 has no name; name every column");
    }

    #[test]
    fn invalid_utf8_and_missing_file_are_errors() {
        let path = temp_file("utf8", "");
        std::fs::write(&path, b"a,b\n1,2\n3,\xff\n").unwrap();
        let Err(Error::Data { msg, .. }) = read_csv(&path) else { panic!("expected a data error") };
        assert!(msg.starts_with("line 3: "), "{msg}");
        assert!(matches!(read_csv(&path.with_extension("nope")), Err(Error::Io { .. })));
    }
}
