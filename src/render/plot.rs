//! Drawing charts for people, from values already computed (no metric
//! knowledge here; [`super::metric_chart`] picks what to draw): SVG drawn with plotters, PNG rendered from the same
//! SVG by resvg with the bundled DejaVu Sans (`reports/fonts/`), so no
//! system font or C library is needed and both files look the same.
//!
//! - [`time_series`]: one line per group over buckets, the benchmark's
//!   level bands shaded behind (best level lightest);
//! - [`distribution`]: a histogram of lead times with p50 and p90 marked;
//! - [`comparison`]: one bar per group with its 95% interval;
//! - [`sparkline`]: a tiny inline SVG for report tables.
//!
//! Colours are the Okabe-Ito palette (distinguishable with the common colour
//! vision deficiencies); axes carry their units.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

pub const FONT: &[u8] = include_bytes!("../../reports/fonts/DejaVuSans.ttf");
pub const FAMILY: &str = "DejaVu Sans";

/// Okabe & Ito (2008), black last.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Band fills from the best level to the worst (light green to light red).
const BAND_FILLS: [RGBColor; 4] = [
    RGBColor(226, 242, 230),
    RGBColor(238, 246, 222),
    RGBColor(253, 243, 214),
    RGBColor(250, 225, 220),
];

/// How a metric is shown: its unit on the axis and the factor from the
/// stored value (seconds, fraction, per day) to that unit.
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    pub label: &'static str,
    pub scale: f64,
}

impl Axis {
    /// Durations in hours (the range DORA levels care about: 1 h to 30 d).
    pub const HOURS: Axis = Axis {
        label: "hours",
        scale: 1.0 / 3600.0,
    };
    pub const PERCENT: Axis = Axis {
        label: "%",
        scale: 100.0,
    };
    pub const PER_DAY: Axis = Axis {
        label: "deployments per day",
        scale: 1.0,
    };
    pub const COUNT: Axis = Axis {
        label: "count",
        scale: 1.0,
    };

    /// The axis of a catalogued metric's unit.
    pub fn of(unit: crate::metrics::catalogue::Unit) -> Axis {
        use crate::metrics::catalogue::Unit;
        match unit {
            Unit::Count | Unit::Number => Axis::COUNT,
            Unit::PerDay => Axis::PER_DAY,
            Unit::Seconds => Axis::HOURS,
            Unit::Ratio => Axis::PERCENT,
        }
    }
}

/// A comparison bar: (group, value, interval low, interval high).
pub type Bar = (String, Option<f64>, Option<f64>, Option<f64>);

pub struct Series {
    pub name: String,
    /// (bucket start, µs since the epoch; value in stored units)
    pub points: Vec<(i64, Option<f64>)>,
}

pub(super) fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Usage {
        option: "chart".into(),
        message: format!("cannot draw: {e}"),
    }
}

fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// `11-09` (the year is in the report's heading).
fn short_day_label(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%m-%d").to_string())
        .unwrap_or_default()
}

fn day_label(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Canvas size and type sizes of a chart. The weekly report's charts are
/// drawn small with large type, so that on a 390 px phone, scaled to the
/// screen, no text is under 7 px.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub width: u32,
    pub height: u32,
    pub caption: f64,
    pub label: f64,
    pub axis: f64,
    /// Dates on the x axis with the year (files) or without (the report,
    /// whose heading has it).
    pub years: bool,
}

impl Style {
    /// `doralens chart`: files to open on a desktop.
    pub const FILE: Style = Style {
        width: 900,
        height: 420,
        caption: 20.0,
        label: 12.0,
        axis: 14.0,
        years: true,
    };
    /// The report's inline charts (also read on phones).
    pub const REPORT: Style = Style {
        width: 560,
        height: 340,
        caption: 17.0,
        label: 15.0,
        axis: 15.0,
        years: false,
    };
}

/// A white canvas with the title and axis areas every chart shares
/// (`y_area`: room for the y labels).
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    y_area: u32,
) -> Result<ChartBuilder<'a, 'static, SVGBackend<'b>>> {
    frame_styled(root, title, y_area, &Style::FILE)
}

fn frame_styled<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    y_area: u32,
    style: &Style,
) -> Result<ChartBuilder<'a, 'static, SVGBackend<'b>>> {
    root.fill(&WHITE).map_err(chart_error)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, font(style.caption))
        .margin(12)
        .x_label_area_size((style.label * 3.0) as u32)
        .y_label_area_size(y_area);
    Ok(builder)
}

/// A line per series over time, level bands shaded (`bands` in stored
/// units, from `Benchmark::ranges`).
pub fn time_series(
    title: &str,
    unit: Axis,
    series: &[Series],
    bands: &[(String, f64, f64)],
) -> Result<String> {
    time_series_styled(title, unit, series, bands, &Style::FILE, None)
}

/// [`time_series`] drawn in `style`, with the x ticks on the bucket starts
/// (every other one when there are more than seven) and, when `mark` is
/// given, that span (the report's week) shaded and named.
pub fn time_series_styled(
    title: &str,
    unit: Axis,
    series: &[Series],
    bands: &[(String, f64, f64)],
    style: &Style,
    mark: Option<(i64, i64, &str)>,
) -> Result<String> {
    let mut starts: Vec<i64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let xs = &starts;
    let (x0, mut x1) = match (xs.iter().min(), xs.iter().max()) {
        (Some(a), Some(b)) if a < b => (*a, *b),
        (Some(a), _) => (*a, *a + crate::base::time::MICROS_PER_DAY),
        _ => (0, crate::base::time::MICROS_PER_DAY),
    };
    if let Some((_, end, _)) = mark {
        x1 = x1.max(end);
    }
    let step = if starts.len() > 7 { 2 } else { 1 };
    // Ticks counted back from the newest bucket, so the last one (the
    // report's week) always has its label.
    let ticks: Vec<i64> = starts
        .iter()
        .rev()
        .step_by(step)
        .copied()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .map(|v| v * unit.scale)
        .collect();
    let y_max = ys.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (style.width, style.height)).into_drawing_area();
        let y_area = (style.label * 5.5) as u32;
        let mut chart = frame_styled(&root, title, y_area, style)?
            .build_cartesian_2d((x0..x1).with_key_points(ticks), 0.0..y_max)
            .map_err(chart_error)?;
        for (i, (_, low, high)) in bands.iter().enumerate() {
            let (lo, hi) = (
                (low * unit.scale).min(y_max),
                (high * unit.scale).min(y_max),
            );
            if hi <= lo {
                continue;
            }
            let fill = BAND_FILLS[i.min(BAND_FILLS.len() - 1)];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo), (x1, hi)],
                    fill.filled(),
                )))
                .map_err(chart_error)?;
        }
        if let Some((start, end, name)) = mark {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end, y_max)],
                    BLACK.mix(0.07).filled(),
                )))
                .map_err(chart_error)?;
            // Right-aligned against the band's left edge, so it stays inside
            // the plot however narrow the band is.
            let label = font(style.label).pos(Pos::new(HPos::Right, VPos::Top));
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{name} "),
                    (start, y_max * 0.98),
                    label,
                )))
                .map_err(chart_error)?;
        }
        chart
            .configure_mesh()
            .x_desc("bucket start (UTC)")
            .y_desc(unit.label)
            .x_label_formatter(&|x| {
                if style.years {
                    day_label(*x)
                } else {
                    short_day_label(*x)
                }
            })
            .label_style(font(style.label))
            .axis_desc_style(font(style.axis))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            // Gaps (null statistics) break the line rather than drop to 0.
            let mut run: Vec<(i64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for (x, y) in &s.points {
                match y {
                    Some(v) => run.push((*x, v * unit.scale)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            let mut first = true;
            for run in runs {
                let drawn = chart
                    .draw_series(LineSeries::new(run, colour.stroke_width(2)))
                    .map_err(chart_error)?;
                if std::mem::take(&mut first) {
                    drawn.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                    });
                }
            }
        }
        // One series needs no legend: the title names it.
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(font(style.label))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(band_legend(svg, bands))
}

/// Names the shaded bands in the SVG's description (the chart shows them by
/// colour only).
fn band_legend(svg: String, bands: &[(String, f64, f64)]) -> String {
    if bands.is_empty() {
        return svg;
    }
    let names: Vec<&str> = bands.iter().map(|b| b.0.as_str()).collect();
    svg.replacen(
        ">",
        &format!(
            "><desc>Shaded bands, light to dark: {}</desc>",
            names.join(", ")
        ),
        1,
    )
}

/// A histogram of samples (stored units) with p50 and p90 lines.
pub fn distribution(
    title: &str,
    unit: Axis,
    samples: &[f64],
    p50: f64,
    p90: f64,
) -> Result<String> {
    let values: Vec<f64> = samples.iter().map(|v| v * unit.scale).collect();
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    // Up to the 95th percentile, so a long tail does not flatten the rest.
    let cap = sorted
        .get(((sorted.len() as f64) * 0.95) as usize)
        .or(sorted.last())
        .copied()
        .unwrap_or(1.0)
        .max(p90 * unit.scale)
        .max(1e-9)
        * 1.05;
    const BINS: usize = 40;
    let width = cap / BINS as f64;
    let mut counts = [0u32; BINS];
    for v in &values {
        counts[((v / width) as usize).min(BINS - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        let mut chart = frame(&root, title, 70)?
            .build_cartesian_2d(0.0..cap, 0.0..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(unit.label)
            .y_desc("commits")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, c)| {
                let x = i as f64 * width;
                Rectangle::new(
                    [(x, 0.0), (x + width * 0.9, *c as f64)],
                    PALETTE[0].filled(),
                )
            }))
            .map_err(chart_error)?;
        for (name, value, colour) in [("p50", p50, PALETTE[1]), ("p90", p90, PALETTE[5])] {
            let x = value * unit.scale;
            chart
                .draw_series(LineSeries::new(
                    vec![(x, 0.0), (x, top)],
                    colour.stroke_width(3),
                ))
                .map_err(chart_error)?
                .label(format!("{name} = {x:.1} {}", unit.label))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(font(12.0))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// One bar per group with its interval: (name, value, low, high) in stored
/// units. Groups without a value are listed with an empty bar.
pub fn comparison(title: &str, unit: Axis, items: &[Bar]) -> Result<String> {
    let n = items.len().max(1);
    let x_max = items
        .iter()
        .flat_map(|i| [i.1, i.3])
        .flatten()
        .map(|v| v * unit.scale)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.45; // room for the labels beside the longest bar
    let height = (120 + 36 * n).min(2000) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        let mut chart = frame(&root, title, 20)?
            .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(unit.label)
            .y_labels(0)
            .disable_y_mesh()
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(chart_error)?;
        for (i, (name, value, low, high)) in items.iter().enumerate() {
            let y = i as f64;
            // The group's name and value beside its bar, inside the plot.
            let label = match value {
                Some(v) => format!("{name}: {:.1} {}", v * unit.scale, unit.label),
                None => format!("{name}: no data"),
            };
            let at = high.or(*value).unwrap_or(0.0) * unit.scale;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((at, y + 0.5)) + Text::new(label, (8, -7), font(12.0)),
                ))
                .map_err(chart_error)?;
            if let Some(v) = value {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y + 0.2), (v * unit.scale, y + 0.8)],
                        PALETTE[i % PALETTE.len()].filled(),
                    )))
                    .map_err(chart_error)?;
            }
            if let (Some(lo), Some(hi)) = (low, high) {
                chart
                    .draw_series(LineSeries::new(
                        vec![(lo * unit.scale, y + 0.5), (hi * unit.scale, y + 0.5)],
                        BLACK.stroke_width(2),
                    ))
                    .map_err(chart_error)?;
            }
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A 120×28 inline SVG line of the values (gaps for nulls), last point
/// marked; for tables.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let (w, h) = (120.0, 28.0);
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let max = present.iter().cloned().fold(f64::MIN, f64::max);
    let min = present.iter().cloned().fold(f64::MAX, f64::min);
    let span = if max > min { max - min } else { 1.0 };
    let step = if values.len() > 1 {
        w / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut last = None;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = (i as f64 * step, h - 3.0 - (v - min) / span * (h - 6.0));
                current.push_str(&format!(
                    "{}{x:.1},{y:.1} ",
                    if current.is_empty() { "M" } else { "L" }
                ));
                last = Some((x, y));
            }
            None if !current.is_empty() => paths.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        paths.push(current);
    }
    let lines: String = paths
        .iter()
        .map(|d| {
            format!(
                "<path d=\"{}\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\"/>",
                d.trim()
            )
        })
        .collect();
    let dot = last
        .map(|(x, y)| format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"#D55E00\"/>"))
        .unwrap_or_default();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">{lines}{dot}</svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::svg::{png, series_colours, texts};

    #[test]
    fn sparklines_break_at_gaps_and_mark_the_last_point() {
        let s = sparkline(&[Some(1.0), Some(2.0), None, Some(3.0)]);
        assert_eq!(s.matches("<path").count(), 2);
        assert!(s.contains("<circle cx=\"120.0\""));
        assert_eq!(sparkline(&[None, None]).matches("<path").count(), 0);
    }

    #[test]
    fn charts_carry_title_units_series_and_render_to_png() {
        let series = vec![
            Series {
                name: "payments".into(),
                points: vec![(0, Some(3600.0)), (86_400_000_000, Some(7200.0))],
            },
            Series {
                name: "search".into(),
                points: vec![(0, None), (86_400_000_000, Some(1800.0))],
            },
        ];
        let bands = vec![
            ("elite".to_string(), 0.0, 86_400.0),
            ("low".to_string(), 86_400.0, f64::INFINITY),
        ];
        let svg = time_series("Lead time", Axis::HOURS, &series, &bands).unwrap();
        let texts = texts(&svg);
        for expected in ["Lead time", "hours", "payments", "search"] {
            assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
        }
        // Two series: exactly two palette colours drawn.
        assert_eq!(series_colours(&svg), 2);
        let png = png(&svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
