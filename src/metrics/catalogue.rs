//! The metric catalogue: every column a metrics row carries, once, with
//! what each output needs to show it: a title for people, the unit, which
//! direction is better, its level and 95% interval columns, its OpenMetrics
//! family and its name in the GitLab-shaped DORA API. The readable table,
//! OpenMetrics, `serve`, the levels and the interval columns all iterate
//! this list (docs/adding-a-metric.md says what else a new metric needs).

/// How a metric's values are measured.
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
    /// `Some(true)` when a higher value is better, `Some(false)` when lower
    /// is; `None` for counts that are neither.
    pub higher_is_better: Option<bool>,
    /// The level column computed from this metric.
    pub level: Option<&'static str>,
    /// The 95% interval columns (low, high).
    pub interval: Option<(&'static str, &'static str)>,
    pub openmetrics: Option<OpenMetrics>,
    /// The `metric=` name of `serve`'s DORA API.
    pub dora_api: Option<&'static str>,
    /// One of the five headline metrics (report, table's default columns).
    pub headline: bool,
}

const fn metric(
    column: &'static str,
    title: &'static str,
    short: &'static str,
    unit: Unit,
) -> Metric {
    Metric {
        column,
        title,
        short,
        unit,
        higher_is_better: None,
        level: None,
        interval: None,
        openmetrics: None,
        dora_api: None,
        headline: false,
    }
}

const fn om(family: &'static str, help: &'static str) -> Option<OpenMetrics> {
    Some(OpenMetrics {
        family,
        help,
        scale: 1.0,
    })
}

/// Every metric column, in output order.
pub const METRICS: [Metric; 18] = [
    Metric {
        openmetrics: om(
            "doralens_deployments",
            "Production deployments in the window",
        ),
        dora_api: Some("deployment_frequency"),
        ..metric("deployments", "Deployments", "Deployments", Unit::Count)
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
        )
    },
    Metric {
        higher_is_better: Some(true),
        level: Some("df_level"),
        openmetrics: Some(OpenMetrics {
            family: "doralens_deployment_frequency_per_second",
            help: "Production deployments per second of the window (deploys per day / 86400)",
            scale: 1.0 / 86_400.0,
        }),
        headline: true,
        ..metric(
            "deploys_per_day",
            "Deployment frequency",
            "Deploys/day",
            Unit::PerDay,
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
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("lt_level"),
        interval: Some(("lead_time_p50_low_s", "lead_time_p50_high_s")),
        openmetrics: om(
            "doralens_lead_time_p50_seconds",
            "Median lead time for changes",
        ),
        dora_api: Some("lead_time_for_changes"),
        headline: true,
        ..metric(
            "lead_time_p50_s",
            "Lead time for changes (median)",
            "Lead time p50",
            Unit::Seconds,
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
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("cfr_level"),
        interval: Some(("change_failure_rate_low", "change_failure_rate_high")),
        openmetrics: om(
            "doralens_change_failure_ratio",
            "Failed production deployments / production deployments",
        ),
        dora_api: Some("change_failure_rate"),
        headline: true,
        ..metric(
            "change_failure_rate",
            "Change failure rate",
            "Change fail",
            Unit::Ratio,
        )
    },
    Metric {
        ..metric(
            "recovery_count",
            "Recovered failures",
            "Recoveries",
            Unit::Count,
        )
    },
    Metric {
        higher_is_better: Some(false),
        level: Some("rt_level"),
        interval: Some(("recovery_time_p50_low_s", "recovery_time_p50_high_s")),
        openmetrics: om(
            "doralens_recovery_time_p50_seconds",
            "Median failed deployment recovery time",
        ),
        dora_api: Some("recovery_time"),
        headline: true,
        ..metric(
            "recovery_time_p50_s",
            "Failed deployment recovery time (median)",
            "Recovery p50",
            Unit::Seconds,
        )
    },
    Metric {
        higher_is_better: Some(false),
        ..metric(
            "recovery_time_p90_s",
            "Failed deployment recovery time (90th percentile)",
            "Recovery p90",
            Unit::Seconds,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_open_failures",
            "Failed deployments with an unresolved incident",
        ),
        ..metric("open_failures", "Open failures", "Open", Unit::Count)
    },
    Metric {
        openmetrics: om("doralens_incidents", "Incidents created in the window"),
        ..metric("incidents", "Incidents", "Incidents", Unit::Count)
    },
    Metric {
        higher_is_better: Some(false),
        interval: Some(("time_to_restore_p50_low_s", "time_to_restore_p50_high_s")),
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
        )
    },
    Metric {
        higher_is_better: Some(false),
        interval: Some(("rework_rate_low", "rework_rate_high")),
        openmetrics: om(
            "doralens_rework_ratio",
            "Rework deployments / production deployments",
        ),
        dora_api: Some("rework_rate"),
        headline: true,
        ..metric(
            "rework_rate",
            "Deployment rework rate",
            "Rework rate",
            Unit::Ratio,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_failures_explicit",
            "Failed deployments with an explicit link (incident deployment id or sha, rollback)",
        ),
        ..metric(
            "failures_explicit",
            "Failures linked explicitly",
            "Explicit links",
            Unit::Count,
        )
    },
    Metric {
        openmetrics: om(
            "doralens_failures_inferred",
            "Failed deployments linked to an incident only by timing",
        ),
        ..metric(
            "failures_inferred",
            "Failures linked only by timing",
            "Inferred links",
            Unit::Count,
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

/// Every 95% interval column, low then high, in output order.
pub fn interval_columns() -> impl Iterator<Item = &'static str> {
    METRICS
        .iter()
        .filter_map(|m| m.interval)
        .flat_map(|(low, high)| [low, high])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_listed_once_and_short_titles_are_short() {
        let mut columns: Vec<&str> = METRICS.iter().map(|m| m.column).collect();
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), METRICS.len());
        for m in METRICS {
            assert!(m.short.chars().count() <= 14, "{}", m.short);
        }
        assert_eq!(METRICS.iter().filter(|m| m.headline).count(), 5);
    }

    #[test]
    fn the_interval_columns_in_output_order_are_the_catalogues() {
        let mut ours: Vec<&str> = interval_columns().collect();
        let mut output = crate::metrics::INTERVAL_COLUMNS.to_vec();
        ours.sort();
        output.sort();
        assert_eq!(ours, output);
    }
}
