//! Release governance entries ([`Part::Governance`]): reviews and the
//! four-eyes share (docs/metrics.md section 8), deployment approvals (9.1)
//! and batch size (9.2).

use super::*;

const FOUR_EYES: QueryFile = query_file!("four_eyes.sql");
const AP: QueryFile = query_file!("deployment_approvals.sql");
const BS: QueryFile = query_file!("batch_size.sql");

/// Reviews and the four-eyes share (`four_eyes.sql`).
pub(super) const REVIEWS: [Metric; 7] = [
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
            "To merge p50",
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
            "To merge p90",
            Unit::Seconds,
            FOUR_EYES,
        )
    },
];

/// Deployment approvals (`deployment_approvals.sql`).
pub(super) const APPROVALS: [Metric; 5] = [
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
            "Wait p50",
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
            "Wait p90",
            Unit::Seconds,
            AP,
        )
    },
];

/// Batch size (`batch_size.sql`).
pub(super) const BATCH: [Metric; 9] = [
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
