//! A catalogued metric's chart as SVG and PNG files (`doralens chart`,
//! `benchmark`): computes its rows and hands them to [`super::plot`].

use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metrics::catalogue::{self, Chart, Metric};
use crate::metrics::{self, MetricsOptions};
use crate::render::plot::{self, Axis, Series};
use crate::render::svg;

/// What `doralens chart` draws of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// One line per group over the buckets, level bands shaded.
    Series,
    /// A histogram of per-commit samples with p50 and p90 (a chart with
    /// `distribution`: lead time).
    Distribution,
    /// One bar per group with its 95% interval.
    Comparison,
}

/// A catalogued metric's chart, or a usage error for one without.
fn chart_of(metric: &Metric) -> Result<Chart> {
    metric.chart.ok_or_else(|| {
        Error::usage(
            "chart",
            format!("`{}` has no chart in the catalogue", metric.column),
        )
    })
}

/// Per-commit lead times (seconds) of production deployments in the window.
pub async fn lead_time_samples(engine: &Engine, opts: &MetricsOptions) -> Result<Vec<f64>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Float64Type;
    metrics::register_views(engine, opts).await?;
    // The one definition of a commit's lead time, `lead_time_samples` in
    // queries/lead_time.sql, registered for these options.
    let sql = "SELECT s.lead_time_s FROM lead_time_samples s \
               JOIN production_deployments d ON d.id = s.deployment_id";
    let (_, batches) = engine.sql(sql).await?;
    Ok(batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Draws the chart and writes `<dir>/<metric>[-kind].svg` and `.png`;
/// returns the two paths.
pub async fn draw(
    engine: &Engine,
    opts: &MetricsOptions,
    metric: &Metric,
    kind: ChartKind,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let file = chart_of(metric)?.name;
    let unit = Axis::of(metric.unit);
    let group_column = opts.group.map(|g| g.column());
    let who = match group_column {
        Some(g) => format!(" by {g}"),
        None => String::new(),
    };
    let (svg, name) = match kind {
        ChartKind::Series => {
            let table = metrics::compute(engine, opts).await?;
            let bands = opts.benchmark.ranges(metric.column);
            let title = format!("{}{who}", metric.title);
            (
                plot::time_series(
                    &title,
                    unit,
                    &series(&table, metric.column, group_column),
                    &bands,
                )?,
                file.to_string(),
            )
        }
        ChartKind::Comparison => {
            let mut whole = opts.clone();
            whole.interval = None;
            let table = metrics::compute(engine, &whole).await?;
            let names = match group_column {
                Some(g) => table.strings(g),
                None => vec!["organisation".into(); table.num_rows()],
            };
            let values = table.floats(metric.column);
            let (low, high) = match metric.interval {
                Some((l, h)) => (table.floats(l), table.floats(h)),
                None => (vec![None; values.len()], vec![None; values.len()]),
            };
            let items: Vec<_> = names
                .into_iter()
                .zip(values)
                .zip(low.into_iter().zip(high))
                .map(|((n, v), (l, h))| (n, v, l, h))
                .collect();
            let title = format!("{}{who}, with 95% intervals", metric.title);
            (
                plot::comparison(&title, unit, &items)?,
                format!("{}-comparison", file),
            )
        }
        ChartKind::Distribution => {
            if !chart_of(metric)?.distribution {
                let names: Vec<&str> = catalogue::charted()
                    .filter(|(_, c)| c.distribution)
                    .map(|(_, c)| c.name)
                    .collect();
                return Err(Error::usage(
                    "--kind",
                    format!(
                        "distribution is drawn for {} (per-commit samples)",
                        names.join(", ")
                    ),
                ));
            }
            let samples = lead_time_samples(engine, opts).await?;
            let mut sorted = samples.clone();
            sorted.sort_by(f64::total_cmp);
            let q = |p: f64| -> f64 {
                if sorted.is_empty() {
                    return 0.0;
                }
                let h = (sorted.len() - 1) as f64 * p;
                let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
                sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
            };
            let title = format!("Lead time distribution ({} commits)", samples.len());
            (
                plot::distribution(&title, unit, &samples, q(0.5), q(0.9))?,
                format!("{file}-distribution"),
            )
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    let png = svg::png(&svg)?;
    crate::store::warehouse::atomic_write(&svg_path, |f| {
        std::io::Write::write_all(f, svg.as_bytes())
    })?;
    crate::store::warehouse::atomic_write(&png_path, |f| std::io::Write::write_all(f, &png))?;
    Ok(vec![svg_path, png_path])
}

/// The metric per group and bucket as series (one per group; the
/// organisation when ungrouped).
pub fn series(
    table: &crate::metrics::MetricsTable,
    column: &str,
    group_column: Option<&str>,
) -> Vec<Series> {
    let groups = match group_column {
        Some(g) => table.strings(g),
        None => vec!["organisation".to_string(); table.num_rows()],
    };
    let starts = table.starts();
    let values = table.floats(column);
    let mut by_group: std::collections::BTreeMap<String, Vec<(i64, Option<f64>)>> =
        std::collections::BTreeMap::new();
    for ((g, t), v) in groups.into_iter().zip(starts).zip(values) {
        by_group.entry(g).or_default().push((t, v));
    }
    by_group
        .into_iter()
        .map(|(name, points)| Series { name, points })
        .collect()
}
