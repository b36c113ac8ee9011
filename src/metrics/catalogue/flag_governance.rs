//! Recovery by action and four-eyes on flag changes ([`Part::Governance`];
//! docs/metrics.md sections 4.4 and 9.7): how failed deployments recovered
//! (a rollback, a flag turned back, a hotfix deployment, or unknown), the
//! blast radius of the failures a flag recovered, and how many production
//! flag changes went through a change request.

use super::*;

const FG: QueryFile = query_file!("flag_governance.sql");

/// Recovery by action (`flag_governance.sql`, `recovery_actions`).
pub(super) const RECOVERY_ACTIONS: [Metric; 8] = [
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_recoveries_by_rollback",
            "Failed deployments in the recovery statistic that a rollback recovered",
        ),
        ..metric(
            "recoveries_by_rollback",
            "Recoveries by rollback",
            "By rollback",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_recovery_time_rollback_p50_seconds",
            "Median recovery time of failed deployments a rollback recovered",
        ),
        ..metric(
            "recovery_time_rollback_p50_s",
            "Recovery time by rollback (median)",
            "Rollback p50",
            Unit::Seconds,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_recoveries_by_flag",
            "Failed deployments in the recovery statistic that a feature flag recovered",
        ),
        ..metric(
            "recoveries_by_flag",
            "Recoveries by flag",
            "By flag",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_recovery_time_flag_p50_seconds",
            "Median recovery time of failed deployments a feature flag recovered",
        ),
        ..metric(
            "recovery_time_flag_p50_s",
            "Recovery time by flag (median)",
            "Flag p50",
            Unit::Seconds,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_recoveries_by_hotfix",
            "Failed deployments in the recovery statistic that a later deployment fixed",
        ),
        ..metric(
            "recoveries_by_hotfix",
            "Recoveries by hotfix",
            "By hotfix",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_recovery_time_hotfix_p50_seconds",
            "Median recovery time of failed deployments a later deployment fixed",
        ),
        ..metric(
            "recovery_time_hotfix_p50_s",
            "Recovery time by hotfix (median)",
            "Hotfix p50",
            Unit::Seconds,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_recoveries_unknown",
            "Failed deployments in the recovery statistic with no rollback, flag or hotfix found",
        ),
        ..metric(
            "recoveries_unknown",
            "Recoveries by unknown action",
            "By unknown",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_blast_radius_p50_percent",
            "Median share of users (0-100) a flag exposed when the failure it recovered was caught",
        ),
        ..metric(
            "blast_radius_p50",
            "Blast radius of flag recoveries (median %)",
            "Blast p50 %",
            Unit::Number,
            FG,
        )
    },
];

/// Four-eyes on production flag changes (`flag_governance.sql`,
/// `flag_change_governance`).
pub(super) const FLAG_CHANGES: [Metric; 3] = [
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_production_flag_changes",
            "Feature flag changes in production environments in the window",
        ),
        ..metric(
            "production_flag_changes",
            "Production flag changes",
            "Flag changes",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_gated_flag_changes",
            "Production flag changes that went through an approved change request",
        ),
        ..metric(
            "gated_flag_changes",
            "Gated flag changes",
            "Gated changes",
            Unit::Count,
            FG,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(true),
        openmetrics: om(
            "doralens_flag_change_gated_ratio",
            "Gated flag changes / production flag changes",
        ),
        ..metric(
            "flag_change_gated_share",
            "Share of gated flag changes",
            "Gated %",
            Unit::Ratio,
            FG,
        )
    },
];
