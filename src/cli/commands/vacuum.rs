//! `doralens vacuum`.

use crate::error::Result;
use crate::metrics::interval;

use super::Context;

pub fn run(ctx: &Context, retain: &str) -> Result<()> {
    let retain = interval::parse_span("--retain", retain)?;
    let warehouse = ctx.existing()?;
    let report = warehouse.vacuum(
        std::time::Duration::from_micros(retain.micros().max(0) as u64),
        std::time::Duration::from_secs(30),
    )?;
    eprintln!(
        "removed {} superseded or leftover files and directories",
        report.removed
    );
    if report.readers_present {
        eprintln!(
            "note: readers (a running `serve`?) were still reading after 30 s; files superseded \
             within the last hour were kept for them: run vacuum again when they have stopped"
        );
    }
    Ok(())
}
