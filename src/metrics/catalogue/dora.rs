//! The DORA metrics' entries (docs/metrics.md sections 4 and 6): the
//! [`Part::Main`] columns with their levels and intervals, then the
//! [`Part::Links`] columns.

use super::*;

// The metric views' files (queries/README.md), each defining a view keyed
// by `grp, interval_start` that queries/metrics.sql joins.
const DF: QueryFile = query_file!("deployment_frequency.sql");
const LT: QueryFile = query_file!("lead_time.sql");
const CFR: QueryFile = query_file!("change_failure_rate.sql");
const RT: QueryFile = query_file!("recovery_time.sql");
const TTR: QueryFile = query_file!("time_to_restore.sql");
const RW: QueryFile = query_file!("rework_rate.sql");

/// In output order.
pub(super) const DORA: [Metric; 18] = [
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
];
