//! The report's sections, walked once into blocks that both outputs render:
//! [`super::markdown`] and [`super::html`] only decide how a block looks,
//! never what the report says or in which order.

use super::MIN_DEPLOYMENTS;
use super::model::{Kind, Report};

/// Inline content of a paragraph or a table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Strong(String),
    Code(String),
    /// A 95% range following a value in the same cell.
    Range(String),
    /// A level ("elite" … "low"), coloured in HTML.
    Level(String),
    /// A remark beside a value, muted in HTML.
    Note(String),
    /// Weekly values, oldest first: text bars in Markdown, a small chart in
    /// HTML.
    Sparkline(Vec<Option<f64>>),
    Link(Vec<Inline>, String),
    /// A space.
    Space,
    /// A line break in HTML, a space in Markdown.
    Break,
}

pub type Cell = Vec<Inline>;

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// The document's title (HTML: also the page title).
    Title(String),
    Paragraph(Vec<Inline>),
    /// The one-paragraph summary, highlighted in HTML.
    Summary(Vec<Inline>),
    Heading(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    /// Charts: referenced as `charts/<stem>.png` in Markdown, inline SVG in
    /// HTML.
    Charts(Vec<super::model::Chart>),
    List(Vec<String>),
}

fn text(s: impl Into<String>) -> Cell {
    vec![Inline::Text(s.into())]
}

/// The report as blocks, in reading order.
pub fn document(r: &Report) -> Vec<Block> {
    let mut doc = vec![
        Block::Title(format!("Delivery report {}", r.week)),
        Block::Paragraph(vec![Inline::Text(format!(
            "{} to {} (UTC). Levels: {}. Ranges are 95% intervals.",
            r.from.date(),
            (r.to - crate::base::time::Span::days(1)).date(),
            r.benchmark
        ))]),
        Block::Summary(vec![
            Inline::Strong("Summary:".into()),
            Inline::Space,
            Inline::Text(r.summary.clone()),
        ]),
        Block::Heading("Organisation".into()),
        Block::Table {
            header: [
                "metric",
                "this week",
                "95% range",
                "level",
                "vs previous week",
                "vs 12-week median",
            ]
            .map(String::from)
            .to_vec(),
            rows: r
                .org
                .iter()
                .map(|m| {
                    vec![
                        text(&m.metric),
                        text(&m.value),
                        text(&m.range),
                        vec![Inline::Level(m.level.clone())],
                        text(&m.vs_previous),
                        text(&m.vs_median),
                    ]
                })
                .collect(),
        },
        Block::Charts(r.charts.clone()),
        Block::Heading("DORA 2025 scores".into()),
        Block::Paragraph(text(
            "The week on the DORA Quick Check's 0–10 scale (10 best; docs/metrics.md section 5.1), beside the levels above: throughput is the mean of the lead time, deployment frequency and recovery time scores, stability of the change failure rate and rework rate scores. The averages are DORA's published 2025 means ± standard deviations (queries/levels/dora-2025-averages.csv, with their source and date).",
        )),
        Block::Table {
            header: ["score", "this week", "2025 average", "vs average"]
                .map(String::from)
                .to_vec(),
            rows: r
                .scores
                .iter()
                .map(|s| {
                    vec![
                        text(&s.title),
                        text(&s.score),
                        text(&s.average),
                        text(&s.vs_average),
                    ]
                })
                .collect(),
        },
        Block::Heading("Teams".into()),
        Block::Paragraph(vec![Inline::Text(format!(
            "Teams with at least {MIN_DEPLOYMENTS} deployments this week come first, by deployments; the others are listed last, unranked."
        ))]),
    ];
    let mut header: Vec<String> = ["team", "deployments", "last 13 weeks"]
        .map(String::from)
        .to_vec();
    header.extend(r.team_metrics.iter().cloned());
    let rows = r
        .teams
        .iter()
        .map(|t| {
            let mut name = vec![Inline::Text(t.team.clone())];
            if !t.judged {
                name.extend([
                    Inline::Space,
                    Inline::Note("(too few deployments to judge)".into()),
                ]);
            }
            let mut row = vec![
                name,
                text(t.deployments.to_string()),
                vec![Inline::Sparkline(t.sparkline.clone())],
            ];
            row.extend(t.cells.iter().map(|c| {
                let mut cell = vec![Inline::Text(c.value.clone())];
                if !c.range.is_empty() {
                    cell.extend([Inline::Break, Inline::Range(c.range.clone())]);
                }
                if let Some(level) = &c.level {
                    cell.extend([Inline::Break, Inline::Level(level.clone())]);
                }
                cell
            }));
            row
        })
        .collect();
    doc.push(Block::Table { header, rows });

    doc.push(Block::Heading("Failed deployments".into()));
    if r.failed.is_empty() {
        doc.push(Block::Paragraph(text("None this week.")));
    } else {
        doc.push(Block::Table {
            header: ["deployment", "service", "finished", "linked by", "recovery"]
                .map(String::from)
                .to_vec(),
            rows: r
                .failed
                .iter()
                .map(|f| {
                    let recovery = if f.open {
                        "open (incident unresolved)".to_string()
                    } else {
                        Kind::Duration.value(f.recovery_s)
                    };
                    vec![
                        text(&f.id),
                        text(&f.service),
                        text(f.finished_at.minute()),
                        text(&f.links),
                        text(recovery),
                    ]
                })
                .collect(),
        });
    }

    doc.push(Block::Heading("Slowest changes".into()));
    if r.slowest.is_empty() {
        doc.push(Block::Paragraph(text("No commits shipped this week.")));
    } else {
        let linked = |content: Vec<Inline>, url: &Option<String>| match url {
            Some(url) => vec![Inline::Link(content, url.clone())],
            None => content,
        };
        doc.push(Block::Table {
            header: ["lead time", "commit", "change", "deployment"]
                .map(String::from)
                .to_vec(),
            rows: r
                .slowest
                .iter()
                .map(|s| {
                    let sha = s.sha[..s.sha.len().min(10)].to_string();
                    let mut commit = linked(
                        vec![
                            Inline::Text(s.repo.clone()),
                            Inline::Space,
                            Inline::Code(sha),
                        ],
                        &s.commit_url,
                    );
                    commit.extend([Inline::Space, Inline::Text(s.message.clone())]);
                    vec![
                        text(Kind::Duration.value(Some(s.lead_time_s))),
                        commit,
                        linked(
                            text(s.change.clone().unwrap_or_else(|| "–".into())),
                            &s.change_url,
                        ),
                        text(&s.deployment_id),
                    ]
                })
                .collect(),
        });
    }

    doc.extend(super::governance::blocks(r));
    doc.extend(super::releases::blocks(r));

    doc.push(Block::Heading("Data quality".into()));
    doc.push(Block::List(r.quality.clone()));
    doc
}
