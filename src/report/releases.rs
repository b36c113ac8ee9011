//! The report's "Releases and flags" section (docs/metrics.md sections 4.4
//! and 9): deploy is not release. Deployment frequency beside every metric
//! of the catalogue groups of
//! [`Section::Releases`](crate::metrics::catalogue::Section) (releases,
//! flag debt, recovery by action, flag changes: this week, against the
//! previous week and the 12-week median, with the last 13 weeks), then per
//! team; then the oldest stale flags with their owner and the week's
//! production flag changes without a change request. A metric added to
//! those groups appears here without an edit.

use datafusion::arrow::array::RecordBatch;

use super::document::{Block, Inline};
use super::governance::{metric_blocks, micros, text};
use super::model::{DirectFlagChange, Report, StaleFlag};
use crate::base::time::Timestamp;

/// The section's blocks.
pub fn blocks(r: &Report) -> Vec<Block> {
    let mut doc = vec![
        Block::Heading("Releases and flags".into()),
        Block::Paragraph(vec![Inline::Text(
            "Deploying code is not releasing it: how often feature flags reached all users in \
             production this week beside how often code was deployed, how gradually, and how \
             long code waited dark after its deployment; the flags left behind (flag debt); how \
             failed deployments recovered (rollback, flag toggle, hotfix) and how many users a \
             toggled flag exposed; and which production flag changes went through a change \
             request (docs/metrics.md sections 4.4 and 9)."
                .into(),
        )]),
    ];
    doc.extend(metric_blocks(&r.releases));
    stale_flag_section(r, &mut doc);
    direct_flag_section(r, &mut doc);
    doc
}

/// The stale flags list shows at most this many (the total is said).
pub const STALE_SHOWN: usize = 20;

/// The stale flag rows from `queries/report/stale_flags.sql`, and the
/// total it counted.
pub fn stale_flags(batches: &[RecordBatch]) -> (Vec<StaleFlag>, u64) {
    let mut out = Vec::new();
    let mut total = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            let text = |c: &str| super::build::text(b, c, r);
            total = super::build::float(b, "total", r).unwrap_or(0.0) as u64;
            out.push(StaleFlag {
                project: text("project"),
                flag_key: text("flag_key"),
                kind: text("kind"),
                owner: text("owner"),
                service: text("service"),
                age_days: super::build::float(b, "age_days", r),
                why: text("why"),
                referenced_in: text("referenced_in"),
            });
        }
    }
    (out, total)
}

/// "Oldest stale flags": who owns the debt, and why it is debt.
fn stale_flag_section(r: &Report, doc: &mut Vec<Block>) {
    doc.push(Block::Heading("Oldest stale flags".into()));
    if r.stale_flags.is_empty() {
        doc.push(Block::Paragraph(text(
            "None at the end of the week: no active flag is stale.",
        )));
        return;
    }
    let mut intro = "Flags stale at the end of the week (docs/metrics.md section 9.6), oldest \
                     first."
        .to_string();
    if r.stale_flags_total as usize > r.stale_flags.len() {
        intro.push_str(&format!(
            " The oldest {} of {}; `doralens sql \"SELECT * FROM stale_flags\"` lists them all.",
            r.stale_flags.len(),
            r.stale_flags_total
        ));
    }
    doc.push(Block::Paragraph(text(intro)));
    let dash = |s: &str| {
        if s.is_empty() {
            "–".to_string()
        } else {
            s.to_string()
        }
    };
    doc.push(Block::Table {
        header: [
            "flag",
            "kind",
            "owner",
            "age",
            "why",
            "still in the code of",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .stale_flags
            .iter()
            .map(|f| {
                vec![
                    text(format!("{}/{}", f.project, f.flag_key)),
                    text(dash(&f.kind)),
                    text(if f.owner.is_empty() {
                        "no owner".to_string()
                    } else {
                        f.owner.clone()
                    }),
                    text(f.age_days.map_or("–".to_string(), |d| format!("{d:.0} d"))),
                    text(&f.why),
                    text(dash(&f.referenced_in)),
                ]
            })
            .collect(),
    });
}

/// The direct flag change rows from `queries/report/direct_flag_changes.sql`,
/// and the total it counted.
pub fn direct_flag_changes(batches: &[RecordBatch]) -> (Vec<DirectFlagChange>, u64) {
    let mut out = Vec::new();
    let mut total = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            total = super::build::float(b, "total", r).unwrap_or(0.0) as u64;
            out.push(DirectFlagChange {
                project: super::build::text(b, "project", r),
                flag_key: super::build::text(b, "flag_key", r),
                environment: super::build::text(b, "environment", r),
                at: Timestamp::from_micros(micros(b, "at", r).unwrap_or(0)),
                actor: super::build::text(b, "actor", r),
                kind: super::build::text(b, "kind", r),
            });
        }
    }
    (out, total)
}

/// The section listing the week's direct production flag changes.
fn direct_flag_section(r: &Report, doc: &mut Vec<Block>) {
    doc.push(Block::Heading(
        "Production flag changes without a change request".into(),
    ));
    if r.direct_flag_changes.is_empty() {
        doc.push(Block::Paragraph(text(
            "None this week: every production flag change went through a change request.",
        )));
        return;
    }
    if r.direct_flag_changes_total as usize > r.direct_flag_changes.len() {
        doc.push(Block::Paragraph(text(format!(
            "The newest {} of {}; `doralens explain flag-changes` lists them all.",
            r.direct_flag_changes.len(),
            r.direct_flag_changes_total
        ))));
    }
    doc.push(Block::Table {
        header: ["flag", "environment", "at", "by", "change"]
            .map(String::from)
            .to_vec(),
        rows: r
            .direct_flag_changes
            .iter()
            .map(|c| {
                vec![
                    text(format!("{}/{}", c.project, c.flag_key)),
                    text(&c.environment),
                    text(c.at.minute()),
                    text(if c.actor.is_empty() {
                        "–".to_string()
                    } else {
                        c.actor.clone()
                    }),
                    text(&c.kind),
                ]
            })
            .collect(),
    });
}
