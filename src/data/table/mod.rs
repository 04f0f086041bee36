//! A CSV table of real, integer and categorical columns: reading it strictly, writing generated
//! rows back; `transform` turns columns into what G learns and back, `report` compares two tables.

pub mod report;
pub mod transform;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Rows with named, typed columns, `values` row-major (`rows` × `columns.len()`); a categorical
/// cell holds its category's index in [`ColumnKind::Categorical`]'s names.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub kinds: Vec<ColumnKind>,
    pub rows: usize,
    pub values: Vec<f64>,
}

/// What a column holds, which decides how it is encoded for G and how generated values come back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Real,
    /// Whole numbers: generated values are rounded.
    Integer,
    /// Names, sorted; generated values come back as one of them.
    Categorical(Vec<String>),
}

/// A kind given by `--columns name:real|int|cat`, before any category is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared {
    Real,
    Integer,
    Categorical,
}

/// Parses `--columns`: `name:kind` pairs separated by commas, kind one of real, int, cat.
pub fn parse_declared(spec: &str) -> Result<Vec<(String, Declared)>> {
    let bad = |item: &str| {
        Error::Config(format!(
            "--columns: '{item}' is not name:kind (kind real, int or cat), e.g. --columns age:int,city:cat"
        ))
    };
    spec.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let (name, kind) = item.rsplit_once(':').ok_or_else(|| bad(item))?;
            let kind = match kind.trim() {
                "real" => Declared::Real,
                "int" | "integer" => Declared::Integer,
                "cat" | "categorical" => Declared::Categorical,
                _ => return Err(bad(item)),
            };
            Ok((name.trim().to_string(), kind))
        })
        .collect()
}

/// Fewer rows leave no spread to learn from (and no standard deviation to scale by).
const MIN_ROWS: usize = 2;

/// [`read_csv_as`] with every column's kind detected.
pub fn read_csv(path: &Path) -> Result<Table> {
    read_csv_as(path, &[])
}

/// Reads a CSV file whose first line names the columns. A column is categorical when `declared`
/// says so or when its first cell is not a number (so a typo further down a numeric column is
/// still an error, not a new category); a numeric column of whole numbers is an integer one.
/// Errors name the line (as an editor numbers it, header = line 1) and the column.
pub fn read_csv_as(path: &Path, declared: &[(String, Declared)]) -> Result<Table> {
    read_csv_with(path, |columns| match declared.iter().find(|(name, _)| !columns.contains(name)) {
        Some((name, _)) => Err(Error::Config(format!(
            "--columns names '{name}', which {} does not have (its columns: {})",
            path.display(),
            columns.join(", ")
        ))),
        None => Ok(declared.to_vec()),
    })
}

/// [`read_csv_as`] with the declarations made from the header by `declare`, which may refuse it.
pub fn read_csv_with(path: &Path, declare: impl FnOnce(&[String]) -> Result<Vec<(String, Declared)>>) -> Result<Table> {
    let text = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).flexible(true).from_reader(&text[..]);
    let bad = |msg: String| Error::Data { path: path.to_path_buf(), msg };
    let at = |pos: Option<&csv::Position>, detail: String| bad(format!("line {}{detail}", line_of(&text, pos)));
    let head = reader.headers().map_err(|e| at(e.position(), format!(": {e}")))?.clone();
    let columns = header(&head).map_err(|detail| at(head.position(), detail))?;
    if columns.is_empty() {
        return Err(bad("empty file: no header and no data rows".into()));
    }
    let declared = &declare(&columns)?;
    let mut kinds: Vec<Declared> = Vec::new();
    let mut names: Vec<Vec<String>> = vec![Vec::new(); columns.len()];
    let mut values = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position(), format!(": {e}")))?;
        if kinds.is_empty() {
            kinds = first_kinds(&record, &columns, declared);
        }
        parse_row(&record, &columns, &kinds, &mut values, &mut names)
            .map_err(|detail| at(record.position(), detail))?;
        rows += 1;
    }
    match rows {
        0 => Err(bad("no data rows; the file needs a header line and at least 2 rows of numbers".into())),
        1 => Err(bad(format!("only 1 data row; at least {MIN_ROWS} are needed"))),
        _ => {
            let kinds = settle_kinds(&kinds, &mut values, names, declared, &columns);
            Ok(Table { columns, kinds, rows, values })
        }
    }
}

/// Each column's kind from the declarations, else from the first data row's cell.
fn first_kinds(record: &csv::StringRecord, columns: &[String], declared: &[(String, Declared)]) -> Vec<Declared> {
    columns
        .iter()
        .enumerate()
        .map(|(i, name)| match declared.iter().find(|(n, _)| n == name) {
            Some(&(_, kind)) => kind,
            None if record.get(i).is_some_and(|c| !c.is_empty() && c.parse::<f64>().is_err()) => Declared::Categorical,
            None => Declared::Real,
        })
        .collect()
}

/// The final kinds: categorical cells get their index among the column's sorted names, and an
/// undeclared numeric column of whole numbers becomes an integer column.
fn settle_kinds(
    kinds: &[Declared],
    values: &mut [f64],
    names: Vec<Vec<String>>,
    declared: &[(String, Declared)],
    columns: &[String],
) -> Vec<ColumnKind> {
    let cols = columns.len();
    kinds
        .iter()
        .zip(names)
        .enumerate()
        .map(|(c, (kind, cells))| match kind {
            Declared::Categorical => {
                let sorted: Vec<String> = cells.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
                for (row, cell) in cells.iter().enumerate() {
                    values[row * cols + c] = sorted.binary_search(cell).expect("a name of the column") as f64;
                }
                ColumnKind::Categorical(sorted)
            }
            Declared::Integer => ColumnKind::Integer,
            Declared::Real => {
                let whole = values.iter().skip(c).step_by(cols).all(|v| v.fract() == 0.0);
                let free = !declared.iter().any(|(n, _)| n == &columns[c]);
                if whole && free { ColumnKind::Integer } else { ColumnKind::Real }
            }
        })
        .collect()
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

/// Appends one record's numbers to `values` (and a categorical cell's name to `names`, with a
/// placeholder value), or says which cell is wrong (the text after "line N").
fn parse_row(
    record: &csv::StringRecord,
    columns: &[String],
    kinds: &[Declared],
    values: &mut Vec<f64>,
    names: &mut [Vec<String>],
) -> std::result::Result<(), String> {
    if record.len() != columns.len() {
        let plural = if record.len() == 1 { "" } else { "s" };
        return Err(format!(" has {} field{plural}, the header {}", record.len(), columns.len()));
    }
    for (c, (cell, name)) in record.iter().zip(columns).enumerate() {
        if cell.is_empty() {
            return Err(format!(", column '{name}': missing value"));
        }
        match (kinds[c], cell.parse::<f64>()) {
            (Declared::Categorical, _) => {
                names[c].push(cell.to_string());
                values.push(0.0);
            }
            (Declared::Integer, Ok(v)) if v.is_finite() && v.fract() != 0.0 => {
                return Err(format!(", column '{name}': '{cell}' is not a whole number (--columns declares it int)"));
            }
            (_, Ok(v)) if v.is_finite() => values.push(v),
            (_, Ok(_)) => return Err(format!(", column '{name}': '{cell}' is not a finite number")),
            (_, Err(_)) => {
                return Err(format!(
                    ", column '{name}': '{cell}' is not a number (a column of categories: --columns {name}:cat)"
                ));
            }
        }
    }
    Ok(())
}

/// Writes a header and row-major `values` (categorical cells as their names) to `path` through a
/// temporary file, so a crash or a full disk never leaves a half-written table where a good one
/// was. Non-finite values are written as `NaN`/`inf` (visible, and rejected by [`read_csv`])
/// rather than hidden.
pub fn write_csv(path: &Path, columns: &[String], kinds: &[ColumnKind], values: &[f64]) -> Result<()> {
    if columns.is_empty() || kinds.len() != columns.len() || !values.len().is_multiple_of(columns.len()) {
        let msg = format!("{} values do not fill rows of {} columns", values.len(), columns.len());
        return Err(Error::Data { path: path.to_path_buf(), msg });
    }
    let bytes = csv_bytes(columns, kinds, values).map_err(|e| Error::Data { path: path.to_path_buf(), msg: e })?;
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

fn csv_bytes(columns: &[String], kinds: &[ColumnKind], values: &[f64]) -> std::result::Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).map_err(|e| e.to_string())?;
    let cell = |(&v, kind): (&f64, &ColumnKind)| match kind {
        ColumnKind::Categorical(names) if v.is_finite() && !names.is_empty() => {
            names[(v.round().max(0.0) as usize).min(names.len() - 1)].clone()
        }
        _ => format_number(v),
    };
    for row in values.chunks_exact(columns.len()) {
        w.write_record(row.iter().zip(kinds).map(cell)).map_err(|e| e.to_string())?;
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
                kinds: vec![ColumnKind::Integer, ColumnKind::Real, ColumnKind::Integer],
                rows: 2,
                values: vec![1.0, 2.5, -300.0, 4.0, 5.0, 6.0]
            }
        );
    }

    #[test]
    fn categories_and_declared_kinds() {
        let path = temp_file("kinds", "n,city,flag,w\n1,Paris,3,2\n2, Oslo ,4,2.5\n3,Paris,3,1\n");
        let t = read_csv(&path).unwrap();
        let cities = ColumnKind::Categorical(names(&["Oslo", "Paris"]));
        assert_eq!(t.kinds, vec![ColumnKind::Integer, cities.clone(), ColumnKind::Integer, ColumnKind::Real]);
        assert_eq!(t.values, vec![1.0, 1.0, 3.0, 2.0, 2.0, 0.0, 4.0, 2.5, 3.0, 1.0, 3.0, 1.0]);
        let declared = parse_declared("n:real, flag:cat").unwrap();
        let t = read_csv_as(&path, &declared).unwrap();
        let flags = ColumnKind::Categorical(names(&["3", "4"]));
        assert_eq!(t.kinds, vec![ColumnKind::Real, cities, flags, ColumnKind::Real]);
        assert_eq!(t.values[2], 0.0);
        let out = path.with_file_name("out.csv");
        write_csv(&out, &t.columns, &t.kinds, &t.values).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "n,city,flag,w\n1,Paris,3,2\n2,Oslo,4,2.5\n3,Paris,3,1\n");
        assert!(
            matches!(read_csv_as(&path, &parse_declared("age:int").unwrap()), Err(Error::Config(m)) if m.contains("'age'"))
        );
        assert!(parse_declared("n:text").is_err() && parse_declared("n").is_err());
        let Err(Error::Data { msg, .. }) = read_csv_as(&path, &parse_declared("w:int").unwrap()) else { panic!() };
        assert_eq!(msg, "line 3, column 'w': '2.5' is not a whole number (--columns declares it int)");
    }

    #[test]
    fn write_then_read_round_trips() {
        let path = temp_file("round", "");
        let columns = names(&["x", "y, quoted", "z"]);
        let values = vec![0.1, -2.0, 1234567.891, 1e-7, 3.0e20, -0.0];
        write_csv(&path, &columns, &[ColumnKind::Real, ColumnKind::Real, ColumnKind::Real], &values).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "x,\"y, quoted\",z\n0.1,-2,1234570\n1e-7,3e20,0\n");
        let t = read_csv(&path).unwrap();
        assert_eq!((t.columns, t.rows), (columns, 2));
        assert_eq!(t.values, vec![0.1, -2.0, 1234570.0, 1e-7, 3e20, 0.0]);
        assert!(!temp_path(&path).exists());
        assert!(
            write_csv(&path, &names(&["a", "b"]), &[ColumnKind::Real, ColumnKind::Real], &[1.0, 2.0, 3.0]).is_err()
        );
    }

    #[test]
    fn format_number_keeps_six_digits() {
        assert_eq!(format_number(std::f64::consts::PI), "3.14159");
        assert_eq!(format_number(-0.000123456789), "-0.000123457");
        assert_eq!(format_number(0.00001234), "1.234e-5");
        assert_eq!(format_number(42.0), "42");
    }

    #[test]
    fn bad_cells_name_their_line_and_column() {
        let rows = (2..17).map(|i| format!("{i},{i}\n")).collect::<String>();
        assert_eq!(
            err(&format!("n,age\n{rows}1, abc\n3,4\n")),
            "line 17, column 'age': 'abc' is not a number (a column of categories: --columns age:cat)"
        );
        assert_eq!(err("x,y\n1,2\n\n\n1,2\n3,4\n\n5,\n"), "line 8, column 'y': missing value");
        assert_eq!(err("x,y\n1,2\n\"1\n\",2\n3, nan\n"), "line 5, column 'y': 'nan' is not a finite number");
        assert_eq!(err("x\n1\ninf\n"), "line 3, column 'x': 'inf' is not a finite number");
        // The csv crate's own line numbers are wrong for these; ours must not be.
        assert_eq!(
            err("x,y\r\n1,2\r\n\r\n3,b\r\n"),
            "line 4, column 'y': 'b' is not a number (a column of categories: --columns y:cat)"
        );
        assert_eq!(
            err("\n\nx,y\n1,2\n\n\n\n5,z"),
            "line 8, column 'y': 'z' is not a number (a column of categories: --columns y:cat)"
        );
        assert_eq!(
            err("x,y\r1,2\r\r3,q\r"),
            "line 4, column 'y': 'q' is not a number (a column of categories: --columns y:cat)"
        );
        assert_eq!(
            err("\u{feff}x,y\n1,2\n3,?\n"),
            "line 3, column 'y': '?' is not a number (a column of categories: --columns y:cat)"
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(err("a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n"), "line 5 has 3 fields, the header 4");
        assert!(err("").starts_with("empty file"));
        assert!(err("a,b\n").starts_with("no data rows"));
        assert!(err("a,b\n1,2\n").starts_with("only 1 data row"));
        assert_eq!(err("a,,c\n1,2,3\n"), "line 1: header column 2 has no name; name every column");
        assert_eq!(err("a,b,a\n1,2,3\n"), "line 1: header names column 'a' twice; column names must be unique");
        assert!(err("a,b\n1,2\n1,\u{0}2\n").contains("is not a number"));
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
