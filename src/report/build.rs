//! Gathers a week's report from the warehouse: the organisation's and each
//! team's weekly metric rows (the same SQL as `doralens metrics`), then the
//! week's failed deployments, slowest changes and data-quality counts from
//! the files in `queries/report/`.

use std::collections::HashMap;

use datafusion::arrow::array::RecordBatch;

use super::model::{
    Chart, FailedDeployment, Kind, OrgMetric, Report, ScoreLine, SlowChange, TeamCell, TeamLine,
};
use super::{HISTORY_WEEKS, MIN_DEPLOYMENTS};

/// How many of the week's slowest changes the report lists.
const SLOWEST_LISTED: usize = 10;
use crate::base::time::{Span, Timestamp, week_name};
use crate::engine::{Engine, queries};
use crate::error::Result;
use crate::metrics::catalogue::{self, Section, headline};
use crate::metrics::interval::Interval;
use crate::metrics::{self, Grouping, MetricsOptions, MetricsTable};
use crate::render::plot::{self, Axis};
use crate::store::links::WebLinks;

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some((v[(n - 1) / 2] + v[n / 2]) / 2.0)
}

/// One group's weekly values of a column, oldest first (the report week last).
struct Weekly {
    values: Vec<Option<f64>>,
}

impl Weekly {
    fn of(table: &MetricsTable, column: &str, group: Option<(&str, &str)>) -> Weekly {
        let values = table.floats(column);
        let keep: Vec<bool> = match group {
            Some((col, name)) => table.strings(col).iter().map(|g| g == name).collect(),
            None => vec![true; values.len()],
        };
        Weekly {
            values: values
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(v, _)| v)
                .collect(),
        }
    }
    fn now(&self) -> Option<f64> {
        self.values.last().copied().flatten()
    }
    fn previous(&self) -> Option<f64> {
        self.values.iter().rev().nth(1).copied().flatten()
    }
    /// The median of the weeks before the report week.
    fn trailing_median(&self) -> Option<f64> {
        let n = self.values.len();
        let before: Vec<f64> = self.values[..n.saturating_sub(1)]
            .iter()
            .flatten()
            .copied()
            .collect();
        median(&before)
    }
}

/// The last row's value of a text column for a group (its levels).
fn last_text(table: &MetricsTable, column: &str, group: Option<(&str, &str)>) -> Option<String> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut found = None;
    for batch in &table.batches {
        let Ok(i) = batch.schema().index_of(column) else {
            return None;
        };
        let values = batch.column(i).as_string::<i32>();
        let groups = group.and_then(|(g, _)| batch.schema().index_of(g).ok());
        for r in 0..batch.num_rows() {
            let matches = match (group, groups) {
                (Some((_, name)), Some(gi)) => batch.column(gi).as_string::<i32>().value(r) == name,
                _ => true,
            };
            if matches {
                found = values.is_valid(r).then(|| values.value(r).to_string());
            }
        }
    }
    found
}

/// A column of a result row by name, as text ("" for null).
pub(super) fn text(b: &RecordBatch, column: &str, row: usize) -> String {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    let Some(c) = b.column_by_name(column) else {
        return String::new();
    };
    match cast(c, &DataType::Utf8) {
        Ok(c) if !c.is_null(row) => datafusion::arrow::array::AsArray::as_string::<i32>(&c)
            .value(row)
            .to_string(),
        _ => String::new(),
    }
}

/// A numeric column of a result row by name.
pub(super) fn float(b: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let c = cast(b.column_by_name(column)?, &DataType::Float64).ok()?;
    (!c.is_null(row)).then(|| c.as_primitive::<Float64Type>().value(row))
}

/// Every row of a query's batches, in order.
fn rows(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |r| (b, r)))
}

/// The organisation's headline metrics for the week, and the sentence naming
/// the one that moved most against its 12-week median.
fn organisation(org: &MetricsTable) -> (Vec<OrgMetric>, Option<String>) {
    let mut rows = Vec::new();
    let mut biggest: Option<(f64, String)> = None;
    for m in headline() {
        let kind = Kind::of(m.unit);
        let w = Weekly::of(org, m.column, None);
        let (low, high) = match m.interval {
            Some((l, h)) => (
                Weekly::of(org, l, None).now(),
                Weekly::of(org, h, None).now(),
            ),
            None => (None, None),
        };
        let (now, median12) = (w.now(), w.trailing_median());
        if let (Some(n), Some(t)) = (now, median12)
            && t != 0.0
        {
            let change = n / t - 1.0;
            let better = (change > 0.0) == m.higher_is_better.unwrap_or(true);
            if biggest.as_ref().is_none_or(|(c, _)| change.abs() > *c) {
                biggest = Some((
                    change.abs(),
                    format!(
                        "{} {} {:.0}% {} its 12-week median ({} against {}), {}.",
                        m.title,
                        if change > 0.0 { "rose" } else { "fell" },
                        change.abs() * 100.0,
                        if change > 0.0 { "above" } else { "below" },
                        kind.value(now),
                        kind.value(median12),
                        if better {
                            "an improvement"
                        } else {
                            "a worsening"
                        }
                    ),
                ));
            }
        }
        rows.push(OrgMetric {
            metric: m.title.to_string(),
            value: kind.value(now),
            range: kind.range(low, high),
            level: m
                .level
                .and_then(|l| last_text(org, l, None))
                .unwrap_or_else(|| "–".into()),
            vs_previous: kind.change(now, w.previous()),
            vs_median: kind.change(now, median12),
        });
    }
    (rows, biggest.map(|(_, sentence)| sentence))
}

/// Every team's line, ranked: teams with at least [`MIN_DEPLOYMENTS`] first
/// by deployments (descending), then name; the others last, unranked.
fn teams(table: &MetricsTable) -> Vec<TeamLine> {
    let mut names = table.strings("team");
    names.sort();
    names.dedup();
    let mut teams: Vec<TeamLine> = names
        .iter()
        .map(|name| {
            let g = Some(("team", name.as_str()));
            let deployments = Weekly::of(table, "deployments", g).now().unwrap_or(0.0) as u64;
            let judged = deployments >= MIN_DEPLOYMENTS;
            let cells = headline()
                .map(|m| {
                    let kind = Kind::of(m.unit);
                    TeamCell {
                        value: kind.value(Weekly::of(table, m.column, g).now()),
                        range: match m.interval {
                            Some((l, h)) => kind.range(
                                Weekly::of(table, l, g).now(),
                                Weekly::of(table, h, g).now(),
                            ),
                            None => String::new(),
                        },
                        level: if judged {
                            m.level.and_then(|l| last_text(table, l, g))
                        } else {
                            None
                        },
                    }
                })
                .collect();
            TeamLine {
                team: name.clone(),
                deployments,
                judged,
                cells,
                sparkline: Weekly::of(table, "deployments", g).values,
            }
        })
        .collect();
    teams.sort_by(|a, b| {
        (!a.judged, std::cmp::Reverse(a.deployments), &a.team).cmp(&(
            !b.judged,
            std::cmp::Reverse(b.deployments),
            &b.team,
        ))
    });
    teams
}

/// The week's report. `links`: the web pages of forge-synced repositories
/// (`WebLinks::load`), for links in "slowest changes".
pub async fn build(
    engine: &Engine,
    base: &MetricsOptions,
    monday: Timestamp,
    links: &HashMap<String, WebLinks>,
) -> Result<Report> {
    let timer = crate::engine::PhaseTimer::new("report");
    let to = monday + Span::days(7);
    let mut weekly_opts = base.clone();
    weekly_opts.from = monday - Span::days(7) * HISTORY_WEEKS as i64;
    weekly_opts.to = to;
    weekly_opts.interval = Some(Interval::Week);
    weekly_opts.group = None;
    let org = metrics::compute(engine, &weekly_opts).await?;
    timer.phase("organisation, 13 weeks");
    let mut team_opts = weekly_opts.clone();
    team_opts.group = Some(Grouping::Team);
    let teams_table = metrics::compute(engine, &team_opts).await?;
    timer.phase("teams, 13 weeks");

    let (org_rows, biggest) = organisation(&org);
    let scores = metrics::scores::compare(|m| Weekly::of(&org, m, None).now())?
        .iter()
        .map(ScoreLine::of)
        .collect();
    let deployments = Weekly::of(&org, "deployments", None).now().unwrap_or(0.0) as u64;
    let summary = match biggest {
        Some(sentence) => format!("{deployments} production deployments this week. {sentence}"),
        None => format!(
            "{deployments} production deployments this week; too little history for a comparison."
        ),
    };
    let teams = teams(&teams_table);

    // The views registered by the last compute are for the history window;
    // the week's lists need them for the week.
    let mut week_opts = base.clone();
    week_opts.from = monday;
    week_opts.to = to;
    week_opts.interval = None;
    week_opts.group = None;
    metrics::register_views(engine, &week_opts).await?;
    let params: HashMap<&str, String> = HashMap::from([
        ("week_start", queries::timestamp_literal(monday)),
        ("week_end", queries::timestamp_literal(to)),
        ("limit", SLOWEST_LISTED.to_string()),
    ]);
    let mut unreviewed_params = params.clone();
    unreviewed_params.insert("limit", super::governance::UNREVIEWED_SHOWN.to_string());
    let mut stale_params = params.clone();
    stale_params.insert("limit", super::releases::STALE_SHOWN.to_string());
    // The six only read the week's views: run them together.
    let (
        (_, failed_batches),
        slow_batches,
        (_, counts),
        (_, unreviewed_batches),
        (_, direct_flag_batches),
        (_, stale_flag_batches),
    ) = futures_util::try_join!(
        engine.bundled(&queries::REPORT_FAILED_DEPLOYMENTS, &params),
        metrics::slowest_changes(engine, &params),
        engine.bundled(&queries::REPORT_DATA_QUALITY, &params),
        engine.bundled(&queries::UNREVIEWED_CHANGES, &unreviewed_params),
        engine.bundled(&queries::DIRECT_FLAG_CHANGES, &unreviewed_params),
        engine.bundled(&queries::REPORT_STALE_FLAGS, &stale_params)
    )?;
    timer.phase("the week's lists");
    let governance = super::governance::section(&org, &teams_table, Section::Governance, &[]);
    let deployment_frequency = catalogue::by_column("deploys_per_day").expect("catalogued");
    let releases = super::governance::section(
        &org,
        &teams_table,
        Section::Releases,
        &[deployment_frequency],
    );
    let (unreviewed, unreviewed_total) = super::governance::unreviewed(&unreviewed_batches, links);
    let (direct_flag_changes, direct_flag_changes_total) =
        super::releases::direct_flag_changes(&direct_flag_batches);
    let (stale_flags, stale_flags_total) = super::releases::stale_flags(&stale_flag_batches);

    let failed = rows(&failed_batches)
        .map(|(b, r)| FailedDeployment {
            id: text(b, "id", r),
            service: text(b, "service", r),
            finished_at: Timestamp::from_micros(float(b, "finished", r).unwrap_or(0.0) as i64),
            links: text(b, "links", r),
            recovery_s: float(b, "recovery_s", r),
            open: text(b, "open_failure", r) == "true",
        })
        .collect();
    let slowest = rows(&slow_batches)
        .map(|(b, r)| {
            let repo = text(b, "repo", r);
            let sha = text(b, "sha", r);
            let repo_links = links.get(&repo);
            let number = float(b, "number", r).map(|n| n as i64);
            let change = number.map(|n| format!("{repo}#{n} {}", text(b, "title", r)));
            SlowChange {
                commit_url: repo_links.map(|l| l.commit_url(&sha)),
                change_url: repo_links.zip(number).map(|(l, n)| l.change_url(n)),
                repo,
                sha,
                message: text(b, "message", r),
                change,
                lead_time_s: float(b, "lead_time_s", r).unwrap_or(0.0),
                deployment_id: text(b, "deployment_id", r),
            }
        })
        .collect();

    let count = |column: &str| {
        counts
            .first()
            .and_then(|b| float(b, column, 0))
            .unwrap_or(0.0) as u64
    };
    let small: Vec<&str> = teams
        .iter()
        .filter(|t| !t.judged)
        .map(|t| t.team.as_str())
        .collect();
    let quality = vec![
        format!(
            "{} production deployment(s) this week name a sha that is not among their repo's commits (they ship nothing).",
            count("unknown_sha")
        ),
        format!(
            "{} failed deployment(s) were linked to an incident only by timing (inferred: same service, within the incident window).",
            count("inferred")
        ),
        format!(
            "{} incident(s) this week have no service, so they count for the organisation only.",
            count("no_service")
        ),
        if small.is_empty() {
            format!("Every team had at least {MIN_DEPLOYMENTS} production deployments.")
        } else {
            format!(
                "Too few deployments to judge (under {MIN_DEPLOYMENTS}): {}.",
                small.join(", ")
            )
        },
    ];

    // Charts: the organisation's 13 weeks, level bands shaded.
    let mut charts = Vec::new();
    let report_charts = catalogue::charted().filter_map(|(m, c)| c.report.map(|t| (m, c, t)));
    for (m, c, title) in report_charts {
        let title = format!("{title}, last {} weeks", HISTORY_WEEKS + 1);
        let series = crate::render::metric_chart::series(&org, m.column, None);
        let svg = plot::time_series_styled(
            &title,
            Axis::of(m.unit),
            &series,
            &base.benchmark.ranges(m.column),
            &plot::Style::REPORT,
            Some((monday.micros(), to.micros(), "this week")),
        )?;
        charts.push(Chart {
            stem: c.name.to_string(),
            title,
            svg,
        });
    }
    timer.phase("charts");

    Ok(Report {
        week: week_name(monday),
        from: monday,
        to,
        benchmark: base.benchmark.name.to_string(),
        summary,
        org: org_rows,
        scores,
        team_metrics: headline().map(|m| m.short.to_string()).collect(),
        teams,
        governance,
        releases,
        unreviewed,
        unreviewed_total,
        direct_flag_changes,
        direct_flag_changes_total,
        stale_flags,
        stale_flags_total,
        failed,
        slowest,
        quality,
        charts,
    })
}
