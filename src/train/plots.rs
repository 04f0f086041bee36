//! The plots a run writes (losses.png, eval.png, a table's scatter plots), drawn with plotters:
//! axes with numbers, labels and a legend. Text uses the bundled DejaVu Sans
//! (`assets/fonts/`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use image::{DynamicImage, RgbImage};
use plotters::prelude::*;

use crate::data::table::report::most_correlated;
use crate::data::table::{ColumnKind, Table};
use crate::error::{Error, Result};

/// One plotted line: its legend entry, colour and (x, y) points.
pub struct Series {
    pub name: &'static str,
    pub colour: [u8; 3],
    pub points: Vec<(f32, f32)>,
}

/// One panel of a [`plot`]: the y axis' label, its lines, and a fixed y range (else the data's).
pub struct Panel {
    pub y_label: &'static str,
    pub series: Vec<Series>,
    pub range: Option<(f32, f32)>,
}

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails for bytes that are no font, which the bundled file is.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// What plotters reports, as this program's error naming the file.
fn drawing<E: std::error::Error + Send + Sync>(path: &Path) -> impl Fn(DrawingAreaErrorKind<E>) -> Error + '_ {
    move |e| Error::Data { path: path.into(), msg: format!("could not draw the plot: {e}") }
}

/// Renders into an RGB image of `(w, h)` with `draw`, then hands it back.
fn render(
    path: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<RgbImage> {
    register_font();
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(path))?;
        draw(&root)?;
        root.present().map_err(drawing(path))?;
    }
    Ok(RgbImage::from_raw(w, h, buf).expect("the buffer is w·h·3 bytes"))
}

/// The range of `values` (finite ones), widened where it is empty or a single value.
fn span(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    match (lo, hi) {
        (lo, hi) if lo > hi => (0.0, 1.0),
        (lo, hi) if lo == hi => (lo - 0.5, hi + 0.5),
        (lo, hi) => (lo, hi),
    }
}

/// The legend of a chart's labelled series, boxed, at `position`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(drawing(path))
}

/// Line plots over the training step, one panel above the other, to `path`.
pub fn plot(path: &Path, panels: &[Panel]) -> Result<()> {
    let image = render(path, (900, 300 * panels.len() as u32), |root| {
        for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
            let points = || panel.series.iter().flat_map(|s| s.points.iter().copied());
            let (x_lo, x_hi) = span(points().map(|p| p.0));
            let (y_lo, y_hi) = panel.range.unwrap_or_else(|| span(points().map(|p| p.1)));
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
                .map_err(drawing(path))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc(panel.y_label)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(drawing(path))?;
            for s in &panel.series {
                let colour = RGBColor(s.colour[0], s.colour[1], s.colour[2]);
                let finite = s.points.iter().copied().filter(|p| p.1.is_finite());
                chart
                    .draw_series(LineSeries::new(finite, colour.stroke_width(2)))
                    .map_err(drawing(path))?
                    .label(s.name)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight, path)?;
        }
        Ok(())
    })?;
    image.save(path).map_err(|e| Error::Data { path: path.into(), msg: e.to_string() })
}

const REAL: RGBColor = RGBColor(110, 110, 110);
const GENERATED: RGBColor = RGBColor(220, 30, 30);

/// A table's epoch picture: real (grey) and generated (red) points of its most correlated pair of
/// columns, beside a histogram of each column (the first 8), all in the table's own units.
/// `real` and `fake` are row-major rows of `table`'s columns; `path` names the picture in errors.
pub fn table_figure(path: &Path, table: &Table, real: &[f64], fake: &[f64]) -> Result<DynamicImage> {
    let cols = table.columns.len();
    let shown = cols.min(8);
    let grid = (shown.div_ceil(2), shown.min(2));
    let width = 420 + 250 * grid.1 as u32;
    let height = 420.max(170 * grid.0 as u32);
    let image = render(path, (width, height), |root| {
        let (left, right) = root.split_horizontally(420);
        let (x, y) = most_correlated(&table.values, cols);
        let pairs = |v: &[f64]| v.chunks_exact(cols).map(|r| (r[x] as f32, r[y] as f32)).collect::<Vec<_>>();
        let names = (table.columns[x].as_str(), table.columns[y].as_str());
        scatter(&left, path, names, &pairs(real), &pairs(fake))?;
        for (c, area) in right.split_evenly(grid).iter().enumerate().take(shown) {
            let column = |v: &[f64]| v.iter().skip(c).step_by(cols).map(|&x| x as f32).collect::<Vec<_>>();
            histogram(area, path, &table.columns[c], &table.kinds[c], &column(real), &column(fake))?;
        }
        Ok(())
    })?;
    Ok(image.into())
}

/// `lo..hi` widened by 5% each side, so the extreme points are not drawn on the axes.
fn padded((lo, hi): (f32, f32)) -> std::ops::Range<f32> {
    let pad = 0.05 * (hi - lo);
    lo - pad..hi + pad
}

fn scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    path: &Path,
    (x_name, y_name): (&str, &str),
    real: &[(f32, f32)],
    fake: &[(f32, f32)],
) -> Result<()> {
    let (xs, ys) = (padded(span(real.iter().map(|p| p.0))), padded(span(real.iter().map(|p| p.1))));
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(xs.clone(), ys.clone())
        .map_err(drawing(path))?;
    chart
        .configure_mesh()
        .x_desc(x_name)
        .y_desc(y_name)
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(drawing(path))?;
    for (name, points, colour) in [("real", real, REAL), ("generated", fake, GENERATED)] {
        let inside = points.iter().copied().filter(|(x, y)| xs.contains(x) && ys.contains(y));
        chart
            .draw_series(inside.map(|p| Circle::new(p, 1, colour.filled())))
            .map_err(drawing(path))?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, colour.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, path)
}

/// Share of each of `bins` equal bins over `range` (categories: one bin per category index).
fn shares(values: &[f32], range: &std::ops::Range<f32>, bins: usize) -> Vec<f32> {
    let mut counts = vec![0.0f32; bins];
    let width = (range.end - range.start) / bins as f32;
    for &v in values.iter().filter(|v| range.contains(v)) {
        counts[(((v - range.start) / width) as usize).min(bins - 1)] += 1.0;
    }
    counts.iter().map(|c| c / values.len().max(1) as f32).collect()
}

/// One column's histogram: real as grey bars, generated as a red outline, shares of the rows.
fn histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    path: &Path,
    name: &str,
    kind: &ColumnKind,
    real: &[f32],
    fake: &[f32],
) -> Result<()> {
    let (range, bins) = match kind {
        ColumnKind::Categorical(names) => (-0.5..names.len() as f32 - 0.5, names.len().max(1)),
        _ => (padded(span(real.iter().copied())), 30),
    };
    let (r, f) = (shares(real, &range, bins), shares(fake, &range, bins));
    let top = r.iter().chain(&f).fold(0.0f32, |a, &b| a.max(b)).max(1e-3) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .caption(name, ("sans-serif", 14))
        .x_label_area_size(22)
        .y_label_area_size(40)
        .build_cartesian_2d(range.clone(), 0f32..top)
        .map_err(drawing(path))?;
    chart.configure_mesh().disable_mesh().y_labels(4).x_labels(5).draw().map_err(drawing(path))?;
    let width = (range.end - range.start) / bins as f32;
    let edge = |i: usize| range.start + i as f32 * width;
    chart
        .draw_series(
            r.iter()
                .enumerate()
                .map(|(i, &h)| Rectangle::new([(edge(i), 0.0), (edge(i + 1), h)], REAL.mix(0.5).filled())),
        )
        .map_err(drawing(path))?;
    let outline = f.iter().enumerate().flat_map(|(i, &h)| [(edge(i), h), (edge(i + 1), h)]);
    chart.draw_series(LineSeries::new(outline, GENERATED.stroke_width(2))).map_err(drawing(path))?;
    Ok(())
}
