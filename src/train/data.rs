//! What a run trains on: images (bundled MNIST, IDX files, a folder of PNG/JPEG) or a CSV table,
//! held in host memory (or mapped from a folder's decode cache) and streamed to the device batch
//! by batch.

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{RunConfig, parse_list};
use crate::data::table::transform::{Calibration, TableCoder};
use crate::data::table::{ColumnKind, Table};
use crate::data::{ImageSet, folder, idx, mnist, signed_pixel, table};
use crate::error::{Error, Result};
use crate::nn::Shape;
use crate::ops::gather::{GatherKind, pack_bytes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// An IDX image file (gzipped or not), MNIST's format; labels from --labels.
    Idx,
    /// A folder of PNG/JPEG images; subfolders are classes.
    Folder,
    /// A CSV table with a header; real, integer and categorical columns.
    Csv,
}

impl DataFormat {
    /// A folder is a folder, a `.csv` file a table, and anything else is read as IDX (whose magic
    /// number is checked).
    pub fn detect(path: &Path) -> DataFormat {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
        if path.is_dir() {
            DataFormat::Folder
        } else if name.ends_with(".csv") {
            DataFormat::Csv
        } else {
            DataFormat::Idx
        }
    }
}

/// What a checkpoint must remember about its data to sample in the data's own terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Class names by label (conditional models); empty otherwise.
    pub classes: Vec<String>,
    /// Table columns; empty for images.
    pub columns: Vec<String>,
    /// Each column's kind and encoding, as the model learned them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coder: Option<TableCoder>,
    /// G's own marginals (`--table-calibrate`), refitted at every epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The standardisation of checkpoints written before `coder` existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std: Vec<f64>,
}

impl DataInfo {
    pub fn is_table(&self) -> bool {
        !self.columns.is_empty()
    }

    fn coder(&self) -> Cow<'_, TableCoder> {
        match &self.coder {
            Some(coder) => Cow::Borrowed(coder),
            None => Cow::Owned(TableCoder::standard(&self.mean, &self.std)),
        }
    }

    /// Generated rows (in the model's units) back in the table's units.
    pub fn decode(&self, rows: &[f32]) -> Vec<f64> {
        self.coder().decode(rows, self.calibration.as_ref())
    }

    pub fn kinds(&self) -> Vec<ColumnKind> {
        self.coder().kinds()
    }
}

pub enum TrainData {
    Images(ImageSet),
    /// `encoded`: the rows as G learns them (`coder`), row-major.
    Table {
        table: Table,
        encoded: Vec<f32>,
        coder: TableCoder,
        labels: Option<Vec<u8>>,
    },
}

impl TrainData {
    pub fn count(&self) -> usize {
        match self {
            TrainData::Images(s) => s.count,
            TrainData::Table { table, .. } => table.rows,
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, TrainData::Table { .. })
    }

    /// One sample's shape: (channels, height, width), or (columns, 1, 1) for a table row.
    pub fn shape(&self) -> Shape {
        match self {
            TrainData::Images(s) => Shape(s.channels, s.height, s.width),
            TrainData::Table { table, .. } => Shape(table.columns.len(), 1, 1),
        }
    }

    pub fn labels(&self) -> Option<&[u8]> {
        match self {
            TrainData::Images(s) => s.labels.as_deref(),
            TrainData::Table { labels, .. } => labels.as_deref(),
        }
    }

    /// Class names: a folder's subfolders, else the label numbers 0..=max.
    pub fn class_names(&self) -> Vec<String> {
        match self {
            TrainData::Images(s) if !s.classes.is_empty() => s.classes.clone(),
            _ => {
                let max = self.labels().and_then(|l| l.iter().max().copied()).map_or(0, |m| m as usize + 1);
                (0..max).map(|c| c.to_string()).collect()
            }
        }
    }

    pub fn info(&self, conditional: bool) -> DataInfo {
        let classes = if conditional { self.class_names() } else { Vec::new() };
        match self {
            TrainData::Images(_) => DataInfo { classes, ..Default::default() },
            TrainData::Table { table, coder, .. } => {
                DataInfo { classes, columns: table.columns.clone(), coder: Some(coder.clone()), ..Default::default() }
            }
        }
    }

    /// How the batches' values are read: u8 pixels scaled for a tanh or sigmoid generator, or
    /// f32 table rows.
    pub fn gather_kind(&self, unit_pixels: bool) -> GatherKind {
        match self {
            TrainData::Images(_) if unit_pixels => GatherKind::UnitPixels,
            TrainData::Images(_) => GatherKind::Pixels,
            TrainData::Table { .. } => GatherKind::Floats,
        }
    }

    /// The samples at `items`, one after another, as the words a window on the device holds
    /// (pixels packed four to a word, table rows as they are); `flip(position)` mirrors the
    /// image at that position left to right.
    pub fn window(&self, items: &[u32], flip: impl Fn(usize) -> bool) -> Vec<f32> {
        match self {
            TrainData::Images(s) => {
                let (w, d) = (s.width, s.image_len());
                let mut bytes = Vec::with_capacity(items.len() * d);
                for (k, &i) in items.iter().enumerate() {
                    let image = s.image(i as usize);
                    if flip(k) {
                        bytes.extend(image.chunks_exact(w).flat_map(|row| row.iter().rev()));
                    } else {
                        bytes.extend_from_slice(image);
                    }
                }
                pack_bytes(&bytes)
            }
            TrainData::Table { encoded, table, .. } => {
                let d = table.columns.len();
                items.iter().flat_map(|&i| encoded[i as usize * d..(i as usize + 1) * d].iter().copied()).collect()
            }
        }
    }

    /// `n` samples spread evenly over the data set (not the first `n`: a folder lists its classes
    /// one after another), in [−1, 1] (images) or the model's units (rows), for the grids.
    pub fn spread(&self, n: usize) -> Vec<f32> {
        let count = self.count();
        let picks = (0..n).map(|i| i * count / n.max(1));
        match self {
            TrainData::Images(s) => picks.flat_map(|i| s.image(i).iter().map(|&p| signed_pixel(p))).collect(),
            TrainData::Table { encoded, table, .. } => spread_rows(encoded, table.columns.len(), n),
        }
    }

    /// The rows `spread` picks, in the table's own units (empty for images).
    pub fn spread_table_rows(&self, n: usize) -> Vec<f64> {
        match self {
            TrainData::Table { table, .. } => spread_rows(&table.values, table.columns.len(), n),
            TrainData::Images(_) => Vec::new(),
        }
    }

    /// `per_class` images of each of the first `rows` classes, row by row, in [−1, 1] (black
    /// where a class has fewer).
    pub fn by_class(&self, rows: usize, per_class: usize) -> Vec<f32> {
        let (TrainData::Images(s), Some(labels)) = (self, self.labels()) else { return Vec::new() };
        let d = s.image_len();
        let mut out = vec![-1.0; rows * per_class * d];
        for class in 0..rows {
            let picks = (0..s.count).filter(|&i| labels[i] as usize == class).take(per_class);
            for (k, i) in picks.enumerate() {
                let dst = &mut out[(class * per_class + k) * d..][..d];
                for (o, &p) in dst.iter_mut().zip(s.image(i)) {
                    *o = signed_pixel(p);
                }
            }
        }
        out
    }

    fn keep_labels(&mut self, wanted: &[u8]) -> Result<()> {
        match self {
            TrainData::Images(s) => s.keep_labels(wanted),
            TrainData::Table { .. } => Err(Error::Config("--digits needs labelled images".into())),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            TrainData::Images(s) => s.truncate(n),
            // Cut in `load`, before its columns are fitted.
            TrainData::Table { .. } => {}
        }
    }
}

/// `n` rows of row-major `values` (`d` columns) in a fixed shuffle: rows at a fixed stride would
/// alias with a table's own order (the ring's rows cycle through its 8 modes, so every 4th row
/// showed 2 of them).
fn spread_rows<T: Copy>(values: &[T], d: usize, n: usize) -> Vec<T> {
    let count = values.len() / d.max(1);
    let rows = crate::data::epoch_order(count, 0, usize::MAX);
    rows[..n.min(count)].iter().flat_map(|&i| values[i as usize * d..(i as usize + 1) * d].iter().copied()).collect()
}

/// Reads what `--data` (and `--format`, `--labels`, `--image-size`, `--channels`, `--digits`,
/// `--limit`) name; the bundled MNIST without `--data`.
pub fn load(args: &RunConfig) -> Result<TrainData> {
    let mut data = match &args.data {
        None => TrainData::Images(mnist::train()?),
        Some(path) if path.as_os_str() == mnist::STACKED && !path.exists() => {
            TrainData::Images(mnist::stacked(mnist::STACKED_COUNT)?)
        }
        Some(path) => match args.format.unwrap_or_else(|| DataFormat::detect(path)) {
            DataFormat::Idx => {
                let images = idx::read(path)?;
                let labels = args.labels.as_deref().map(idx::read).transpose()?;
                TrainData::Images(mnist::from_idx(&images, labels.as_ref(), path)?)
            }
            DataFormat::Folder => {
                let o = folder::FolderOptions {
                    size: args.image_size,
                    channels: args.channels,
                    crop: args.crop,
                    skip_bad: args.skip_bad,
                    cache: args.cache_dir.clone().filter(|_| !args.no_cache),
                };
                TrainData::Images(folder::read_folder_with(path, &o)?)
            }
            DataFormat::Csv => {
                let declared = args.columns.as_deref().map(table::parse_declared).transpose()?;
                let mut table = table::read_csv_as(path, declared.as_deref().unwrap_or_default())?;
                if let Some(n) = args.limit.filter(|&n| n < table.rows) {
                    table.rows = n;
                    table.values.truncate(n * table.columns.len());
                }
                let coder = TableCoder::fit(&table, args.table_transform);
                let encoded = coder.encode(&table);
                TrainData::Table { table, encoded, coder, labels: None }
            }
        },
    };
    if let Some(d) = &args.digits {
        let labels = data.class_names().len();
        let digits = parse_list("digits", d)?;
        if let Some(bad) = digits.iter().find(|&&x| x >= labels) {
            return Err(Error::Config(match labels {
                0 => "--digits needs labelled images".into(),
                n => format!("--digits {bad}: this data's labels are 0 to {}", n - 1),
            }));
        }
        data.keep_labels(&digits.iter().map(|&x| x as u8).collect::<Vec<_>>())?;
    }
    if let Some(n) = args.limit {
        data.truncate(n);
    }
    if args.conditional && data.labels().is_none() {
        return Err(Error::Config(
            "--conditional needs labels: the bundled MNIST, --labels with an IDX file, or a folder \
             with one subfolder per class"
                .into(),
        ));
    }
    Ok(data)
}
