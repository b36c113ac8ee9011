//! What the sources of `doralens ingest` share (each source is a module of
//! [`crate::cli::sources`]): local git's report, the teams of the file,
//! where a tracker's first sync starts, and running a library source with
//! its summaries on stderr.

use crate::base::time::{Span, Timestamp, parse_instant};
use crate::cli::config::Config;
use crate::cli::sources::git::GitArgs;
use crate::error::Result;
use crate::ingest::client::http::Notify;
use crate::store::schema::Table;

use super::Context;

/// `ingest git`: local repositories.
pub fn git(ctx: &Context, args: &GitArgs, full: bool) -> Result<()> {
    let warehouse = ctx.open()?;
    let reports =
        crate::ingest::git::ingest_all(&warehouse, &args.paths, &args.selection.options(full)?)?;
    for r in reports {
        eprintln!(
            "{}: {} {}commits, {} tag deployments, {} rollbacks",
            r.repo,
            r.commits,
            if r.incremental { "new " } else { "" },
            r.deployments,
            r.rollbacks
        );
    }
    Ok(())
}

/// The `[teams]` of the file, written before plain `ingest` syncs.
pub fn write_teams(ctx: &Context, config: &Config) -> Result<()> {
    let teams = config.team_rows();
    if teams.is_empty() {
        return Ok(());
    }
    let warehouse = ctx.open()?;
    // Provenance: the rows come from the file's [teams] section.
    let warehouse = match warehouse.provenance().map(|s| s.scope.clone()) {
        Some(file) => warehouse.in_scope(file.clone(), Some(format!("{file} [teams]"))),
        None => warehouse,
    };
    let mut buffer = crate::store::buffer::TableBuffer::new(Table::Teams);
    for (team, service) in &teams {
        crate::store::rows::TeamRow { team, service }.push(&mut buffer);
    }
    let batch = buffer.finish()?;
    let batches = crate::ingest::keep_last_per_key(Table::Teams, vec![batch])?;
    warehouse.upsert(Table::Teams, &batches)?;
    Ok(())
}

/// Where a tracker's first (or `--full`) sync starts: its `since` (flag
/// over file), else a year ago.
pub fn since(value: Option<&String>) -> Result<Timestamp> {
    match value {
        Some(s) => parse_instant("--since", s),
        None => Ok(Timestamp::now() - Span::days(365)),
    }
}

/// Messages of a source, one line each on stderr.
pub fn stderr_lines() -> Notify {
    std::sync::Arc::new(|line: &str| eprintln!("{line}"))
}

/// Syncs a tracker's scopes and prints their summaries.
pub async fn run_tracker<S: crate::ingest::source::Source>(
    ctx: &Context,
    full: bool,
    source: &S,
    notify: &Notify,
) -> Result<()> {
    let warehouse = ctx.open()?;
    run_source_on(&warehouse, full, source, notify).await
}

/// [`run_tracker`] on an open warehouse (the forges open it first).
pub async fn run_source_on<S: crate::ingest::source::Source>(
    warehouse: &crate::store::warehouse::Warehouse,
    full: bool,
    source: &S,
    notify: &Notify,
) -> Result<()> {
    use crate::ingest::source::{SourceContext, sync_all};
    let sync = SourceContext::new(warehouse, full, notify.clone());
    for r in sync_all(source, &sync).await? {
        eprintln!("{}", r.summary(source.name(), source.tables()));
    }
    Ok(())
}
