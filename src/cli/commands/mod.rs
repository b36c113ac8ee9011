//! One function per command, each short: resolve the options, call the
//! library, print. The warehouse directory is resolved once ([`Context`]).

pub mod analyze;
pub mod benchmark;
pub mod chart;
pub mod cluster;
pub mod explain;
pub mod export;
pub mod generate;
pub mod import;
pub mod ingest;
pub mod init;
pub mod metrics;
pub mod report;
pub mod serve;
pub mod sql;
pub mod token;
pub mod vacuum;

use std::path::PathBuf;

use crate::base::production::ProductionPattern;
use crate::engine::Engine;
use crate::error::Result;
use crate::store::warehouse::Warehouse;

use super::args::DEFAULT_WAREHOUSE;

/// What every command shares: where the warehouse is.
pub struct Context {
    /// `--warehouse` / `DORALENS_WAREHOUSE`, when given; for an
    /// object-store warehouse, the working copy's directory.
    pub warehouse: Option<PathBuf>,
    /// Set when the warehouse is a working copy of an object store's.
    pub remote: Option<RemoteInfo>,
    /// `--cluster`: where queries run (the `cluster` feature).
    pub cluster: Option<String>,
    /// The warehouse stamped for the run being recorded in `syncs`
    /// ([`Context::recording`]); `open` gives it.
    pub run: Option<Warehouse>,
}

/// The object-store warehouse a working copy was taken from.
#[derive(Clone)]
pub struct RemoteInfo {
    pub url: String,
    /// The location had no commit yet.
    pub empty: bool,
    #[cfg(feature = "cloud")]
    pub remote: std::sync::Arc<crate::store::remote::Remote>,
    #[cfg(feature = "cloud")]
    pub checkout: std::sync::Arc<crate::store::remote::Checkout>,
}

impl Context {
    pub fn dir(&self) -> PathBuf {
        self.warehouse
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WAREHOUSE))
    }

    /// The warehouse, created when missing (commands that write).
    pub fn open(&self) -> Result<Warehouse> {
        match &self.run {
            Some(run) => Ok(run.clone()),
            None => Warehouse::open(self.dir()),
        }
    }

    /// This context recording a run of `source` in `syncs`: every row
    /// written through [`Context::open`] carries its provenance. End it
    /// with [`Context::finish`].
    pub fn recording(&self, source: &str, scope: &str) -> Result<Context> {
        let run = Warehouse::open(self.dir())?.begin_sync(source, scope)?;
        Ok(Context {
            warehouse: self.warehouse.clone(),
            remote: self.remote.clone(),
            cluster: self.cluster.clone(),
            run: Some(run),
        })
    }

    /// Appends the recorded run's `syncs` row (ok, or failed with the
    /// error) and gives `result` back.
    pub fn finish<T>(&self, result: Result<T>) -> Result<T> {
        match &self.run {
            Some(run) => run.end_sync(result),
            None => result,
        }
    }

    /// Runs `work` as one recorded run of `source`.
    pub async fn recorded<T, F>(&self, source: &str, scope: &str, work: F) -> Result<T>
    where
        F: AsyncFnOnce(&Context) -> Result<T>,
    {
        let run = self.recording(source, scope)?;
        let result = work(&run).await;
        run.finish(result)
    }

    /// The warehouse, which must exist (commands that read).
    pub fn existing(&self) -> Result<Warehouse> {
        if let Some(remote) = self.remote.as_ref().filter(|r| r.empty) {
            return Err(crate::error::Error::usage(
                "--warehouse",
                format!(
                    "{} holds no warehouse yet; import data first (doralens import, doralens \
                     ingest, doralens generate) with the same --warehouse",
                    remote.url
                ),
            ));
        }
        Warehouse::open_existing(self.dir())
    }
}

impl Context {
    /// The query engine over `warehouse`: here, or with `--cluster` on a
    /// Ballista cluster.
    pub async fn engine(
        &self,
        warehouse: &Warehouse,
        production: &ProductionPattern,
    ) -> Result<Engine> {
        match &self.cluster {
            None => open_engine(warehouse, production).await,
            Some(target) => {
                let engine = cluster::engine(self, target, warehouse, production).await?;
                warn_unknown_shas(&engine);
                Ok(engine)
            }
        }
    }
}

pub async fn open_engine(warehouse: &Warehouse, production: &ProductionPattern) -> Result<Engine> {
    let engine = Engine::open(warehouse, production).await?;
    warn_unknown_shas(&engine);
    Ok(engine)
}

fn warn_unknown_shas(engine: &Engine) {
    if engine.unknown_sha_deployments > 0 {
        eprintln!(
            "warning: {} production deployment(s) name a sha that is not among their repo's commits; \
             they count as deployments but ship nothing (SELECT * FROM deployment_warnings)",
            engine.unknown_sha_deployments
        );
    }
}
