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

/// `doralens vacuum` on an object-store warehouse: commits older than
/// `--retain` (never the newest) and the objects no remaining commit names.
/// Objects younger than `--retain` stay whatever names them: they may be
/// a running writer's, not yet committed.
#[cfg(feature = "cloud")]
pub async fn remote(remote: &crate::store::remote::Remote, retain: &str) -> Result<()> {
    let retain = interval::parse_span("--retain", retain)?;
    let report = remote
        .vacuum(std::time::Duration::from_micros(
            retain.micros().max(0) as u64
        ))
        .await?;
    eprintln!(
        "removed {} objects no commit names and {} old commits from {}",
        report.objects_removed,
        report.commits_removed,
        remote.url()
    );
    Ok(())
}
