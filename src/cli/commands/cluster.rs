//! `doralens cluster scheduler|executor`, and the engine `--cluster` gives
//! every query command (see `crate::cluster`).

use crate::base::production::ProductionPattern;
use crate::cli::args::{ClusterCommand, EnvironmentArg};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::warehouse::Warehouse;

use super::Context;

/// `doralens attribute --shard I/N`.
pub fn attribute(ctx: &Context, shard: &str, env: &EnvironmentArg) -> Result<()> {
    let bad = || {
        Error::usage(
            "--shard",
            format!("`{shard}`: give I/N with 0 <= I < N, e.g. --shard 0/4"),
        )
    };
    let (index, count) = shard.split_once('/').ok_or_else(bad)?;
    let (index, count): (u32, u32) = (
        index.trim().parse().map_err(|_| bad())?,
        count.trim().parse().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    let warehouse = ctx.existing()?;
    let computed = crate::engine::attribute_shard(&warehouse, &env.pattern()?, index, count)?;
    eprintln!(
        "attribution shard {index}/{count}: {}",
        if computed {
            "computed"
        } else {
            "already computed for these inputs"
        }
    );
    Ok(())
}

#[cfg(not(feature = "cluster"))]
fn needs_feature(option: &str) -> Error {
    Error::usage(
        option,
        "this doralens was built without the `cluster` feature: rebuild with \
         `cargo install --path . --features cluster`",
    )
}

#[cfg(not(feature = "cluster"))]
pub async fn run(_command: &ClusterCommand) -> Result<()> {
    Err(needs_feature("cluster"))
}

#[cfg(not(feature = "cluster"))]
pub async fn engine(
    _ctx: &Context,
    _target: &str,
    _warehouse: &Warehouse,
    _production: &ProductionPattern,
) -> Result<Engine> {
    Err(needs_feature("--cluster"))
}

#[cfg(feature = "cluster")]
pub async fn run(command: &ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Scheduler { bind } => crate::cluster::run_scheduler(*bind).await,
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            concurrency,
            work_dir,
        } => {
            crate::cluster::run_executor(crate::cluster::ExecutorOptions {
                scheduler: *scheduler,
                bind: *bind,
                grpc_port: *grpc_port,
                concurrency: concurrency.unwrap_or_else(crate::cores),
                work_dir: work_dir.as_ref().map(|d| d.display().to_string()),
            })
            .await
        }
    }
}

/// The engine over `warehouse` whose queries run on the cluster `target`.
/// On an object-store warehouse, attribution is computed here (when the
/// commit has none for these inputs) and published first, so that the
/// executors read every table, derived ones included, from the store.
#[cfg(feature = "cluster")]
pub async fn engine(
    ctx: &Context,
    target: &str,
    warehouse: &Warehouse,
    production: &ProductionPattern,
) -> Result<Engine> {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use crate::engine::{Placement, attribution};
    use crate::store::remote::{EMPTY, Publish};
    use crate::store::schema::Table;

    let urls: Option<HashMap<PathBuf, String>> = match &ctx.remote {
        Some(info) => {
            let snapshot = warehouse.snapshot()?;
            crate::engine::ensure_attribution(warehouse, &snapshot, production)?;
            if let Publish::Conflict { .. } = info.checkout.publish(&info.remote).await? {
                return Err(Error::Warehouse {
                    path: info.url.clone().into(),
                    message: "another writer committed while the cluster's tables were being \
                              published; run the command again"
                        .into(),
                });
            }
            let commit = info.checkout.commit().ok_or_else(|| {
                Error::usage(
                    "--warehouse",
                    format!("{} holds no warehouse yet", info.url),
                )
            })?;
            let root = warehouse.root();
            let mut urls = HashMap::new();
            for (table, state) in &commit.tables {
                for seg in &state.segments {
                    urls.insert(
                        root.join(table).join(&seg.file),
                        info.remote.object_url(&format!("{table}/{}", seg.file)),
                    );
                }
            }
            for (set, _stamp, dir) in warehouse.derived_sets()? {
                if let Some(published) = commit.derived.get(&set) {
                    for file in &published.files {
                        urls.insert(
                            dir.join(file),
                            info.remote.object_url(&format!("{}/{file}", published.dir)),
                        );
                    }
                }
            }
            Some(urls)
        }
        None if target == "standalone" => None,
        None => {
            return Err(Error::usage(
                "--cluster",
                "the executors of a df:// cluster read the warehouse from an object store: give \
                 --warehouse s3://... (or gs://, az://, or a file:// path every executor can read)",
            ));
        }
    };
    // An empty Parquet file per table schema, for tables with no rows:
    // written once here, and uploaded where the executors read.
    // One directory for every run: the files are named by their schema, so
    // a run reuses what an earlier one wrote (a per-run directory was left
    // behind by every cluster command).
    let empty_dir = std::env::temp_dir().join("doralens-empty");
    std::fs::create_dir_all(&empty_dir).map_err(|e| Error::io("cannot create", &empty_dir, e))?;
    let mut schemas: Vec<(String, datafusion::arrow::datatypes::SchemaRef)> = Table::ALL
        .iter()
        .map(|t| (t.name().to_string(), t.stored_schema()))
        .collect();
    schemas.push(("deployment_commits".into(), attribution::shipped_schema()));
    schemas.push(("deployment_warnings".into(), attribution::warnings_schema()));
    let mut empty: HashMap<String, String> = HashMap::new();
    for (table, schema) in schemas {
        let name = format!(
            "{table}-{:016x}.parquet",
            crate::store::keys::text_key_hash([format!("{schema:?}").as_str()])
        );
        let local = empty_dir.join(&name);
        if !local.exists() {
            // Written beside and renamed, so a concurrent run never reads
            // half a file.
            let partial = empty_dir.join(format!("{name}.tmp-{}", std::process::id()));
            crate::store::warehouse::write_parquet(&partial, &schema, &[], None)?;
            std::fs::rename(&partial, &local).map_err(|e| Error::io("cannot write", &local, e))?;
        }
        let url = match &ctx.remote {
            Some(info) => {
                info.remote
                    .put_if_absent(&format!("{EMPTY}/{name}"), &local)
                    .await?;
                info.remote.object_url(&format!("{EMPTY}/{name}"))
            }
            None => local.to_string_lossy().to_string(),
        };
        empty.insert(table, url);
    }
    let url_of: crate::engine::FileUrl = match urls {
        Some(urls) => Box::new(move |path: &Path| urls.get(path).cloned()),
        // Standalone on a directory: the in-process executor reads it.
        None => Box::new(|path: &Path| Some(path.to_string_lossy().to_string())),
    };
    let empty_file = Box::new(move |table: &str| empty.get(table).cloned());
    let target = target.to_string();
    let placement = Placement {
        context: Box::new(move |config| {
            Box::pin(async move {
                let state = crate::cluster::session_state(config, crate::cluster::runtime(None)?);
                crate::cluster::context(&target, state).await
            })
        }),
        url_of,
        empty_file,
    };
    Engine::open_with(warehouse, production, Some(placement)).await
}
