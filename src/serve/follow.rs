//! `serve` over an object-store warehouse (`--warehouse s3://…`,
//! `file://…`; cargo feature `cloud`): the server reads one working copy of
//! the newest commit, the same kind every command works on
//! (`store::remote`), and follows the location:
//!
//! - every `--refresh` seconds (default 5) it lists the commit log after
//!   its version; when another machine committed, it downloads what the
//!   new commit names into the local cache, then, with new readers held
//!   back for the moment it takes, links it in place
//!   ([`crate::store::remote::Checkout::install`]). A request already
//!   running keeps its engine and the files it names (nothing is deleted);
//!   the next one opens the new state, and the answer cache is keyed by the
//!   commit version, so no answer from before the sync is served after it;
//! - a failed check (the store unreachable, credentials refused) keeps the
//!   last good snapshot served; it is logged on stderr when it starts, when
//!   its message changes and once a minute while it lasts, and tried again
//!   at the next tick;
//! - a push (`POST /api/v1/deployments|incidents`) is committed to the
//!   location as `import` commits: on a fresh working copy of the newest
//!   commit, with the conditional commit, run again when another writer
//!   committed first; then the served copy is refreshed at once, so the
//!   pusher reads its rows back;
//! - the audit log is kept beside the location's cache
//!   (`<cache>/<location>/_audit/audit.ndjson`), since the working copy is
//!   removed when the server stops.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The object-store location a server follows.
pub struct Follow {
    /// The location as given (no credentials are ever in it).
    pub url: String,
    /// Where the audit log is kept (it outlives the working copy).
    pub audit_root: PathBuf,
    /// How often the commit log is checked (`--refresh`).
    pub every: Duration,
    /// The commit version the served copy is at (0: none).
    version: AtomicU64,
    #[cfg(feature = "cloud")]
    remote: std::sync::Arc<crate::store::remote::Remote>,
    #[cfg(feature = "cloud")]
    checkout: std::sync::Arc<crate::store::remote::Checkout>,
    /// Pushes, one at a time (each commits before the next starts).
    #[cfg(feature = "cloud")]
    pushes: tokio::sync::Mutex<()>,
    /// Without the feature no location can be followed.
    #[cfg(not(feature = "cloud"))]
    never: std::convert::Infallible,
}

impl Follow {
    #[cfg(feature = "cloud")]
    pub fn new(
        remote: std::sync::Arc<crate::store::remote::Remote>,
        checkout: std::sync::Arc<crate::store::remote::Checkout>,
        every: Duration,
    ) -> Follow {
        Follow {
            url: remote.url().to_string(),
            audit_root: remote.cache_dir().to_path_buf(),
            every,
            version: AtomicU64::new(checkout.version().unwrap_or(0)),
            remote,
            checkout,
            pushes: tokio::sync::Mutex::new(()),
        }
    }

    /// The commit version the served copy is at.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}

#[cfg(feature = "cloud")]
mod cloud {
    use std::sync::Arc;
    use std::time::Instant;

    use datafusion::arrow::array::RecordBatch;

    use super::{Follow, Ordering, Throttle};
    use crate::error::{Error, Result};
    use crate::serve::Server;
    use crate::store::remote::Publish;
    use crate::store::schema::Table;
    use crate::store::warehouse::UpsertReport;

    /// Commits attempted per push before giving up.
    const ATTEMPTS: usize = 8;

    impl Follow {
        /// Checks the location every `--refresh` seconds, for ever.
        pub(in crate::serve) async fn run(self: Arc<Self>, server: Arc<Server>) {
            let mut throttle = Throttle::default();
            loop {
                tokio::time::sleep(self.every).await;
                match self.refresh(&server).await {
                    Ok(moved) => {
                        if throttle.recovered() {
                            eprintln!("{}: reachable again", self.url);
                        }
                        if let Some(version) = moved {
                            eprintln!("{}: serving version {version}", self.url);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        if throttle.should_log(&message, Instant::now()) {
                            eprintln!(
                                "warning: cannot refresh from {}: {message}; still serving version \
                                 {}, trying again every {} s",
                                self.url,
                                self.version(),
                                self.every.as_secs_f64()
                            );
                        }
                    }
                }
            }
        }

        /// Brings the served copy to the newest commit; its version when
        /// it moved.
        pub(in crate::serve) async fn refresh(&self, server: &Server) -> Result<Option<u64>> {
            let Some(commit) = self.checkout.fetch_newer(&self.remote).await? else {
                return Ok(None);
            };
            let version = commit.version;
            // No engine is opened while the files and manifests change.
            let _readers_wait = server.cache.lock().await;
            self.checkout.install(&self.remote, commit)?;
            self.version.store(version, Ordering::SeqCst);
            Ok(Some(version))
        }

        /// Upserts `batches` into `table` at the location (see the module
        /// docs), then refreshes the served copy.
        pub(in crate::serve) async fn push(
            &self,
            server: &Server,
            table: Table,
            scope: &str,
            batches: Vec<RecordBatch>,
        ) -> Result<UpsertReport> {
            let _one_at_a_time = self.pushes.lock().await;
            let batches = Arc::new(batches);
            for attempt in 1..=ATTEMPTS {
                let copy = Arc::new(self.remote.checkout().await?);
                let (writer, rows, scope) = (copy.clone(), batches.clone(), scope.to_string());
                // One `syncs` run in the copy, committed with the rows.
                let report = tokio::task::spawn_blocking(move || {
                    let run = writer.warehouse().begin_sync("push", &scope)?;
                    let result = run.upsert(table, &rows);
                    run.end_sync(result)
                })
                .await
                .map_err(|e| Error::Warehouse {
                    path: self.url.clone().into(),
                    message: format!("the push's upsert failed: {e}"),
                })??;
                match copy.publish(&self.remote).await? {
                    Publish::Committed(_)
                    | Publish::Unchanged
                    | Publish::Conflict { data: false } => {
                        if let Err(e) = self.refresh(server).await {
                            eprintln!(
                                "warning: pushed rows are committed to {}, but the served copy \
                                 could not be refreshed yet: {e}",
                                self.url
                            );
                        }
                        return Ok(report);
                    }
                    Publish::Conflict { data: true } => {
                        let pause = 50 * attempt as u64 + u64::from(std::process::id() % 97);
                        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    }
                }
            }
            Err(Error::Warehouse {
                path: self.url.clone().into(),
                message: format!(
                    "other writers committed first {ATTEMPTS} times in a row; the push was not \
                     committed: send it again"
                ),
            })
        }
    }
}

#[cfg(not(feature = "cloud"))]
impl Follow {
    pub(in crate::serve) async fn run(
        self: std::sync::Arc<Self>,
        _: std::sync::Arc<super::Server>,
    ) {
        match self.never {}
    }

    pub(in crate::serve) async fn push(
        &self,
        _: &super::Server,
        _: crate::store::schema::Table,
        _: &str,
        _: Vec<datafusion::arrow::array::RecordBatch>,
    ) -> crate::error::Result<crate::store::warehouse::UpsertReport> {
        match self.never {}
    }
}

/// When a failing refresh is worth a line on stderr: when failures start,
/// when the message changes, and once a minute while the same one lasts.
#[derive(Default)]
struct Throttle {
    last: Option<(String, Instant)>,
}

#[cfg_attr(not(feature = "cloud"), allow(dead_code))]
impl Throttle {
    const REPEAT: Duration = Duration::from_secs(60);

    fn should_log(&mut self, message: &str, now: Instant) -> bool {
        let log = match &self.last {
            Some((last, at)) => last != message || now.duration_since(*at) >= Self::REPEAT,
            None => true,
        };
        if log {
            self.last = Some((message.to_string(), now));
        }
        log
    }

    /// True once after failures end.
    fn recovered(&mut self) -> bool {
        self.last.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_when_they_start_change_or_last_a_minute() {
        let mut t = Throttle::default();
        let start = Instant::now();
        assert!(t.should_log("unreachable", start));
        assert!(!t.should_log("unreachable", start + Duration::from_secs(5)));
        assert!(!t.should_log("unreachable", start + Duration::from_secs(59)));
        assert!(t.should_log("unreachable", start + Duration::from_secs(60)));
        assert!(t.should_log("refused", start + Duration::from_secs(61)));
        assert!(t.recovered(), "recovery is told once");
        assert!(!t.recovered());
        assert!(t.should_log("refused", start + Duration::from_secs(62)));
    }
}
