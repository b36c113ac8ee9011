//! Releases of feature flags ([`Part::Governance`]; docs/metrics.md
//! section 9.3): deploy is not release, so how often flags reach all users
//! in production, how gradually, and how long after the deployment that
//! shipped their code (section 9.5).

use super::*;

const RL: QueryFile = query_file!("releases.sql");

/// Releases (`releases.sql`).
pub(super) const RELEASES: [Metric; 8] = [
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_releases",
            "Feature flags released to all users in production in the window",
        ),
        ..metric("releases", "Flag releases", "Releases", Unit::Count, RL)
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(true),
        openmetrics: Some(OpenMetrics {
            family: "doralens_release_frequency_per_second",
            help: "Flag releases per second of the window (releases per day / 86400)",
            scale: 1.0 / 86_400.0,
        }),
        sample: Some("releases"),
        ..metric(
            "releases_per_day",
            "Release frequency",
            "Releases/day",
            Unit::PerDay,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_progressive_releases",
            "Flag releases that reached all users in steps",
        ),
        ..metric(
            "progressive_releases",
            "Progressive releases",
            "Progressive",
            Unit::Count,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(true),
        openmetrics: om(
            "doralens_progressive_release_ratio",
            "Progressive releases / flag releases",
        ),
        ..metric(
            "progressive_release_share",
            "Share of progressive releases",
            "Progressive %",
            Unit::Ratio,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        interval: Some(("rollout_duration_p50_low_s", "rollout_duration_p50_high_s")),
        openmetrics: om(
            "doralens_rollout_duration_p50_seconds",
            "Median time from a flag's first exposure in production to its release",
        ),
        ..metric(
            "rollout_duration_p50_s",
            "Rollout duration (median)",
            "Rollout p50",
            Unit::Seconds,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        openmetrics: om(
            "doralens_rollout_duration_p90_seconds",
            "90th percentile time from a flag's first exposure in production to its release",
        ),
        ..metric(
            "rollout_duration_p90_s",
            "Rollout duration (90th percentile)",
            "Rollout p90",
            Unit::Seconds,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        interval: Some((
            "deploy_to_release_p50_low_s",
            "deploy_to_release_p50_high_s",
        )),
        openmetrics: om(
            "doralens_deploy_to_release_p50_seconds",
            "Median time from the production deployment that shipped a flag's code to its release",
        ),
        ..metric(
            "deploy_to_release_p50_s",
            "Deploy to release (median)",
            "Deploy→rel p50",
            Unit::Seconds,
            RL,
        )
    },
    Metric {
        part: Part::Governance,
        higher_is_better: Some(false),
        openmetrics: om(
            "doralens_deploy_to_release_p90_seconds",
            "90th percentile time from the production deployment that shipped a flag's code to its release",
        ),
        ..metric(
            "deploy_to_release_p90_s",
            "Deploy to release (90th percentile)",
            "Deploy→rel p90",
            Unit::Seconds,
            RL,
        )
    },
];
