//! The report's "Release governance" section (docs/metrics.md sections 8
//! and 9): every metric of the catalogue groups of
//! [`Section::Governance`] for the organisation (this week, against the
//! previous week and the 12-week median, with the last 13 weeks) and per
//! team (this week, with its trend against the team's 12-week median),
//! then the audit table of the week's production changes without a second
//! pair of eyes. A governance metric added to the catalogue appears here
//! without an edit. [`MetricSection`] and [`metric_blocks`] serve the
//! "Releases and flags" section too (`super::releases`).

use datafusion::arrow::array::RecordBatch;

use super::document::{Block, Cell, Inline};
use super::model::{Kind, Report, UnreviewedChange};
use crate::base::time::Timestamp;
use crate::metrics::MetricsTable;
use crate::metrics::catalogue::{self, Metric, Section};
use crate::store::links::WebLinks;

/// The audit table lists at most this many changes (the total is said).
pub const UNREVIEWED_SHOWN: usize = 50;

/// One governance metric of the organisation for the week.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernanceMetric {
    pub metric: String,
    pub value: String,
    pub vs_previous: String,
    pub vs_median: String,
    /// The weekly values, oldest first, the report week last.
    pub weeks: Vec<Option<f64>>,
}

/// One team's governance metrics for the week: value and trend (the
/// change against the team's 12-week median) per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernanceTeam {
    pub team: String,
    pub cells: Vec<(String, String)>,
}

/// A column's weekly values for one group (or the whole table), oldest first.
fn weekly(table: &MetricsTable, column: &str, team: Option<&str>) -> Vec<Option<f64>> {
    let values = table.floats(column);
    match team {
        None => values,
        Some(name) => values
            .into_iter()
            .zip(table.strings("team"))
            .filter(|(_, t)| t == name)
            .map(|(v, _)| v)
            .collect(),
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

/// (this week, the previous week, the median of the weeks before).
fn now_previous_median(weeks: &[Option<f64>]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let n = weeks.len();
    let before: Vec<f64> = weeks[..n.saturating_sub(1)]
        .iter()
        .flatten()
        .copied()
        .collect();
    (
        weeks.last().copied().flatten(),
        weeks.iter().rev().nth(1).copied().flatten(),
        median(&before),
    )
}

/// A report section of catalogue metrics: the organisation's rows, then
/// one per-team table per catalogue group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSection {
    /// The organisation: every metric of the section.
    pub metrics: Vec<GovernanceMetric>,
    /// Column titles of [`GovernanceTeam::cells`].
    pub columns: Vec<String>,
    /// The cells' groups, in order: a heading and how many cells (one
    /// per-team table each, so no table is too wide to read).
    pub groups: Vec<(String, usize)>,
    pub teams: Vec<GovernanceTeam>,
}

/// The section's metrics from the weekly metric tables the report already
/// computed: `lead` (metrics of other parts shown first for comparison,
/// organisation only), then every metric of the section's catalogue
/// groups.
pub fn section(
    org: &MetricsTable,
    teams: &MetricsTable,
    section: Section,
    lead: &[&'static Metric],
) -> MetricSection {
    let grouped: Vec<&'static Metric> = catalogue::groups(section)
        .flat_map(|(_, metrics)| metrics.iter())
        .collect();
    let metrics = lead
        .iter()
        .chain(&grouped)
        .map(|m| {
            let kind = Kind::of(m.unit);
            let weeks = weekly(org, m.column, None);
            let (now, previous, median12) = now_previous_median(&weeks);
            GovernanceMetric {
                metric: m.title.to_string(),
                value: kind.value(now),
                vs_previous: kind.change(now, previous),
                vs_median: kind.change(now, median12),
                weeks,
            }
        })
        .collect();
    let mut names = teams.strings("team");
    names.sort();
    names.dedup();
    let team_rows = names
        .into_iter()
        .map(|team| {
            let cells = grouped
                .iter()
                .map(|m| {
                    let kind = Kind::of(m.unit);
                    let (now, _, median12) =
                        now_previous_median(&weekly(teams, m.column, Some(&team)));
                    (kind.value(now), kind.change(now, median12))
                })
                .collect();
            GovernanceTeam { team, cells }
        })
        .collect();
    MetricSection {
        metrics,
        columns: grouped.iter().map(|m| m.short.to_string()).collect(),
        groups: catalogue::groups(section)
            .map(|(title, metrics)| (title.to_string(), metrics.len()))
            .collect(),
        teams: team_rows,
    }
}

/// The audit table's rows from `queries/report/unreviewed_changes.sql`,
/// and the total it counted.
pub fn unreviewed(
    batches: &[RecordBatch],
    links: &std::collections::HashMap<String, WebLinks>,
) -> (Vec<UnreviewedChange>, u64) {
    let mut out = Vec::new();
    let mut total = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            let repo = super::build::text(b, "repo", r);
            let number = super::build::float(b, "number", r).unwrap_or(0.0) as i64;
            total = super::build::float(b, "total", r).unwrap_or(0.0) as u64;
            let micros = |c: &str| Timestamp::from_micros(micros(b, c, r).unwrap_or(0));
            out.push(UnreviewedChange {
                change_url: links.get(&repo).map(|l| l.change_url(number)),
                repo,
                number,
                title: super::build::text(b, "title", r),
                author: super::build::text(b, "author", r),
                merged_at: micros("merged_at"),
                deployment_id: super::build::text(b, "deployment_id", r),
                deployed_at: micros("deployed_at"),
                reason: super::build::text(b, "reason", r),
            });
        }
    }
    (out, total)
}

/// A timestamp column's microseconds.
pub(super) fn micros(b: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Int64Type};
    let c = cast(b.column_by_name(column)?, &DataType::Int64).ok()?;
    (!c.is_null(row)).then(|| c.as_primitive::<Int64Type>().value(row))
}

pub(super) fn text(s: impl Into<String>) -> Cell {
    vec![Inline::Text(s.into())]
}

/// The organisation's table of a metric section, then its per-team tables.
pub fn metric_blocks(section: &MetricSection) -> Vec<Block> {
    let mut doc = vec![Block::Table {
        header: [
            "metric",
            "this week",
            "vs previous week",
            "vs 12-week median",
            "last 13 weeks",
        ]
        .map(String::from)
        .to_vec(),
        rows: section
            .metrics
            .iter()
            .map(|m| {
                vec![
                    text(&m.metric),
                    text(&m.value),
                    text(&m.vs_previous),
                    text(&m.vs_median),
                    vec![Inline::Sparkline(m.weeks.clone())],
                ]
            })
            .collect(),
    }];
    if section.teams.is_empty() {
        return doc;
    }
    doc.push(Block::Paragraph(text(
        "Per team: this week, and the change against the team's 12-week median.",
    )));
    let mut at = 0;
    for (title, n) in &section.groups {
        let columns = at..at + n;
        at += n;
        doc.push(Block::Paragraph(vec![Inline::Strong(title.clone())]));
        let mut header = vec!["team".to_string()];
        header.extend(section.columns[columns.clone()].iter().cloned());
        doc.push(Block::Table {
            header,
            rows: section
                .teams
                .iter()
                .map(|t| {
                    let mut row = vec![text(&t.team)];
                    row.extend(t.cells[columns.clone()].iter().map(|(value, trend)| {
                        let mut cell = vec![Inline::Text(value.clone())];
                        if trend != "–" {
                            cell.extend([Inline::Break, Inline::Note(trend.clone())]);
                        }
                        cell
                    }));
                    row
                })
                .collect(),
        });
    }
    doc
}

/// The section's blocks.
pub fn blocks(r: &Report) -> Vec<Block> {
    let mut doc = vec![
        Block::Heading("Release governance".into()),
        Block::Paragraph(text(
            "Changes that reached production this week (each counted at the first production \
             deployment that shipped its merge commit) and how they were reviewed: four-eyes \
             means approved before the merge by someone other than the author, not a bot, and \
             not dismissed (docs/metrics.md section 8). Then who approved each production \
             deployment, how long it waited, and how much each deployment and change shipped \
             (section 9).",
        )),
    ];
    doc.extend(metric_blocks(&r.governance));
    doc.push(Block::Heading(
        "Production changes without a second pair of eyes".into(),
    ));
    if r.unreviewed.is_empty() {
        doc.push(Block::Paragraph(text(
            "None this week: every change that reached production was four-eyes.",
        )));
        return doc;
    }
    if r.unreviewed_total as usize > r.unreviewed.len() {
        doc.push(Block::Paragraph(text(format!(
            "The newest {} of {}; `doralens explain change <repo>#<number>` tells each one's \
             reviews, and `GET /api/v1/changes/unreviewed` lists them all.",
            r.unreviewed.len(),
            r.unreviewed_total
        ))));
    }
    doc.push(Block::Table {
        header: ["change", "author", "merged", "deployment", "why"]
            .map(String::from)
            .to_vec(),
        rows: r
            .unreviewed
            .iter()
            .map(|c| {
                let name = vec![Inline::Text(format!("{}#{} {}", c.repo, c.number, c.title))];
                let change = match &c.change_url {
                    Some(url) => vec![Inline::Link(name, url.clone())],
                    None => name,
                };
                vec![
                    change,
                    text(if c.author.is_empty() {
                        "–".to_string()
                    } else {
                        c.author.clone()
                    }),
                    text(c.merged_at.minute()),
                    text(format!("{} ({})", c.deployment_id, c.deployed_at.minute())),
                    text(&c.reason),
                ]
            })
            .collect(),
    });
    doc
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// A weekly table of `four_eyes_share` and `production_changes` for
    /// the given (team, share, changes) rows, oldest first per team.
    fn table(rows: &[(&str, Option<f64>, Option<f64>)]) -> MetricsTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("team", DataType::Utf8, false),
            Field::new("four_eyes_share", DataType::Float64, true),
            Field::new("production_changes", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap();
        MetricsTable {
            schema,
            batches: vec![batch],
        }
    }

    fn cell<'a>(team: &'a GovernanceTeam, column: &str) -> &'a (String, String) {
        let i = catalogue::groups(Section::Governance)
            .flat_map(|(_, metrics)| metrics.iter())
            .position(|m| m.column == column)
            .unwrap();
        &team.cells[i]
    }

    #[test]
    fn trends_against_the_previous_week_and_the_median_of_the_weeks_before() {
        // The organisation: four weeks of share 0.5, 0.7, 0.6 then 0.8.
        // vs previous week: 0.8 − 0.6 = +20 pp; the median of the weeks
        // before (0.5, 0.6, 0.7) is 0.6: +20 pp. Changes 10, 20, 30, 40:
        // +33% on 30 and +100% on the median 20.
        let org = table(&[
            ("", Some(0.5), Some(10.0)),
            ("", Some(0.7), Some(20.0)),
            ("", Some(0.6), Some(30.0)),
            ("", Some(0.8), Some(40.0)),
        ]);
        // Team a: a week without changes (no share) in the history, the
        // median of 0.9 and 1.0 is 0.95, this week 0.75: −20 pp. Team b:
        // nothing before this week, so no trend.
        let teams = table(&[
            ("b", Some(0.5), Some(2.0)),
            ("a", Some(0.9), Some(10.0)),
            ("a", None, Some(0.0)),
            ("a", Some(1.0), Some(10.0)),
            ("a", Some(0.75), Some(4.0)),
        ]);
        let MetricSection {
            metrics: rows,
            teams: team_rows,
            ..
        } = section(&org, &teams, Section::Governance, &[]);
        let share = rows.iter().find(|m| m.metric == "Four-eyes share").unwrap();
        assert_eq!(
            (&*share.value, &*share.vs_previous, &*share.vs_median),
            ("80.0%", "+20.0 pp", "+20.0 pp")
        );
        assert_eq!(share.weeks.len(), 4);
        let changes = rows
            .iter()
            .find(|m| m.metric == "Changes that reached production")
            .unwrap();
        assert_eq!(
            (&*changes.value, &*changes.vs_previous, &*changes.vs_median),
            ("40", "+33%", "+100%")
        );
        let names: Vec<&str> = team_rows.iter().map(|t| t.team.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            cell(&team_rows[0], "four_eyes_share"),
            &("75.0%".to_string(), "-20.0 pp".to_string())
        );
        // a's changes: 4 against the median of 10, 0, 10 = 10: −60%.
        assert_eq!(
            cell(&team_rows[0], "production_changes"),
            &("4".to_string(), "-60%".to_string())
        );
        assert_eq!(
            cell(&team_rows[1], "four_eyes_share"),
            &("50.0%".to_string(), "–".to_string())
        );
    }
}
