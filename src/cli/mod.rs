//! Command-line interface: `args` defines every flag, `commands` has one
//! short function per command; this module only dispatches. `main.rs`
//! parses arguments, calls [`run`] and maps errors to exit codes.

pub mod args;
mod choices;
pub(crate) mod commands;
pub mod config;
mod demo;
mod output;
pub mod sources;

pub use args::*;
pub use commands::open_engine;
pub use output::{emit, emit_metrics, emit_metrics_columns};

use crate::error::{Error, Result};
use commands::Context;

pub fn run(cli: Cli) -> Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // The metric plans, encoded for a Ballista cluster and decoded by its
    // scheduler and executors (which run on this runtime too), recurse once
    // per plan level: deeper than tokio's 2 MiB worker stacks allow.
    #[cfg(feature = "cluster")]
    {
        builder.thread_stack_size(64 << 20);
        crate::cluster::init_log();
    }
    let runtime = builder
        .build()
        .map_err(|e| Error::io("cannot start runtime", "<tokio>", e))?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<()> {
    if let Command::Cluster(command) = &cli.command {
        return commands::cluster::run(command).await;
    }
    let location = cli
        .warehouse
        .as_deref()
        .map(|p| p.to_string_lossy().to_string());
    if let Some(url) = location.filter(|l| crate::store::is_url(l)) {
        return remote_dispatch(&url, cli.cluster, cli.command).await;
    }
    let ctx = Context {
        warehouse: cli.warehouse,
        remote: None,
        cluster: cli.cluster,
        run: None,
    };
    run_command(&ctx, cli.command).await
}

#[cfg(not(feature = "cloud"))]
async fn remote_dispatch(url: &str, _cluster: Option<String>, _command: Command) -> Result<()> {
    Err(Error::usage(
        "--warehouse",
        format!(
            "{url} is an object-store location; this doralens was built without them: \
             rebuild with `cargo install --path . --features cloud`, or give a directory"
        ),
    ))
}

/// Runs a command on a working copy of the object-store warehouse's newest
/// commit, then commits what it changed (`store::remote`). When another
/// writer commits first the command runs again on the new version, as a
/// writer waiting for the lock would have.
#[cfg(feature = "cloud")]
async fn remote_dispatch(url: &str, cluster: Option<String>, command: Command) -> Result<()> {
    use crate::store::remote::{Publish, Remote};
    use std::sync::Arc;
    const ATTEMPTS: usize = 8;
    let remote = Arc::new(Remote::open(url)?);
    match &command {
        Command::Vacuum { retain } => return commands::vacuum::remote(&remote, retain).await,
        // One working copy for the server's whole run, following the
        // location (serve/follow.rs); it commits its pushes itself.
        Command::Serve(_) => {
            let checkout = Arc::new(remote.checkout().await?);
            let ctx = Context {
                warehouse: Some(checkout.warehouse().root().to_path_buf()),
                remote: Some(commands::RemoteInfo {
                    url: url.to_string(),
                    empty: checkout.version().is_none(),
                    remote: remote.clone(),
                    checkout,
                }),
                cluster,
                run: None,
            };
            return run_command(&ctx, command).await;
        }
        _ => {}
    }
    for attempt in 1..=ATTEMPTS {
        let checkout = Arc::new(remote.checkout().await?);
        let ctx = Context {
            warehouse: Some(checkout.warehouse().root().to_path_buf()),
            remote: Some(commands::RemoteInfo {
                url: url.to_string(),
                empty: checkout.version().is_none(),
                remote: remote.clone(),
                checkout: checkout.clone(),
            }),
            cluster: cluster.clone(),
            run: None,
        };
        run_command(&ctx, command.clone()).await?;
        // A shard of attribution is what `attribute` is for: never dropped.
        let derived_is_data = matches!(command, Command::Attribute { .. });
        match checkout.publish(&remote).await? {
            Publish::Unchanged => return Ok(()),
            Publish::Conflict { data: false } if !derived_is_data => return Ok(()),
            Publish::Committed(version) => {
                eprintln!("committed version {version} of {url}");
                return Ok(());
            }
            Publish::Conflict { .. } => {
                eprintln!(
                    "note: another writer committed to {url} first; running again on its \
                     version (attempt {} of {ATTEMPTS})",
                    attempt + 1
                );
                // Writers that lost together must not meet again at once.
                let pause = 50 * attempt as u64 + u64::from(std::process::id() % 97);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
        }
    }
    Err(Error::Warehouse {
        path: url.into(),
        message: format!(
            "other writers committed first {ATTEMPTS} times in a row; nothing of this run was \
             committed: run it again"
        ),
    })
}

async fn run_command(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Import { table, files } => commands::import::run(ctx, &table, &files).await,
        Command::Init { path, force } => commands::init::run(&path, force),
        Command::Ingest {
            source,
            config,
            full,
        } => sources::ingest(ctx, &config, full, source.as_ref()).await,
        Command::Analyze(args) => commands::analyze::run(ctx, &args).await,
        Command::Metrics(args) => commands::metrics::run(ctx, args).await,
        Command::Sql(args) => commands::sql::run(ctx, args).await,
        Command::Generate(args) => commands::generate::run(ctx, args),
        Command::Demo { dir } => demo::run(&dir).await,
        Command::Tables => {
            print!("{}", crate::store::schema::tables_markdown());
            Ok(())
        }
        Command::Export(args) => commands::export::run(ctx, &args).await,
        Command::Report(args) => commands::report::run(ctx, &args).await,
        Command::Explain(args) => commands::explain::run(ctx, &args).await,
        Command::Benchmark(args) => commands::benchmark::run(ctx, args).await,
        Command::Chart(args) => commands::chart::run(ctx, args).await,
        Command::Vacuum { retain } => commands::vacuum::run(ctx, &retain),
        Command::Serve(args) => commands::serve::run(ctx, args).await,
        Command::Token(command) => commands::token::run(ctx, command),
        Command::Audit(args) => commands::token::audit(ctx, &args),
        Command::Cluster(command) => commands::cluster::run(&command).await,
        Command::Attribute { shard, env } => commands::cluster::attribute(ctx, &shard, &env),
    }
}
