//! The report's "Releases and flags" section (docs/metrics.md section 9):
//! deploy is not release. Deployment frequency beside every metric of the
//! catalogue groups of [`Section::Releases`](crate::metrics::catalogue::Section)
//! (this week, against the previous week and the 12-week median, with the
//! last 13 weeks), then per team. A release metric added to the catalogue
//! appears here without an edit.

use super::document::{Block, Inline};
use super::governance::metric_blocks;
use super::model::Report;

/// The section's blocks.
pub fn blocks(r: &Report) -> Vec<Block> {
    let mut doc = vec![
        Block::Heading("Releases and flags".into()),
        Block::Paragraph(vec![Inline::Text(
            "Deploying code is not releasing it: how often feature flags reached all users in \
             production this week beside how often code was deployed, and how gradually \
             (docs/metrics.md section 9)."
                .into(),
        )]),
    ];
    doc.extend(metric_blocks(&r.releases));
    doc
}
