//! The metric catalogue: the one place a metric is written. Each entry
//! says what every output needs to show the metric, and every output
//! iterates [`METRICS`]:
//!
//! - the SQL views registered for `metrics` ([`views`], in entry order);
//! - the output columns, their order and Arrow types (`src/metrics/output.rs`):
//!   the [`Part::Main`] columns, then the levels, the 95% intervals (Wilson
//!   first, then the SQL's), then the [`Part::Links`] columns, then the
//!   [`Part::Governance`] columns (each followed by its own interval);
//! - the readable table (`src/render/table.rs`), OpenMetrics, `serve`'s DORA
//!   API, the levels (`queries/levels/*.csv`), `doralens chart` and
//!   `benchmark`'s charts, and the weekly report's rows and charts.
//!
//! `src/surfaces.rs` (a test) proves that each entry reaches each output and
//! that no output knows a metric missing here; docs/adding-a-metric.md has
//! the recipe.

use crate::engine::queries::{self, QueryFile, query_file};

/// How a metric's values are measured; it fixes the Arrow type (a count is
/// a non-null Int64, the others nullable Float64), how values read in the
/// table and the report, and a chart's axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things.
    Count,
    /// Deployments per day.
    PerDay,
    /// A duration in seconds.
    Seconds,
    /// A fraction in [0, 1].
    Ratio,
    /// A quantile of a per-item quantity (changes per deployment, lines per
    /// change): possibly fractional, and unknown with no item.
    Number,
}

impl Unit {
    /// The column's Arrow type and nullability.
    pub fn arrow_type(self) -> (datafusion::arrow::datatypes::DataType, bool) {
        use datafusion::arrow::datatypes::DataType;
        match self {
            Unit::Count => (DataType::Int64, false),
            Unit::PerDay | Unit::Seconds | Unit::Ratio | Unit::Number => (DataType::Float64, true),
        }
    }
}

/// Where a column goes in a metrics row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// docs/metrics.md section 6, before the levels.
    Main,
    /// How failed deployments were linked (doralens's addition), after the
    /// intervals.
    Links,
    /// Release governance (doralens's addition: reviews, approvals, batch
    /// size, releases, flag debt), last: each metric followed by its own 95% interval
    /// columns when it has them (always from the SQL), so adding one never
    /// moves an existing column. No level columns.
    Governance,
}

/// How a metric's 95% interval columns are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Wilson score interval of `successes` out of `trials` (two count
    /// columns), computed in Rust (`src/metrics/stats.rs`).
    Wilson {
        successes: &'static str,
        trials: &'static str,
    },
    /// Both columns come from `queries/metrics.sql` (medians' intervals,
    /// from `duration_summary`).
    Sql,
}

/// A chart of the metric: `doralens chart <name>` (files `<name>*.svg` and
/// `.png`); its axis follows the metric's unit.
#[derive(Debug, Clone, Copy)]
pub struct Chart {
    pub name: &'static str,
    /// The weekly report draws it, under this title.
    pub report: Option<&'static str>,
    /// `--kind distribution` draws its per-commit samples (lead time).
    pub distribution: bool,
}

/// An OpenMetrics gauge family.
#[derive(Debug, Clone, Copy)]
pub struct OpenMetrics {
    pub family: &'static str,
    pub help: &'static str,
    /// Multiplies the value into the family's base unit.
    pub scale: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The output column (docs/metrics.md section 6).
    pub column: &'static str,
    /// For people: headings, table rows, charts.
    pub title: &'static str,
    /// A short heading for a table column (at most 14 characters).
    pub short: &'static str,
    pub unit: Unit,
    /// The `queries/` file whose view `queries/metrics.sql` reads it from.
    pub view: QueryFile,
    pub part: Part,
    /// `Some(true)` when a higher value is better, `Some(false)` when lower
    /// is; `None` for counts that are neither.
    pub higher_is_better: Option<bool>,
    /// The level column computed from this metric (bands in
    /// `queries/levels/*.csv` under the metric's column).
    pub level: Option<&'static str>,
    /// The 0-10 score column of a scored benchmark (dora-2025, the Quick
    /// Check's scale, 10 best; `src/metrics/scores.rs`), present only
    /// under such a benchmark.
    pub score: Option<&'static str>,
    /// The 95% interval columns (low, high), found by `interval_method`.
    pub interval: Option<(&'static str, &'static str)>,
    pub interval_method: Method,
    pub chart: Option<Chart>,
    pub openmetrics: Option<OpenMetrics>,
    /// The `metric=` name of `serve`'s DORA API.
    pub dora_api: Option<&'static str>,
    /// One of the headline metrics (the report's tables, the table's
    /// default columns, the dashboard's tiles).
    pub headline: bool,
    /// The count column the value is computed over (its sample size,
    /// shown beside it on the dashboard's tiles).
    pub sample: Option<&'static str>,
}

const fn metric(
    column: &'static str,
    title: &'static str,
    short: &'static str,
    unit: Unit,
    view: QueryFile,
) -> Metric {
    Metric {
        column,
        title,
        short,
        unit,
        view,
        part: Part::Main,
        higher_is_better: None,
        level: None,
        score: None,
        interval: None,
        interval_method: Method::Sql,
        chart: None,
        openmetrics: None,
        dora_api: None,
        headline: false,
        sample: None,
    }
}

const fn om(family: &'static str, help: &'static str) -> Option<OpenMetrics> {
    Some(OpenMetrics {
        family,
        help,
        scale: 1.0,
    })
}

const fn wilson(successes: &'static str) -> Method {
    Method::Wilson {
        successes,
        trials: "deployments",
    }
}

const fn chart(name: &'static str, report: Option<&'static str>) -> Option<Chart> {
    Some(Chart {
        name,
        report,
        distribution: false,
    })
}

mod dora;
mod flag_debt;
mod flag_governance;
mod governance;
mod releases;

/// Every metric column, in output order: the DORA metrics, then release
/// governance.
pub static METRICS: [Metric; 66] = join(&[
    &dora::DORA,
    &governance::REVIEWS,
    &governance::APPROVALS,
    &governance::BATCH,
    &releases::RELEASES,
    &flag_debt::FLAG_DEBT,
    &flag_governance::RECOVERY_ACTIONS,
    &flag_governance::FLAG_CHANGES,
]);

/// The parts, one after the other (`N` must be their total length).
const fn join<const N: usize>(parts: &[&[Metric]]) -> [Metric; N] {
    let mut out = [parts[0][0]; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[at] = parts[p][i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(at == N, "METRICS' length is not the parts' total");
    out
}

/// The metric of an output column.
pub fn by_column(column: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.column == column)
}

/// The metric a DORA API `metric=` name asks for.
pub fn by_dora_api(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.dora_api == Some(name))
}

/// The DORA API's metric names, comma-separated (for messages).
pub fn dora_api_names() -> String {
    METRICS
        .iter()
        .filter_map(|m| m.dora_api)
        .collect::<Vec<_>>()
        .join(", ")
}

/// (metric column, level column) of every metric with a level.
pub fn levelled() -> impl Iterator<Item = (&'static str, &'static str)> {
    METRICS
        .iter()
        .filter_map(|m| m.level.map(|l| (m.column, l)))
}

/// (metric column, score column) of every metric with a score.
pub fn scored() -> impl Iterator<Item = (&'static str, &'static str)> {
    METRICS
        .iter()
        .filter_map(|m| m.score.map(|s| (m.column, s)))
}

/// The metrics of one part of a row, in catalogue order.
pub fn part(part: Part) -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(move |m| m.part == part)
}

/// The report section that shows a group of [`Part::Governance`] metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// "Release governance": reviews, approvals, batch size.
    Governance,
    /// "Releases and flags": deploy is not release.
    Releases,
}

/// The [`Part::Governance`] metrics in their groups, each with a heading
/// (the report's per-team tables, one per group) and the report section
/// that shows it, in catalogue order.
pub const GOVERNANCE_GROUPS: [(&str, Section, &[Metric]); 7] = [
    ("Reviews", Section::Governance, &governance::REVIEWS),
    (
        "Deployment approvals",
        Section::Governance,
        &governance::APPROVALS,
    ),
    ("Batch size", Section::Governance, &governance::BATCH),
    ("Flag releases", Section::Releases, &releases::RELEASES),
    ("Flag debt", Section::Releases, &flag_debt::FLAG_DEBT),
    (
        "Recovery by action",
        Section::Releases,
        &flag_governance::RECOVERY_ACTIONS,
    ),
    (
        "Flag changes",
        Section::Releases,
        &flag_governance::FLAG_CHANGES,
    ),
];

/// The groups a report section shows, in catalogue order.
pub fn groups(section: Section) -> impl Iterator<Item = (&'static str, &'static [Metric])> {
    GOVERNANCE_GROUPS
        .iter()
        .filter(move |(_, s, _)| *s == section)
        .map(|(title, _, metrics)| (*title, *metrics))
}

/// The metrics with a 95% interval in output order: the Wilson intervals
/// first, then the SQL's (each in catalogue order).
/// [`Part::Governance`] metrics carry theirs beside them instead
/// ([`governance_columns`]).
pub fn with_intervals() -> impl Iterator<Item = &'static Metric> {
    let of = |wilson: bool| {
        METRICS.iter().filter(move |m| {
            m.part != Part::Governance
                && m.interval.is_some()
                && matches!(m.interval_method, Method::Wilson { .. }) == wilson
        })
    };
    of(true).chain(of(false))
}

/// Every 95% interval column, low then high, in output order.
pub fn interval_columns() -> impl Iterator<Item = &'static str> {
    with_intervals()
        .filter_map(|m| m.interval)
        .flat_map(|(low, high)| [low, high])
}

/// The [`Part::Governance`] columns in output order: each metric, then
/// its interval's low and high when it has one.
pub fn governance_columns() -> impl Iterator<Item = (&'static Metric, &'static str)> {
    part(Part::Governance).flat_map(|m| {
        std::iter::once((m, m.column)).chain(
            m.interval
                .into_iter()
                .flat_map(move |(low, high)| [(m, low), (m, high)]),
        )
    })
}

/// The headline metrics, in catalogue order.
pub fn headline() -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(|m| m.headline)
}

/// The metrics with a chart, with it, in catalogue order.
pub fn charted() -> impl Iterator<Item = (&'static Metric, Chart)> {
    METRICS.iter().filter_map(|m| m.chart.map(|c| (m, c)))
}

/// The metric `doralens chart <name>` draws.
pub fn by_chart(name: &str) -> Option<&'static Metric> {
    charted().find(|(_, c)| c.name == name).map(|(m, _)| m)
}

/// The views `queries/metrics.sql` reads, in dependency order: the
/// production deployments of each group first, then each metric's file in
/// catalogue order (a file listed once; a view that reads another's comes
/// after it), the lead-time breakdown (docs/metrics.md section 7) after the
/// [`Part::Main`] and [`Part::Links`] files, and the [`Part::Governance`]
/// files last (they may read the breakdown's `change_lead_times`).
pub fn views() -> Vec<QueryFile> {
    let mut out = vec![queries::GROUPED_DEPLOYMENTS];
    let add = |out: &mut Vec<QueryFile>, file: QueryFile| {
        if !out.iter().any(|v| v.path == file.path) {
            out.push(file);
        }
    };
    for m in METRICS.iter().filter(|m| m.part != Part::Governance) {
        add(&mut out, m.view);
    }
    add(&mut out, queries::CHANGE_LEAD_TIME);
    for m in part(Part::Governance) {
        add(&mut out, m.view);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_listed_once_and_short_titles_are_short() {
        let mut columns: Vec<&str> = METRICS
            .iter()
            .flat_map(|m| {
                let bounds = m.interval.map(|(l, h)| [l, h]);
                std::iter::once(m.column)
                    .chain(m.level)
                    .chain(m.score)
                    .chain(bounds.into_iter().flatten())
            })
            .collect();
        let n = columns.len();
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), n, "a column is named twice");
        for m in METRICS {
            assert!(m.short.chars().count() <= 14, "{}", m.short);
            assert!(!m.headline || m.higher_is_better.is_some(), "{}", m.column);
        }
        let mut charts: Vec<&str> = charted().map(|(_, c)| c.name).collect();
        let n = charts.len();
        charts.sort();
        charts.dedup();
        assert_eq!(charts.len(), n, "a chart is named twice");
    }

    #[test]
    fn wilson_intervals_count_catalogued_counts() {
        for m in with_intervals() {
            if let Method::Wilson { successes, trials } = m.interval_method {
                for c in [successes, trials] {
                    assert_eq!(
                        by_column(c).map(|c| c.unit),
                        Some(Unit::Count),
                        "{}: {c}",
                        m.column
                    );
                }
                assert_eq!(m.unit, Unit::Ratio, "{}", m.column);
            }
        }
    }

    #[test]
    fn every_headline_metric_names_its_sample_count() {
        for m in headline() {
            let sample = m
                .sample
                .unwrap_or_else(|| panic!("{} has no sample", m.column));
            let count = by_column(sample).unwrap_or_else(|| panic!("{sample} is no metric"));
            assert_eq!(count.unit, Unit::Count, "{}: {sample}", m.column);
        }
    }

    #[test]
    fn governance_groups_are_the_governance_part_in_order() {
        let grouped: Vec<&str> = GOVERNANCE_GROUPS
            .iter()
            .flat_map(|(_, _, ms)| ms.iter().map(|m| m.column))
            .collect();
        let part: Vec<&str> = part(Part::Governance).map(|m| m.column).collect();
        assert_eq!(grouped, part);
    }

    #[test]
    fn governance_metrics_have_no_level_and_sql_intervals() {
        for m in part(Part::Governance) {
            assert!(
                m.level.is_none(),
                "{}: a governance metric has no level",
                m.column
            );
            if m.interval.is_some() {
                assert_eq!(m.interval_method, Method::Sql, "{}", m.column);
            }
        }
    }

    #[test]
    fn views_come_in_dependency_order_once_each() {
        let paths: Vec<&str> = views().iter().map(|v| v.path).collect();
        assert_eq!(paths.first(), Some(&"grouped_deployments.sql"));
        // recovery_time.sql reads change_failure_rate.sql's failure links;
        // the governance files may read change_lead_time.sql's views.
        let at = |p: &str| paths.iter().position(|x| *x == p).unwrap();
        assert!(at("change_failure_rate.sql") < at("recovery_time.sql"));
        for m in part(Part::Governance) {
            assert!(at("change_lead_time.sql") < at(m.view.path), "{}", m.column);
        }
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), paths.len());
    }
}
