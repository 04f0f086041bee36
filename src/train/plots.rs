//! The plots a run writes (losses.png, eval.png, a table's scatter plots), drawn with plotters:
//! axes with numbers, labels and a legend. Text uses the bundled DejaVu Sans
//! (`assets/fonts/`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use image::{DynamicImage, RgbImage};
use plotters::prelude::*;

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
fn drawing<E: std::error::Error + Send + Sync>(
    path: &Path,
) -> impl Fn(DrawingAreaErrorKind<E>) -> Error + '_ {
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
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
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

/// Real (grey) and generated (red) points of two table columns, in standardised units (±3.5):
/// what a table GAN learned of their joint shape. `path` names the picture in errors.
pub fn scatter(
    path: &Path,
    (x_name, y_name): (&str, &str),
    real: &[(f32, f32)],
    fake: &[(f32, f32)],
) -> Result<DynamicImage> {
    let image = render(path, (420, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d(-3.5f32..3.5f32, -3.5f32..3.5f32)
            .map_err(drawing(path))?;
        chart
            .configure_mesh()
            .x_desc(format!("{x_name} (standardised)"))
            .y_desc(format!("{y_name} (standardised)"))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(drawing(path))?;
        for (name, points, colour) in
            [("real", real, RGBColor(110, 110, 110)), ("generated", fake, RGBColor(220, 30, 30))]
        {
            let inside = points.iter().copied().filter(|(x, y)| x.abs() < 3.5 && y.abs() < 3.5);
            chart
                .draw_series(inside.map(|p| Circle::new(p, 1, colour.filled())))
                .map_err(drawing(path))?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, path)
    })?;
    Ok(image.into())
}
