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
//! `src/metrics/surfaces.rs` proves that each entry reaches each output and
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
    /// size, releases), last: each metric followed by its own 95% interval
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

// The metric views' files (queries/README.md), each defining a view keyed
// by `grp, interval_start` that queries/metrics.sql joins.
const DF: QueryFile = query_file!("deployment_frequency.sql");
const LT: QueryFile = query_file!("lead_time.sql");
const CFR: QueryFile = query_file!("change_failure_rate.sql");
const RT: QueryFile = query_file!("recovery_time.sql");
const TTR: QueryFile = query_file!("time_to_restore.sql");
const RW: QueryFile = query_file!("rework_rate.sql");
const FOUR_EYES: QueryFile = query_file!("four_eyes.sql");
const AP: QueryFile = query_file!("deployment_approvals.sql");
const BS: QueryFile = query_file!("batch_size.sql");

/// Every metric column, in output order.
pub const METRICS: [Metric; 39] = [
    Metric {
        openmetrics: om(
            "doralens_deployments",
            "Production deployments in the window",
        ),
        dora_api: Some("deployment_frequency"),
        ..metric("deployments", "Deployments", "Deployments", Unit::Count, DF)
    },
    Metric {
        openmetrics: om(
            "doralens_deploy_days",
            "UTC days with at least one production deployment",
        ),
        ..metric(
            "deploy_days",
            "Days with a deployment",
            "Deploy days",
            Unit::Count,
            DF,
        )
    },
    Metric {
        higher_is_better: Some(true),
        level: Some("df_level"),
        score: Some("deployment_frequency_score"),
        chart: chart("deployment-frequency", Some("Deployment frequency")),
        openmetrics: Some(OpenMetrics {
            family: "doralens_deployment_frequency_per_second",
            help: "Production deployments per second of the window (deploys per day / 86400)",
            scale: 1.0 / 86_400.0,
        }),
        headline: true,
        sample: Some("deployments"),
        ..metric(
            "deploys_per_day",
            "Deployment frequency",
            "Deploys/day",
            Unit::PerDay,
            DF,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_lead_time_changes",
            "Commits with a lead time in the window",
        ),
        ..metric(
            "lead_time_count",
            "Commits with a lead time",
            "Commits",
            Unit::Count,
            LT,
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("lt_level"),
        score: Some("lead_time_score"),
        interval: Some(("lead_time_p50_low_s", "lead_time_p50_high_s")),
        chart: Some(Chart {
            name: "lead-time",
            report: Some("Lead time (median)"),
            distribution: true,
        }),
        openmetrics: om(
            "doralens_lead_time_p50_seconds",
            "Median lead time for changes",
        ),
        dora_api: Some("lead_time_for_changes"),
        headline: true,
        sample: Some("lead_time_count"),
        ..metric(
            "lead_time_p50_s",
            "Lead time for changes (median)",
            "Lead time p50",
            Unit::Seconds,
            LT,
        )
    },
    Metric {
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_lead_time_p90_seconds",
            "90th percentile lead time for changes",
        ),
        ..metric(
            "lead_time_p90_s",
            "Lead time for changes (90th percentile)",
            "Lead time p90",
            Unit::Seconds,
            LT,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_failed_deployments",
            "Production deployments that failed",
        ),
        ..metric(
            "failed_deployments",
            "Failed deployments",
            "Failed",
            Unit::Count,
            CFR,
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("cfr_level"),
        score: Some("change_failure_rate_score"),
        interval: Some(("change_failure_rate_low", "change_failure_rate_high")),
        interval_method: wilson("failed_deployments"),
        chart: chart("change-failure-rate", Some("Change failure rate")),
        openmetrics: om(
            "doralens_change_failure_ratio",
            "Failed production deployments / production deployments",
        ),
        dora_api: Some("change_failure_rate"),
        headline: true,
        sample: Some("deployments"),
        ..metric(
            "change_failure_rate",
            "Change failure rate",
            "Change fail",
            Unit::Ratio,
            CFR,
        )
    },
    Metric {
        ..metric(
            "recovery_count",
            "Recovered failures",
            "Recoveries",
            Unit::Count,
            RT,
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("rt_level"),
        score: Some("recovery_time_score"),
        interval: Some(("recovery_time_p50_low_s", "recovery_time_p50_high_s")),
        chart: chart("recovery-time", None),
        openmetrics: om(
            "doralens_recovery_time_p50_seconds",
            "Median failed deployment recovery time",
        ),
        dora_api: Some("recovery_time"),
        headline: true,
        sample: Some("recovery_count"),
        ..metric(
            "recovery_time_p50_s",
            "Failed deployment recovery time (median)",
            "Recovery p50",
            Unit::Seconds,
            RT,
        )
    },
    Metric {
        higher_is_better: Some(false),
        ..metric(
            "recovery_time_p90_s",
            "Failed deployment recovery time (90th percentile)",
            "Recovery p90",
            Unit::Seconds,
            RT,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_open_failures",
            "Failed deployments with an unresolved incident",
        ),
        ..metric("open_failures", "Open failures", "Open", Unit::Count, RT)
    },
    Metric {
        openmetrics: om("doralens_incidents", "Incidents created in the window"),
        ..metric("incidents", "Incidents", "Incidents", Unit::Count, TTR)
    },
    Metric {
        higher_is_better: Some(false),
        interval: Some(("time_to_restore_p50_low_s", "time_to_restore_p50_high_s")),
        chart: chart("time-to-restore", None),
        openmetrics: om(
            "doralens_time_to_restore_p50_seconds",
            "Median incident time to restore",
        ),
        dora_api: Some("time_to_restore_service"),
        ..metric(
            "time_to_restore_p50_s",
            "Time to restore (median, incidents)",
            "Restore p50",
            Unit::Seconds,
            TTR,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_rework_deployments",
            "Production deployments that were rework",
        ),
        ..metric(
            "rework_deployments",
            "Rework deployments",
            "Rework",
            Unit::Count,
            RW,
        )
    },
    Metric {
        higher_is_better: Some(false),
        score: Some("rework_rate_score"),
        interval: Some(("rework_rate_low", "rework_rate_high")),
        interval_method: wilson("rework_deployments"),
        chart: chart("rework-rate", None),
        openmetrics: om(
            "doralens_rework_ratio",
            "Rework deployments / production deployments",
        ),
        dora_api: Some("rework_rate"),
        headline: true,
        sample: Some("deployments"),
        ..metric(
            "rework_rate",
            "Deployment rework rate",
            "Rework rate",
            Unit::Ratio,
            RW,
        )
    },
    Metric {
        part: Part::Links,
        openmetrics: om(
            "doralens_failures_explicit",
            "Failed deployments with an explicit link (incident deployment id or sha, rollback)",
        ),
        ..metric(
            "failures_explicit",
            "Failures linked explicitly",
            "Explicit links",
            Unit::Count,
            CFR,
        )
    },
    Metric {
        part: Part::Links,
        openmetrics: om(
            "doralens_failures_inferred",
            "Failed deployments linked to an incident only by timing",
        ),
        ..metric(
            "failures_inferred",
            "Failures linked only by timing",
            "Inferred links",
            Unit::Count,
            CFR,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_production_changes",
            "Merged changes whose merge commit reached production in the window",
        ),
        ..metric(
            "production_changes",
            "Changes that reached production",
            "Prod changes",
            Unit::Count,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_four_eyes_changes",
            "Production changes approved before the merge by someone other than the author, not a bot",
        ),
        ..metric(
            "four_eyes_changes",
            "Changes with a second pair of eyes",
            "Four-eyes",
            Unit::Count,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(true),
        openmetrics: om(
            "doralens_four_eyes_ratio",
            "Four-eyes changes / changes that reached production",
        ),
        ..metric(
            "four_eyes_share",
            "Four-eyes share",
            "Four-eyes %",
            Unit::Ratio,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        interval: Some((
            "time_to_first_review_p50_low_s",
            "time_to_first_review_p50_high_s",
        )),
        openmetrics: om(
            "doralens_time_to_first_review_p50_seconds",
            "Median time from opening a change to its first review by someone else",
        ),
        ..metric(
            "time_to_first_review_p50_s",
            "Time to first review (median)",
            "1st review p50",
            Unit::Seconds,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_time_to_first_review_p90_seconds",
            "90th percentile time from opening a change to its first review by someone else",
        ),
        ..metric(
            "time_to_first_review_p90_s",
            "Time to first review (90th percentile)",
            "1st review p90",
            Unit::Seconds,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        interval: Some((
            "approval_to_merge_p50_low_s",
            "approval_to_merge_p50_high_s",
        )),
        openmetrics: om(
            "doralens_approval_to_merge_p50_seconds",
            "Median time from a change's last counting approval to its merge",
        ),
        ..metric(
            "approval_to_merge_p50_s",
            "Approval to merge (median)",
            "Approval p50",
            Unit::Seconds,
            FOUR_EYES,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_approval_to_merge_p90_seconds",
            "90th percentile time from a change's last counting approval to its merge",
        ),
        ..metric(
            "approval_to_merge_p90_s",
            "Approval to merge (90th percentile)",
            "Approval p90",
            Unit::Seconds,
            FOUR_EYES,
        )
    },
    // Release governance: deployment approvals (docs/metrics.md 8.1).
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_approved_deployments",
            "Production deployments approved by someone other than who triggered them",
        ),
        ..metric(
            "approved_deployments",
            "Deployments approved by another person",
            "Approved",
            Unit::Count,
            AP,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(true),
        openmetrics: om(
            "doralens_deployment_approval_ratio",
            "Approved production deployments / production deployments",
        ),
        ..metric(
            "deployment_approval_share",
            "Share of deployments approved by another person",
            "Approved share",
            Unit::Ratio,
            AP,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_self_approved_deployments",
            "Production deployments approved only by who triggered them",
        ),
        ..metric(
            "self_approved_deployments",
            "Deployments approved only by their triggerer",
            "Self-approved",
            Unit::Count,
            AP,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        interval: Some(("approval_wait_p50_low_s", "approval_wait_p50_high_s")),
        openmetrics: om(
            "doralens_approval_wait_p50_seconds",
            "Median wait of a production deployment for its approval",
        ),
        ..metric(
            "approval_wait_p50_s",
            "Approval wait (median)",
            "Approval p50",
            Unit::Seconds,
            AP,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_approval_wait_p90_seconds",
            "90th percentile wait of a production deployment for its approval",
        ),
        ..metric(
            "approval_wait_p90_s",
            "Approval wait (90th percentile)",
            "Approval p90",
            Unit::Seconds,
            AP,
        )
    },
    // Release governance: batch size (docs/metrics.md 8.2).
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_changes_per_deployment_p50",
            "Median merged changes a production deployment shipped",
        ),
        ..metric(
            "changes_per_deployment_p50",
            "Changes per deployment (median)",
            "Chg/deploy p50",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_changes_per_deployment_p90",
            "90th percentile of merged changes a production deployment shipped",
        ),
        ..metric(
            "changes_per_deployment_p90",
            "Changes per deployment (90th percentile)",
            "Chg/deploy p90",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_commits_per_deployment_p50",
            "Median commits a production deployment shipped",
        ),
        ..metric(
            "commits_per_deployment_p50",
            "Commits per deployment (median)",
            "Cmt/deploy p50",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_commits_per_deployment_p90",
            "90th percentile of commits a production deployment shipped",
        ),
        ..metric(
            "commits_per_deployment_p90",
            "Commits per deployment (90th percentile)",
            "Cmt/deploy p90",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om("doralens_sized_changes", "Shipped changes with line counts"),
        ..metric(
            "sized_changes",
            "Shipped changes with line counts",
            "Sized changes",
            Unit::Count,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_change_lines_p50",
            "Median lines changed per shipped change (exclusions left out)",
        ),
        ..metric(
            "change_lines_p50",
            "Lines per change (median)",
            "Lines p50",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_change_lines_p90",
            "90th percentile of lines changed per shipped change",
        ),
        ..metric(
            "change_lines_p90",
            "Lines per change (90th percentile)",
            "Lines p90",
            Unit::Number,
            BS,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_large_changes",
            "Shipped changes over the large-change threshold",
        ),
        ..metric("large_changes", "Large changes", "Large", Unit::Count, BS)
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_large_change_ratio",
            "Large changes / shipped changes with line counts",
        ),
        ..metric(
            "large_change_share",
            "Share of large changes",
            "Large share",
            Unit::Ratio,
            BS,
        )
    },
];

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
