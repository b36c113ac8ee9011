//! `doralens chart <metric>`: the metric as SVG and PNG files.

use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metrics::{self, MetricsOptions};
use crate::render::chart::{self, Unit, series};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChartMetric {
    DeploymentFrequency,
    LeadTime,
    ChangeFailureRate,
    RecoveryTime,
    ReworkRate,
    TimeToRestore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChartKind {
    /// One line per group over the buckets, level bands shaded
    Series,
    /// Histogram of per-commit lead times with p50 and p90 (lead-time only)
    Distribution,
    /// One bar per group with its 95% interval
    Comparison,
}

pub struct MetricSpec {
    pub column: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    /// The 95% interval columns, when the metric has them.
    pub interval: Option<(&'static str, &'static str)>,
    pub file: &'static str,
}

impl ChartMetric {
    /// The chart's column and file name; its title and interval columns
    /// come from the metric catalogue, its axis unit is the chart's.
    pub fn spec(self) -> MetricSpec {
        let (column, unit, file) = match self {
            ChartMetric::DeploymentFrequency => {
                ("deploys_per_day", Unit::PER_DAY, "deployment-frequency")
            }
            ChartMetric::LeadTime => ("lead_time_p50_s", Unit::HOURS, "lead-time"),
            ChartMetric::ChangeFailureRate => {
                ("change_failure_rate", Unit::PERCENT, "change-failure-rate")
            }
            ChartMetric::RecoveryTime => ("recovery_time_p50_s", Unit::HOURS, "recovery-time"),
            ChartMetric::ReworkRate => ("rework_rate", Unit::PERCENT, "rework-rate"),
            ChartMetric::TimeToRestore => ("time_to_restore_p50_s", Unit::HOURS, "time-to-restore"),
        };
        let metric = crate::metrics::catalogue::by_column(column).expect("a catalogued column");
        MetricSpec {
            column,
            title: metric.title,
            unit,
            interval: metric.bounds(),
            file,
        }
    }
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
    metric: ChartMetric,
    kind: ChartKind,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let spec = metric.spec();
    let group_column = opts.group.map(|g| g.column());
    let who = match group_column {
        Some(g) => format!(" by {g}"),
        None => String::new(),
    };
    let (svg, name) = match kind {
        ChartKind::Series => {
            let table = metrics::compute(engine, opts).await?;
            let bands = opts.benchmark.ranges(spec.column);
            let title = format!("{}{who}", spec.title);
            (
                chart::time_series(
                    &title,
                    spec.unit,
                    &series(&table, spec.column, group_column),
                    &bands,
                )?,
                spec.file.to_string(),
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
            let values = table.floats(spec.column);
            let (low, high) = match spec.interval {
                Some((l, h)) => (table.floats(l), table.floats(h)),
                None => (vec![None; values.len()], vec![None; values.len()]),
            };
            let items: Vec<_> = names
                .into_iter()
                .zip(values)
                .zip(low.into_iter().zip(high))
                .map(|((n, v), (l, h))| (n, v, l, h))
                .collect();
            let title = format!("{}{who}, with 95% intervals", spec.title);
            (
                chart::comparison(&title, spec.unit, &items)?,
                format!("{}-comparison", spec.file),
            )
        }
        ChartKind::Distribution => {
            if metric != ChartMetric::LeadTime {
                return Err(Error::usage(
                    "--kind",
                    "distribution is drawn for lead-time (per-commit samples)",
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
                chart::distribution(&title, Unit::HOURS, &samples, q(0.5), q(0.9))?,
                "lead-time-distribution".to_string(),
            )
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    let png = chart::png(&svg)?;
    crate::store::warehouse::atomic_write(&svg_path, |f| {
        std::io::Write::write_all(f, svg.as_bytes())
    })?;
    crate::store::warehouse::atomic_write(&png_path, |f| std::io::Write::write_all(f, &png))?;
    Ok(vec![svg_path, png_path])
}
