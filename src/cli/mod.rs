//! Command-line interface: `args` defines every flag, `commands` has one
//! short function per command; this module only dispatches. `main.rs`
//! parses arguments, calls [`run`] and maps errors to exit codes.

pub mod args;
mod commands;
pub mod config;
mod demo;
mod output;

pub use args::*;
pub use commands::open_engine;
pub use output::{emit, emit_metrics, emit_metrics_columns};

use crate::error::{Error, Result};
use commands::Context;

pub fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start runtime", "<tokio>", e))?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<()> {
    let ctx = Context {
        warehouse: cli.warehouse,
    };
    match cli.command {
        Command::Import { table, files } => commands::import::run(&ctx, &table, &files),
        Command::Init { path, force } => commands::init::run(&path, force),
        Command::Ingest {
            source: Some(IngestSource::Git(args)),
            full,
            ..
        } => commands::ingest::git(&ctx, &args, full),
        Command::Ingest {
            source:
                Some(
                    tracker @ (IngestSource::Pagerduty(_)
                    | IngestSource::Jira(_)
                    | IngestSource::IncidentIo(_)),
                ),
            config,
            full,
        } => commands::ingest::tracker(&ctx, &config, full, &tracker).await,
        Command::Ingest {
            source,
            config,
            full,
        } => {
            let explicit = match &source {
                Some(IngestSource::Github(a)) => Some((commands::ingest::Forge::GitHub, a)),
                Some(IngestSource::Gitlab(a)) => Some((commands::ingest::Forge::GitLab, a)),
                _ => None,
            };
            commands::ingest::forges(&ctx, &config, full, explicit).await
        }
        Command::Analyze(args) => commands::analyze::run(&ctx, &args).await,
        Command::Metrics(args) => commands::metrics::run(&ctx, args).await,
        Command::Sql(args) => commands::sql::run(&ctx, args).await,
        Command::Generate(args) => commands::generate::run(&ctx, args),
        Command::Demo { dir } => demo::run(&dir).await,
        Command::Tables => {
            print!("{}", crate::store::schema::tables_markdown());
            Ok(())
        }
        Command::Export(args) => commands::export::run(&ctx, &args).await,
        Command::Report(args) => commands::report::run(&ctx, &args).await,
        Command::Explain(args) => commands::explain::run(&ctx, &args).await,
        Command::Benchmark(args) => commands::benchmark::run(&ctx, args).await,
        Command::Chart(args) => commands::chart::run(&ctx, args).await,
        Command::Vacuum { retain } => commands::vacuum::run(&ctx, &retain),
        Command::Serve(args) => commands::serve::run(&ctx, args).await,
    }
}
