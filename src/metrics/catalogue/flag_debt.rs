//! Flag debt ([`Part::Governance`]; docs/metrics.md section 9.6): flags
//! that outlived their purpose. The counts are stocks at each bucket's end,
//! so each bucket is a point of the trend; removals are counted in the
//! bucket the flag's code left.

use super::*;

const FD: QueryFile = query_file!("flag_debt.sql");

/// Flag debt (`flag_debt.sql`).
pub(super) const FLAG_DEBT: [Metric; 8] = [
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_active_flags",
            "Feature flags created and not archived at the bucket's end",
        ),
        ..metric(
            "active_flags",
            "Active flags",
            "Active flags",
            Unit::Count,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_stale_flags",
            "Active feature flags that are stale at the bucket's end",
        ),
        ..metric("stale_flags", "Stale flags", "Stale flags", Unit::Count, FD)
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        sample: Some("active_flags"),
        openmetrics: om(
            "doralens_stale_flag_ratio",
            "Stale flags / active flags at the bucket's end",
        ),
        ..metric(
            "stale_flag_share",
            "Share of stale flags",
            "Stale %",
            Unit::Ratio,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_unowned_flags",
            "Active feature flags without an owner at the bucket's end",
        ),
        ..metric(
            "unowned_flags",
            "Flags without an owner",
            "Unowned flags",
            Unit::Count,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_flag_age_p50_seconds",
            "Median age of the active feature flags at the bucket's end",
        ),
        ..metric(
            "flag_age_p50_s",
            "Flag age (median)",
            "Flag age p50",
            Unit::Seconds,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_removed_flags",
            "Released feature flags whose code was removed in the window",
        ),
        ..metric(
            "removed_flags",
            "Flags removed from code",
            "Removed flags",
            Unit::Count,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        interval: Some((
            "release_to_removal_p50_low_s",
            "release_to_removal_p50_high_s",
        )),
        openmetrics: om(
            "doralens_release_to_removal_p50_seconds",
            "Median time from a flag's release to the removal of its code",
        ),
        ..metric(
            "release_to_removal_p50_s",
            "Release to code removal (median)",
            "Rel→rm p50",
            Unit::Seconds,
            FD,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_release_to_removal_p90_seconds",
            "90th percentile time from a flag's release to the removal of its code",
        ),
        ..metric(
            "release_to_removal_p90_s",
            "Release to code removal (90th percentile)",
            "Rel→rm p90",
            Unit::Seconds,
            FD,
        )
    },
];
