//! What a weekly report says: plain data, built by [`super::build`] and
//! turned into a document by [`super::document`]. Values are already
//! formatted for people here (with [`Kind`]), so both outputs print the same
//! text.

use crate::base::time::Timestamp;

/// How a metric's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Per day: `1.25/day`.
    Frequency,
    /// Seconds, shown in minutes, hours or days.
    Duration,
    /// A ratio, shown as a percentage; changes are in percentage points.
    Rate,
    /// A number of things.
    Count,
    /// A plain quantity (lines, changes): `12` or `2.5`.
    Number,
}

impl Kind {
    /// From the metric catalogue's unit.
    pub fn of(unit: crate::metrics::catalogue::Unit) -> Kind {
        use crate::metrics::catalogue::Unit;
        match unit {
            Unit::PerDay => Kind::Frequency,
            Unit::Count => Kind::Count,
            Unit::Seconds => Kind::Duration,
            Unit::Ratio => Kind::Rate,
            Unit::Number => Kind::Number,
        }
    }

    /// A value, or "–" for none.
    pub fn value(self, v: Option<f64>) -> String {
        let Some(v) = v else {
            return "–".into();
        };
        match self {
            Kind::Frequency => format!("{v:.2}/day"),
            Kind::Count => format!("{v:.0}"),
            Kind::Rate => format!("{:.1}%", v * 100.0),
            Kind::Number => crate::render::table::format_number(v),
            Kind::Duration => {
                let hours = v / 3600.0;
                if hours < 1.0 {
                    format!("{:.0} min", v / 60.0)
                } else if hours < 48.0 {
                    format!("{hours:.1} h")
                } else {
                    format!("{:.1} d", hours / 24.0)
                }
            }
        }
    }

    /// `low–high`, or empty when either end is unknown.
    pub fn range(self, low: Option<f64>, high: Option<f64>) -> String {
        match (low, high) {
            (Some(l), Some(h)) => format!("{}–{}", self.value(Some(l)), self.value(Some(h))),
            _ => String::new(),
        }
    }

    /// "+12%" / "−3.0 pp" (rates in percentage points) / "–".
    pub fn change(self, now: Option<f64>, then: Option<f64>) -> String {
        match (now, then) {
            (Some(n), Some(t)) => match self {
                Kind::Rate => format!("{:+.1} pp", (n - t) * 100.0),
                _ if t == 0.0 => "–".into(),
                _ => format!("{:+.0}%", (n / t - 1.0) * 100.0),
            },
            _ => "–".into(),
        }
    }
}

/// One of the organisation's headline metrics for the week.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgMetric {
    pub metric: String,
    pub value: String,
    /// The 95% interval, empty when there is none.
    pub range: String,
    /// "elite" … "low", or "–".
    pub level: String,
    pub vs_previous: String,
    pub vs_median: String,
}

/// One team's headline metric: value, 95% range (may be empty) and level
/// (none for a team with too few deployments to judge).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamCell {
    pub value: String,
    pub range: String,
    pub level: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamLine {
    pub team: String,
    pub deployments: u64,
    /// At least [`super::MIN_DEPLOYMENTS`] this week: ranked and levelled.
    pub judged: bool,
    /// In the order of [`headline`](crate::metrics::catalogue::METRICS).
    pub cells: Vec<TeamCell>,
    /// Deployments per week, oldest first, the report week last.
    pub sparkline: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailedDeployment {
    pub id: String,
    pub service: String,
    pub finished_at: Timestamp,
    pub links: String,
    pub recovery_s: Option<f64>,
    /// The failure has not recovered (its incident is unresolved).
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlowChange {
    /// Pages on the forge, when the repository was synced from one.
    pub commit_url: Option<String>,
    pub change_url: Option<String>,
    pub repo: String,
    pub sha: String,
    pub message: String,
    /// "repo#number title" of the change that brought the commit.
    pub change: Option<String>,
    pub lead_time_s: f64,
    pub deployment_id: String,
}

/// A production flag change that went through no change request
/// (docs/metrics.md section 9.7).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectFlagChange {
    pub project: String,
    pub flag_key: String,
    pub environment: String,
    pub at: Timestamp,
    /// Who made it ("" when the platform did not say).
    pub actor: String,
    /// enabled, disabled, rollout-changed, strategy-changed or archived.
    pub kind: String,
}

/// A flag stale at the end of the report's week (docs/metrics.md section
/// 9.6).
#[derive(Debug, Clone, PartialEq)]
pub struct StaleFlag {
    pub project: String,
    pub flag_key: String,
    /// release, experiment... ("" when unknown).
    pub kind: String,
    /// "" when the flag has no owner.
    pub owner: String,
    pub service: String,
    /// Days since its creation (None: no creation time).
    pub age_days: Option<f64>,
    /// Every reason it is stale, e.g. "past expected lifetime".
    pub why: String,
    /// The repositories whose code still references it.
    pub referenced_in: String,
}

/// A change that reached production without a second pair of eyes
/// (docs/metrics.md section 8).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreviewedChange {
    /// Its page on the forge, when the repository was synced from one.
    pub change_url: Option<String>,
    pub repo: String,
    pub number: i64,
    pub title: String,
    pub author: String,
    pub merged_at: Timestamp,
    /// The first production deployment that shipped it.
    pub deployment_id: String,
    pub deployed_at: Timestamp,
    /// Why it is not four-eyes.
    pub reason: String,
}

/// A chart of the organisation's last weeks.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File name without extension, under `charts/`.
    pub stem: String,
    pub title: String,
    pub svg: String,
}

/// One DORA 2025 score of the organisation's week beside the published
/// 2025 average (`src/metrics/scores.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreLine {
    pub title: String,
    /// `6.7`, or "–" without the metric (or a part of a group).
    pub score: String,
    /// `4.8 ± 2.8`, the mean ± standard deviation.
    pub average: String,
    /// `+1.9`, or "–".
    pub vs_average: String,
}

impl ScoreLine {
    pub fn of(c: &crate::metrics::scores::Compared) -> ScoreLine {
        let average = c.average.as_ref();
        ScoreLine {
            title: c.title.to_string(),
            score: c.score.map_or_else(|| "–".into(), |s| format!("{s:.1}")),
            average: average
                .map_or_else(|| "–".into(), |a| format!("{:.1} ± {:.1}", a.mean, a.std)),
            vs_average: match (c.score, average) {
                (Some(s), Some(a)) => format!("{:+.1}", s - a.mean),
                _ => "–".into(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `2026-W46`.
    pub week: String,
    /// The week, `[from, to)`.
    pub from: Timestamp,
    pub to: Timestamp,
    /// The benchmark the levels come from.
    pub benchmark: String,
    pub summary: String,
    pub org: Vec<OrgMetric>,
    /// The week's DORA 2025 scores, whatever `benchmark` is.
    pub scores: Vec<ScoreLine>,
    /// Column titles of [`TeamLine::cells`].
    pub team_metrics: Vec<String>,
    pub teams: Vec<TeamLine>,
    pub failed: Vec<FailedDeployment>,
    pub slowest: Vec<SlowChange>,
    pub quality: Vec<String>,
    pub charts: Vec<Chart>,
    /// Release governance: reviews, approvals, batch size.
    pub governance: super::governance::MetricSection,
    /// Releases and flags: deployment frequency beside the release metrics.
    pub releases: super::governance::MetricSection,
    /// The week's production changes without a second pair of eyes, newest
    /// first (at most [`super::governance::UNREVIEWED_SHOWN`]).
    pub unreviewed: Vec<UnreviewedChange>,
    /// How many there are in all.
    pub unreviewed_total: u64,
    /// The week's production flag changes without a change request, newest
    /// first (at most [`super::governance::UNREVIEWED_SHOWN`]).
    pub direct_flag_changes: Vec<DirectFlagChange>,
    /// How many there are in all.
    pub direct_flag_changes_total: u64,
    /// The flags stale at the week's end, oldest first (at most
    /// [`super::releases::STALE_SHOWN`]).
    pub stale_flags: Vec<StaleFlag>,
    /// How many there are in all.
    pub stale_flags_total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_ranges_and_changes_read_as_people_write_them() {
        assert_eq!(Kind::Duration.value(Some(5400.0)), "1.5 h");
        assert_eq!(Kind::Duration.value(Some(600.0)), "10 min");
        assert_eq!(Kind::Duration.value(Some(3.0 * 86400.0)), "3.0 d");
        assert_eq!(Kind::Rate.value(Some(0.125)), "12.5%");
        assert_eq!(Kind::Frequency.value(None), "–");
        assert_eq!(Kind::Rate.range(Some(0.1), Some(0.2)), "10.0%–20.0%");
        assert_eq!(Kind::Rate.range(Some(0.1), None), "");
        assert_eq!(Kind::Rate.change(Some(0.2), Some(0.1)), "+10.0 pp");
        assert_eq!(Kind::Duration.change(Some(150.0), Some(100.0)), "+50%");
        assert_eq!(Kind::Frequency.change(Some(1.0), Some(0.0)), "–");
        assert_eq!(Kind::Count.value(Some(12.0)), "12");
        assert_eq!(Kind::Count.change(Some(15.0), Some(12.0)), "+25%");
    }
}
