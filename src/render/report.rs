//! The weekly report (`doralens report --week 2026-W46`): Markdown for chat
//! and wikis, and a self-contained HTML page (charts inline, no external
//! requests, readable on a phone, printable) with the same content.
//!
//! Contents, all for one ISO week (Monday 00:00 UTC to the next Monday):
//! - the organisation's five metrics with their levels, the change against
//!   the previous week and against the median of the 12 weeks before, and a
//!   one-line summary naming what moved most against that median;
//! - a table per team, with sparklines of the last 13 weeks. **Order:**
//!   teams with at least [`MIN_DEPLOYMENTS`] production deployments in the
//!   week first, by deployments (descending), then name; teams with fewer
//!   are listed last and marked "too few deployments to judge" instead of
//!   being given levels;
//! - the week's failed deployments with what linked them and their
//!   recovery, and the slowest changes (longest lead time) with the change
//!   that brought them when one is known;
//! - data-quality notes: deployments of unknown shas, inferred incident
//!   links, incidents without a service, teams with too few deployments.
//!
//! Rates carry their Wilson interval and medians their order-statistic
//! interval (see `metrics::stats`), shown as ranges.

use std::fmt::Write as _;

use crate::engine::Engine;
use crate::error::Result;
use crate::metrics::interval::{self, Interval};
use crate::metrics::{self, Grouping, MetricsOptions, MetricsTable};
use crate::render::chart::{self, Unit};

/// Teams below this many production deployments in the week are not ranked.
pub const MIN_DEPLOYMENTS: u64 = 5;
/// Weeks of history for medians and sparklines.
pub const HISTORY_WEEKS: usize = 12;
const DAY_US: i64 = crate::base::time::MICROS_PER_DAY;

/// `2026-W46` → its Monday, 00:00 UTC (µs).
pub use crate::base::time::{last_complete_week, parse_week, week_name};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Frequency,
    Duration,
    Rate,
}

struct MetricRow {
    name: &'static str,
    column: &'static str,
    level: Option<&'static str>,
    interval: Option<(&'static str, &'static str)>,
    kind: Kind,
    higher_is_better: bool,
}

/// The five headline metrics, from the metric catalogue.
fn five() -> Vec<MetricRow> {
    use crate::metrics::catalogue::{METRICS, Unit};
    METRICS
        .iter()
        .filter(|m| m.headline)
        .map(|m| MetricRow {
            name: m.title,
            column: m.column,
            level: m.level,
            interval: m.interval,
            kind: match m.unit {
                Unit::PerDay | Unit::Count => Kind::Frequency,
                Unit::Seconds => Kind::Duration,
                Unit::Ratio => Kind::Rate,
            },
            higher_is_better: m.higher_is_better.unwrap_or(true),
        })
        .collect()
}

fn fmt_value(kind: Kind, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    match kind {
        Kind::Frequency => format!("{v:.2}/day"),
        Kind::Rate => format!("{:.1}%", v * 100.0),
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

fn fmt_range(kind: Kind, low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("{}–{}", fmt_value(kind, Some(l)), fmt_value(kind, Some(h))),
        _ => String::new(),
    }
}

/// "+12%" / "−3.0 pp" (rates in percentage points) / "–".
fn fmt_change(kind: Kind, now: Option<f64>, then: Option<f64>) -> String {
    match (now, then) {
        (Some(n), Some(t)) => match kind {
            Kind::Rate => format!("{:+.1} pp", (n - t) * 100.0),
            _ if t == 0.0 => "–".into(),
            _ => format!("{:+.0}%", (n / t - 1.0) * 100.0),
        },
        _ => "–".into(),
    }
}

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
    fn now(&self) -> Option<f64> {
        self.values.last().copied().flatten()
    }
    fn previous(&self) -> Option<f64> {
        self.values.iter().rev().nth(1).copied().flatten()
    }
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

fn weekly(table: &MetricsTable, column: &str, group: Option<(&str, &str)>) -> Weekly {
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

/// The last row's value of a text column for a group (its levels).
fn last_text(table: &MetricsTable, column: &str, group: Option<(&str, &str)>) -> Option<String> {
    let mut found = None;
    for batch in &table.batches {
        use datafusion::arrow::array::{Array, AsArray};
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

pub struct FailedDeployment {
    pub id: String,
    pub service: String,
    pub finished_at: i64,
    pub links: String,
    pub recovery_s: Option<f64>,
    pub open: bool,
}

pub struct SlowChange {
    /// Pages on the forge, when the repository was synced from one.
    pub commit_url: Option<String>,
    pub change_url: Option<String>,
    pub repo: String,
    pub sha: String,
    pub message: String,
    pub change: Option<String>,
    pub lead_time_s: f64,
    pub deployment_id: String,
}

pub struct TeamLine {
    pub team: String,
    pub deployments: u64,
    pub judged: bool,
    pub cells: Vec<(String, String, Option<String>)>,
    pub sparkline: Vec<Option<f64>>,
}

pub struct Report {
    pub week: String,
    pub from: i64,
    pub to: i64,
    pub benchmark: String,
    pub summary: String,
    /// (metric, value, range, level, vs previous, vs 12-week median)
    pub org: Vec<[String; 6]>,
    pub teams: Vec<TeamLine>,
    pub failed: Vec<FailedDeployment>,
    pub slowest: Vec<SlowChange>,
    pub quality: Vec<String>,
    /// (file stem, title, svg)
    pub charts: Vec<(String, String, String)>,
}

async fn query(engine: &Engine, sql: &str) -> Result<Vec<datafusion::arrow::array::RecordBatch>> {
    Ok(engine.sql(sql).await?.1)
}

fn text(b: &datafusion::arrow::array::RecordBatch, col: usize, row: usize) -> String {
    use datafusion::arrow::array::{Array, AsArray};
    let c = b.column(col);
    if c.is_null(row) {
        return String::new();
    }
    match c.data_type() {
        datafusion::arrow::datatypes::DataType::Utf8 => c.as_string::<i32>().value(row).to_string(),
        datafusion::arrow::datatypes::DataType::Utf8View => {
            c.as_string_view().value(row).to_string()
        }
        datafusion::arrow::datatypes::DataType::LargeUtf8 => {
            c.as_string::<i64>().value(row).to_string()
        }
        _ => String::new(),
    }
}

fn float(b: &datafusion::arrow::array::RecordBatch, col: usize, row: usize) -> Option<f64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let c = cast(b.column(col), &DataType::Float64).ok()?;
    (!c.is_null(row)).then(|| c.as_primitive::<Float64Type>().value(row))
}

/// `links`: the web pages of forge-synced repositories
/// (`WebLinks::load`), for links in "slowest changes".
pub async fn build(
    engine: &Engine,
    base: &MetricsOptions,
    monday: i64,
    links: &std::collections::HashMap<String, crate::store::links::WebLinks>,
) -> Result<Report> {
    let timer = crate::engine::PhaseTimer::new("report");
    let to = monday + 7 * DAY_US;
    let history_from = monday - HISTORY_WEEKS as i64 * 7 * DAY_US;
    let mut weekly_opts = base.clone();
    weekly_opts.from = history_from;
    weekly_opts.to = to;
    weekly_opts.interval = Some(Interval::Week);
    weekly_opts.group = None;
    let org = metrics::compute(engine, &weekly_opts).await?;
    timer.phase("organisation, 13 weeks");
    let mut team_opts = weekly_opts.clone();
    team_opts.group = Some(Grouping::Team);
    let teams_table = metrics::compute(engine, &team_opts).await?;
    timer.phase("teams, 13 weeks");

    // The organisation's five metrics.
    let mut org_rows = Vec::new();
    let mut biggest: Option<(f64, String)> = None;
    for m in &five() {
        let w = weekly(&org, m.column, None);
        let (low, high) = match m.interval {
            Some((l, h)) => (weekly(&org, l, None).now(), weekly(&org, h, None).now()),
            None => (None, None),
        };
        let level = m
            .level
            .and_then(|l| last_text(&org, l, None))
            .unwrap_or_else(|| "–".into());
        let (now, median12) = (w.now(), w.trailing_median());
        if let (Some(n), Some(t)) = (now, median12)
            && t != 0.0
        {
            let change = n / t - 1.0;
            let better = (change > 0.0) == m.higher_is_better;
            if biggest.as_ref().is_none_or(|(c, _)| change.abs() > *c) {
                biggest = Some((
                    change.abs(),
                    format!(
                        "{} {} {:.0}% {} its 12-week median ({} against {}), {}.",
                        m.name,
                        if change > 0.0 { "rose" } else { "fell" },
                        change.abs() * 100.0,
                        if change > 0.0 { "above" } else { "below" },
                        fmt_value(m.kind, now),
                        fmt_value(m.kind, median12),
                        if better {
                            "an improvement"
                        } else {
                            "a worsening"
                        }
                    ),
                ));
            }
        }
        org_rows.push([
            m.name.to_string(),
            fmt_value(m.kind, now),
            fmt_range(m.kind, low, high),
            level,
            fmt_change(m.kind, now, w.previous()),
            fmt_change(m.kind, now, median12),
        ]);
    }
    let deployments = weekly(&org, "deployments", None).now().unwrap_or(0.0) as u64;
    let summary = match biggest {
        Some((_, sentence)) => {
            format!("{deployments} production deployments this week. {sentence}")
        }
        None => format!(
            "{deployments} production deployments this week; too little history for a comparison."
        ),
    };

    // Teams.
    let mut names = teams_table.strings("team");
    names.sort();
    names.dedup();
    let mut teams = Vec::new();
    for name in &names {
        let g = Some(("team", name.as_str()));
        let deployments = weekly(&teams_table, "deployments", g).now().unwrap_or(0.0) as u64;
        let judged = deployments >= MIN_DEPLOYMENTS;
        let cells = five()
            .iter()
            .map(|m| {
                let w = weekly(&teams_table, m.column, g);
                let range = match m.interval {
                    Some((l, h)) => fmt_range(
                        m.kind,
                        weekly(&teams_table, l, g).now(),
                        weekly(&teams_table, h, g).now(),
                    ),
                    None => String::new(),
                };
                let level = if judged {
                    m.level.and_then(|l| last_text(&teams_table, l, g))
                } else {
                    None
                };
                (fmt_value(m.kind, w.now()), range, level)
            })
            .collect();
        teams.push(TeamLine {
            team: name.clone(),
            deployments,
            judged,
            cells,
            sparkline: weekly(&teams_table, "deployments", g).values,
        });
    }
    teams.sort_by(|a, b| {
        (!a.judged, std::cmp::Reverse(a.deployments), &a.team).cmp(&(
            !b.judged,
            std::cmp::Reverse(b.deployments),
            &b.team,
        ))
    });

    // Failed deployments and slow changes of the week (views registered by
    // the last compute are for the history window; re-register for the week).
    let mut week_opts = base.clone();
    week_opts.from = monday;
    week_opts.to = to;
    week_opts.interval = None;
    week_opts.group = None;
    metrics::register_views(engine, &week_opts).await?;
    let (from_lit, to_lit) = (
        crate::engine::queries::timestamp_literal(monday),
        crate::engine::queries::timestamp_literal(to),
    );
    let failed_sql = format!(
        "SELECT d.id, d.service, arrow_cast(d.finished_at, 'Int64') AS finished, \
                array_to_string(array_sort(array_agg(DISTINCT CASE WHEN l.incident_id IS NULL THEN l.link \
                    ELSE concat(l.incident_id, CASE WHEN l.inferred THEN ' (inferred)' ELSE '' END) END)), ', ') AS links, \
                r.recovery_s, r.open_failure \
         FROM deployment_recovery r \
         JOIN production_deployments d ON d.id = r.deployment_id \
         JOIN deployment_failure_links l ON l.deployment_id = d.id \
         WHERE d.finished_at >= {from_lit} AND d.finished_at < {to_lit} \
         GROUP BY d.id, d.service, d.finished_at, r.recovery_s, r.open_failure \
         ORDER BY d.finished_at, d.id"
    );
    // The week's ten slowest commits first (small), then their message and
    // change: the 10-row side comes first so it is the hash-join build side.
    // The change is the one that brought the commit (`commit_changes`: a
    // branch commit it lists, or its merge/squash commit), the lowest
    // number if two merged changes carry it.
    let slow_sql = format!(
        "WITH slow AS ( \
             SELECT dc.repo, dc.sha, dc.deployment_id, \
                    (arrow_cast(dc.deployed_at, 'Int64') - arrow_cast(dc.authored_at, 'Int64')) / 1000000.0 AS lead_s \
             FROM production_deployments d \
             JOIN deployment_commits dc ON d.id = dc.deployment_id \
             WHERE NOT dc.baseline AND dc.authored_at <= dc.deployed_at \
               AND dc.deployed_at >= {from_lit} AND dc.deployed_at < {to_lit} \
             ORDER BY lead_s DESC, dc.repo, dc.sha, dc.deployment_id LIMIT 10) \
         SELECT slow.repo, slow.sha, coalesce(c.message, ''), \
                CASE WHEN ch.number IS NULL THEN NULL ELSE concat(slow.repo, '#', CAST(ch.number AS VARCHAR), ' ', coalesce(ch.title, '')) END, \
                slow.lead_s, slow.deployment_id, ch.number \
         FROM slow \
         LEFT JOIN commits c ON c.repo = slow.repo AND c.sha = slow.sha \
         LEFT JOIN ( \
             SELECT repo, sha, min(number) AS number FROM commit_changes \
             WHERE sha IN (SELECT sha FROM slow) GROUP BY repo, sha) m \
           ON m.repo = slow.repo AND m.sha = slow.sha \
         LEFT JOIN changes ch ON ch.repo = m.repo AND ch.number = m.number \
         ORDER BY slow.lead_s DESC, slow.repo, slow.sha, slow.deployment_id"
    );
    // Data quality.
    let quality_sql = format!(
        "SELECT \
           (SELECT count(*) FROM deployment_warnings w JOIN production_deployments d ON d.id = w.deployment_id \
             WHERE d.finished_at >= {from_lit} AND d.finished_at < {to_lit}) AS unknown_sha, \
           (SELECT count(DISTINCT l.deployment_id) FROM deployment_failure_links l \
             JOIN production_deployments d ON d.id = l.deployment_id \
             WHERE l.inferred AND d.finished_at >= {from_lit} AND d.finished_at < {to_lit}) AS inferred, \
           (SELECT count(*) FROM incidents WHERE service IS NULL \
             AND created_at >= {from_lit} AND created_at < {to_lit}) AS no_service"
    );
    // The three only read the week's views: run them together.
    let (failed_batches, slow_batches, counts) = futures_util::try_join!(
        query(engine, &failed_sql),
        query(engine, &slow_sql),
        query(engine, &quality_sql)
    )?;
    timer.phase("failed deployments, slowest changes, data quality");
    let mut failed = Vec::new();
    for b in failed_batches {
        use datafusion::arrow::array::AsArray;
        for r in 0..b.num_rows() {
            failed.push(FailedDeployment {
                id: text(&b, 0, r),
                service: text(&b, 1, r),
                finished_at: float(&b, 2, r).unwrap_or(0.0) as i64,
                links: text(&b, 3, r),
                recovery_s: float(&b, 4, r),
                open: b.column(5).as_boolean().value(r),
            });
        }
    }
    let mut slowest = Vec::new();
    for b in slow_batches {
        for r in 0..b.num_rows() {
            let change = text(&b, 3, r);
            let repo_links = links.get(&text(&b, 0, r));
            let number = float(&b, 6, r).map(|n| n as i64);
            slowest.push(SlowChange {
                commit_url: repo_links.map(|l| l.commit_url(&text(&b, 1, r))),
                change_url: repo_links.zip(number).map(|(l, n)| l.change_url(n)),
                repo: text(&b, 0, r),
                sha: text(&b, 1, r),
                message: text(&b, 2, r),
                change: (!change.is_empty()).then_some(change),
                lead_time_s: float(&b, 4, r).unwrap_or(0.0),
                deployment_id: text(&b, 5, r),
            });
        }
    }

    let count = |i: usize| counts.first().and_then(|b| float(b, i, 0)).unwrap_or(0.0) as u64;
    let (unknown, inferred, no_service) = (count(0), count(1), count(2));
    let small: Vec<&str> = teams
        .iter()
        .filter(|t| !t.judged)
        .map(|t| t.team.as_str())
        .collect();
    let mut quality = vec![
        format!(
            "{unknown} production deployment(s) this week name a sha that is not among their repo's commits (they ship nothing)."
        ),
        format!(
            "{inferred} failed deployment(s) were linked to an incident only by timing (inferred: same service, within the incident window)."
        ),
        format!(
            "{no_service} incident(s) this week have no service, so they count for the organisation only."
        ),
    ];
    quality.push(if small.is_empty() {
        format!("Every team had at least {MIN_DEPLOYMENTS} production deployments.")
    } else {
        format!(
            "Too few deployments to judge (under {MIN_DEPLOYMENTS}): {}.",
            small.join(", ")
        )
    });

    // Charts: the organisation's 13 weeks, level bands shaded.
    let mut charts = Vec::new();
    for (metric, title, unit, stem) in [
        (
            "deploys_per_day",
            "Deployment frequency, last 13 weeks",
            Unit::PER_DAY,
            "deployment-frequency",
        ),
        (
            "lead_time_p50_s",
            "Lead time (median), last 13 weeks",
            Unit::HOURS,
            "lead-time",
        ),
        (
            "change_failure_rate",
            "Change failure rate, last 13 weeks",
            Unit::PERCENT,
            "change-failure-rate",
        ),
    ] {
        let series = crate::render::chart::series(&org, metric, None);
        let svg = chart::time_series_styled(
            title,
            unit,
            &series,
            &base.benchmark.ranges(metric),
            &chart::Style::REPORT,
            Some((monday, to, "this week")),
        )?;
        charts.push((stem.to_string(), title.to_string(), svg));
    }

    timer.phase("charts");
    Ok(Report {
        week: week_name(monday),
        from: monday,
        to,
        benchmark: base.benchmark.name.to_string(),
        summary,
        org: org_rows,
        teams,
        failed,
        slowest,
        quality,
        charts,
    })
}

fn day(micros: i64) -> String {
    interval::format_instant(micros)[..10].to_string()
}

fn when(micros: i64) -> String {
    let s = interval::format_instant(micros);
    format!("{} {}", &s[..10], &s[11..16])
}

/// A text sparkline (▁ to █) for Markdown tables; a space for no data.
fn text_sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().cloned().fold(0.0, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => BARS[((v / max) * 7.0).round() as usize],
        })
        .collect()
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Delivery report {}\n", r.week);
    let _ = writeln!(
        md,
        "{} to {} (UTC). Levels: {}. Ranges are 95% intervals.\n",
        day(r.from),
        day(r.to - DAY_US),
        r.benchmark
    );
    let _ = writeln!(md, "**Summary:** {}\n", r.summary);
    let _ = writeln!(md, "## Organisation\n");
    let _ = writeln!(
        md,
        "| metric | this week | 95% range | level | vs previous week | vs 12-week median |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for row in &r.org {
        let _ = writeln!(
            md,
            "| {} |",
            row.iter()
                .map(|c| md_escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let _ = writeln!(md);
    for (stem, title, _) in &r.charts {
        let _ = writeln!(md, "![{title}](charts/{stem}.png)");
    }
    let _ = writeln!(md, "\n## Teams\n");
    let _ = writeln!(
        md,
        "Teams with at least {MIN_DEPLOYMENTS} deployments this week come first, by deployments; the others are listed last, unranked.\n"
    );
    let _ = writeln!(
        md,
        "| team | deployments | last 13 weeks | frequency | lead time | change failure rate | recovery time | rework rate |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for t in &r.teams {
        let cells: Vec<String> = t
            .cells
            .iter()
            .map(|(value, range, level)| {
                let mut cell = value.clone();
                if !range.is_empty() {
                    cell.push_str(&format!(" ({range})"));
                }
                if let Some(l) = level {
                    cell.push_str(&format!(" {l}"));
                }
                cell
            })
            .collect();
        let name = if t.judged {
            md_escape(&t.team)
        } else {
            format!("{} (too few deployments to judge)", md_escape(&t.team))
        };
        let _ = writeln!(
            md,
            "| {name} | {} | `{}` | {} |",
            t.deployments,
            text_sparkline(&t.sparkline),
            cells.join(" | ")
        );
    }
    let _ = writeln!(md, "\n## Failed deployments\n");
    if r.failed.is_empty() {
        let _ = writeln!(md, "None this week.");
    } else {
        let _ = writeln!(
            md,
            "| deployment | service | finished | linked by | recovery |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        for f in &r.failed {
            let recovery = if f.open {
                "open (incident unresolved)".to_string()
            } else {
                fmt_value(Kind::Duration, f.recovery_s)
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                md_escape(&f.id),
                md_escape(&f.service),
                when(f.finished_at),
                md_escape(&f.links),
                recovery
            );
        }
    }
    let _ = writeln!(md, "\n## Slowest changes\n");
    if r.slowest.is_empty() {
        let _ = writeln!(md, "No commits shipped this week.");
    } else {
        let _ = writeln!(md, "| lead time | commit | change | deployment |");
        let _ = writeln!(md, "|---|---|---|---|");
        for s in &r.slowest {
            let commit = format!("{} `{}`", md_escape(&s.repo), &s.sha[..s.sha.len().min(10)]);
            let commit = match &s.commit_url {
                Some(url) => format!("[{commit}]({url})"),
                None => commit,
            };
            let change = s
                .change
                .as_deref()
                .map(md_escape)
                .unwrap_or_else(|| "–".into());
            let change = match &s.change_url {
                Some(url) => format!("[{change}]({url})"),
                None => change,
            };
            let _ = writeln!(
                md,
                "| {} | {commit} {} | {change} | {} |",
                fmt_value(Kind::Duration, Some(s.lead_time_s)),
                md_escape(&s.message),
                md_escape(&s.deployment_id)
            );
        }
    }
    let _ = writeln!(md, "\n## Data quality\n");
    for q in &r.quality {
        let _ = writeln!(md, "- {q}");
    }
    md
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Makes a plotters SVG scale to its container (phones) and print: its
/// fixed width and height give way to the viewBox.
fn responsive(svg: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return svg.to_string();
    };
    let (open, rest) = svg.split_at(open_end);
    let mut out = String::from("<svg class=\"chart\"");
    for attr in open
        .trim_start_matches("<svg")
        .split(' ')
        .filter(|a| !a.is_empty())
    {
        if attr.starts_with("width=") {
            out.push_str(&format!(" data-{attr}"));
        } else if !attr.starts_with("height=") {
            out.push(' ');
            out.push_str(attr);
        }
    }
    out.push_str(rest);
    out
}

/// Labels every table cell with its column's header (`data-label`), so a
/// narrow screen can show each row as a card of `header: value` lines.
fn label_cells(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut headers: Vec<String> = Vec::new();
    let mut column = 0;
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with("<table") {
            headers.clear();
        } else if rest.starts_with("<tr") {
            column = 0;
        } else if rest.starts_with("<th>") {
            let end = rest.find("</th>").unwrap_or(rest.len());
            headers.push(rest[4..end].to_string());
        } else if rest.starts_with("<td") {
            if let Some(label) = headers.get(column) {
                out.push_str(&format!("<td data-label=\"{label}\""));
                rest = &rest[3..];
                column += 1;
                continue;
            }
            column += 1;
        }
        out.push('<');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:12px;color:#111;line-height:1.4}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9em}\
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.range{color:#555;font-size:.85em}.small{color:#8a5a00}\
.level-elite{color:#00734d}.level-high{color:#2b6a00}.level-medium{color:#8a5a00}.level-low{color:#a3262a}\
figure{margin:1em 0}svg.chart{width:100%;height:auto;max-width:640px}.summary{background:#f2f7fb;padding:8px 12px;border-left:4px solid #0072B2}\
@media print{body{max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}\
@media (max-width:600px){.wrap{overflow-x:visible}.wrap table,.wrap tbody,.wrap tr,.wrap td{display:block;width:auto}\
.wrap tr:first-child{display:none}.wrap tr{border-bottom:2px solid #ddd;padding:4px 0}\
.wrap td{border:none;padding:1px 0}.wrap td[data-label]::before{content:attr(data-label) \": \";font-weight:600;color:#444}}";

fn level_span(level: &str) -> String {
    format!("<span class=\"level-{0}\">{0}</span>", html_escape(level))
}

/// Writes `report.md`, `report.html` and `charts/*.{svg,png}` into `dir`
/// (each file atomically); returns the two report files.
pub fn write(r: &Report, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    use std::io::Write as _;
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts)
        .map_err(|e| crate::error::Error::io("cannot create", &charts, e))?;
    for (stem, _, svg) in &r.charts {
        let png = chart::png(svg)?;
        crate::base::fs::atomic_write(&charts.join(format!("{stem}.svg")), |f| {
            f.write_all(svg.as_bytes())
        })?;
        crate::base::fs::atomic_write(&charts.join(format!("{stem}.png")), |f| f.write_all(&png))?;
    }
    let mut written = Vec::new();
    for (name, content) in [("report.md", markdown(r)), ("report.html", html(r))] {
        let path = dir.join(name);
        crate::base::fs::atomic_write(&path, |f| f.write_all(content.as_bytes()))?;
        written.push(path);
    }
    Ok(written)
}

pub fn html(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Delivery report {week}</title><style>{CSS}</style></head><body>\n\
         <h1>Delivery report {week}</h1>\n<p>{from} to {to} (UTC). Levels: {bench}. Ranges are 95% intervals.</p>\n\
         <p class=\"summary\"><strong>Summary:</strong> {summary}</p>\n<h2>Organisation</h2>\n<div class=\"wrap\"><table>\
         <tr><th>metric</th><th>this week</th><th>95% range</th><th>level</th><th>vs previous week</th><th>vs 12-week median</th></tr>",
        week = r.week,
        from = day(r.from),
        to = day(r.to - DAY_US),
        bench = html_escape(&r.benchmark),
        summary = html_escape(&r.summary),
    );
    for row in &r.org {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"range\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&row[0]),
            html_escape(&row[1]),
            html_escape(&row[2]),
            level_span(&row[3]),
            html_escape(&row[4]),
            html_escape(&row[5])
        );
    }
    h.push_str("</table></div>\n");
    for (_, title, svg) in &r.charts {
        let _ = writeln!(
            h,
            "<figure aria-label=\"{}\">{}</figure>",
            html_escape(title),
            responsive(svg)
        );
    }
    let _ = write!(
        h,
        "<h2>Teams</h2>\n<p>Teams with at least {MIN_DEPLOYMENTS} deployments this week come first, by deployments; the others are listed last, unranked.</p>\
         <div class=\"wrap\"><table><tr><th>team</th><th>deployments</th><th>last 13 weeks</th><th>frequency</th><th>lead time</th>\
         <th>change failure rate</th><th>recovery time</th><th>rework rate</th></tr>"
    );
    for t in &r.teams {
        let name = if t.judged {
            html_escape(&t.team)
        } else {
            format!(
                "{} <span class=\"small\">(too few deployments to judge)</span>",
                html_escape(&t.team)
            )
        };
        let _ = write!(
            h,
            "<tr><td>{name}</td><td>{}</td><td>{}</td>",
            t.deployments,
            chart::sparkline(&t.sparkline)
        );
        for (value, range, level) in &t.cells {
            let _ = write!(h, "<td>{}", html_escape(value));
            if !range.is_empty() {
                let _ = write!(h, "<br><span class=\"range\">{}</span>", html_escape(range));
            }
            if let Some(l) = level {
                let _ = write!(h, "<br>{}", level_span(l));
            }
            h.push_str("</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div>\n<h2>Failed deployments</h2>\n");
    if r.failed.is_empty() {
        h.push_str("<p>None this week.</p>\n");
    } else {
        h.push_str("<div class=\"wrap\"><table><tr><th>deployment</th><th>service</th><th>finished</th><th>linked by</th><th>recovery</th></tr>");
        for f in &r.failed {
            let recovery = if f.open {
                "open (incident unresolved)".to_string()
            } else {
                fmt_value(Kind::Duration, f.recovery_s)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(&f.id),
                html_escape(&f.service),
                when(f.finished_at),
                html_escape(&f.links),
                html_escape(&recovery)
            );
        }
        h.push_str("</table></div>\n");
    }
    h.push_str("<h2>Slowest changes</h2>\n");
    if r.slowest.is_empty() {
        h.push_str("<p>No commits shipped this week.</p>\n");
    } else {
        h.push_str("<div class=\"wrap\"><table><tr><th>lead time</th><th>commit</th><th>change</th><th>deployment</th></tr>");
        let link = |text: String, url: &Option<String>| match url {
            Some(url) => format!("<a href=\"{}\">{text}</a>", html_escape(url)),
            None => text,
        };
        for s in &r.slowest {
            let commit = format!(
                "{} <code>{}</code>",
                html_escape(&s.repo),
                html_escape(&s.sha[..s.sha.len().min(10)])
            );
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
                fmt_value(Kind::Duration, Some(s.lead_time_s)),
                link(commit, &s.commit_url),
                html_escape(&s.message),
                link(
                    html_escape(s.change.as_deref().unwrap_or("–")),
                    &s.change_url
                ),
                html_escape(&s.deployment_id)
            );
        }
        h.push_str("</table></div>\n");
    }
    h.push_str("<h2>Data quality</h2>\n<ul>");
    for q in &r.quality {
        let _ = write!(h, "<li>{}</li>", html_escape(q));
    }
    h.push_str("</ul>\n</body></html>\n");
    label_cells(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        let monday = parse_week("2026-W46").unwrap();
        assert_eq!(interval::format_instant(monday), "2026-11-09T00:00:00Z");
        assert_eq!(week_name(monday), "2026-W46");
        assert!(parse_week("2026-46").is_err());
        assert!(parse_week("2026-W54").is_err());
        // 2026-11-22 is a Sunday in W47: the last complete week is W46.
        let now = interval::parse_instant("now", "2026-11-22T12:00:00Z").unwrap();
        assert_eq!(week_name(last_complete_week(now)), "2026-W46");
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_value(Kind::Duration, Some(5400.0)), "1.5 h");
        assert_eq!(fmt_value(Kind::Duration, Some(600.0)), "10 min");
        assert_eq!(fmt_value(Kind::Duration, Some(3.0 * 86400.0)), "3.0 d");
        assert_eq!(fmt_value(Kind::Rate, Some(0.125)), "12.5%");
        assert_eq!(fmt_change(Kind::Rate, Some(0.2), Some(0.1)), "+10.0 pp");
        assert_eq!(fmt_change(Kind::Duration, Some(150.0), Some(100.0)), "+50%");
        assert_eq!(text_sparkline(&[Some(0.0), Some(7.0), None]), "▁█ ");
    }
}
