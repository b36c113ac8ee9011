//! The weekly report (`doralens report --week 2026-W46`): Markdown for chat
//! and wikis, and a self-contained HTML page (charts inline, no external
//! requests, readable on a phone, printable) with the same content.
//!
//! Contents, all for one ISO week (Monday 00:00 UTC to the next Monday):
//! - the organisation's headline metrics (the catalogue's, in its order)
//!   with their levels, the change against the previous week and against
//!   the median of the 12 weeks before, and a one-line summary naming what
//!   moved most against that median;
//! - a table per team, with sparklines of the last 13 weeks. **Order:**
//!   teams with at least [`MIN_DEPLOYMENTS`] production deployments in the
//!   week first, by deployments (descending), then name; teams with fewer
//!   are listed last and marked "too few deployments to judge" instead of
//!   being given levels;
//! - the week's failed deployments with what linked them and their
//!   recovery, and the slowest changes (longest lead time) with the change
//!   that brought them when one is known;
//! - release governance: every governance metric of the catalogue (the
//!   four-eyes share and review times, and whatever else is catalogued
//!   there) for the organisation and per team with their trends, and the
//!   audit table of the week's production changes without a second pair of
//!   eyes ([`governance`]);
//! - releases and flags: deployment frequency beside every release metric
//!   of the catalogue, organisation and per team ([`releases`]);
//! - data-quality notes: deployments of unknown shas, inferred incident
//!   links, incidents without a service, teams with too few deployments.
//!
//! Rates carry their Wilson interval and medians their order-statistic
//! interval (see `metrics::stats`), shown as ranges.
//!
//! The pipeline: [`build`] queries the warehouse (metric SQL and
//! `queries/report/`) into a [`model::Report`]; [`document`] walks its
//! sections once into blocks; [`markdown`] and [`html`] render the blocks.

pub mod build;
pub mod document;
pub mod governance;
pub mod html;
pub mod markdown;
pub mod model;
pub mod releases;

use std::path::{Path, PathBuf};

pub use crate::base::time::{last_complete_week, parse_week, week_name};
pub use build::build;
pub use model::Report;

use crate::error::{Error, Result};

/// Teams below this many production deployments in the week are not ranked.
pub const MIN_DEPLOYMENTS: u64 = 5;
/// Weeks of history for medians and sparklines.
pub const HISTORY_WEEKS: usize = 12;

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    markdown::render(&document::document(r))
}

/// The report as one HTML page.
pub fn html(r: &Report) -> String {
    html::render(&document::document(r))
}

/// Writes `report.md`, `report.html` and `charts/*.{svg,png}` into `dir`
/// (each file atomically); returns the two report files.
pub fn write(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    use std::io::Write as _;
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| Error::io("cannot create", &charts, e))?;
    for c in &r.charts {
        let png = crate::render::svg::png(&c.svg)?;
        crate::base::fs::atomic_write(&charts.join(format!("{}.svg", c.stem)), |f| {
            f.write_all(c.svg.as_bytes())
        })?;
        crate::base::fs::atomic_write(&charts.join(format!("{}.png", c.stem)), |f| {
            f.write_all(&png)
        })?;
    }
    let doc = document::document(r);
    let mut written = Vec::new();
    for (name, content) in [
        ("report.md", markdown::render(&doc)),
        ("report.html", html::render(&doc)),
    ] {
        let path = dir.join(name);
        crate::base::fs::atomic_write(&path, |f| f.write_all(content.as_bytes()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::parse_instant;

    #[test]
    fn iso_weeks() {
        let monday = parse_week("2026-W46").unwrap();
        assert_eq!(monday.to_string(), "2026-11-09T00:00:00Z");
        assert_eq!(week_name(monday), "2026-W46");
        assert!(parse_week("2026-46").is_err());
        assert!(parse_week("2026-W54").is_err());
        // 2026-11-22 is a Sunday in W47: the last complete week is W46.
        let now = parse_instant("now", "2026-11-22T12:00:00Z").unwrap();
        assert_eq!(week_name(last_complete_week(now)), "2026-W46");
    }
}
