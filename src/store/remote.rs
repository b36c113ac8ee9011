//! The warehouse on object storage (cargo feature `cloud`):
//! `--warehouse s3://bucket/prefix`, `gs://`, `az://` or `file://`.
//!
//! Layout under the prefix (see ARCHITECTURE.md):
//!
//! ```text
//! _log/00000000000000000007.json   commit 7: every table's segments, the
//!                                  sync cursors and the derived sets
//! <table>/seg-000012-<token>.parquet (+ .keys)   immutable segments
//! _derived/<set>-<token>/<table>/part-000.parquet
//! ```
//!
//! **Commits.** A commit is one immutable JSON object naming everything a
//! reader needs. Version `n + 1` is created with a conditional put
//! (`PutMode::Create`: S3's `If-None-Match: *`, GCS's generation 0, Azure's
//! `If-None-Match`, a no-replace link on a file system), so of two writers
//! that both read version `n` exactly one can create `n + 1`: that put *is*
//! the writer lock. The loser's segments stay unreferenced (removed by
//! `vacuum` once older than the retention period) and its command runs
//! again on the new version. A writer killed at any point leaves the last
//! commit as it was.
//!
//! **Readers** take the newest commit and read only the files it names, so
//! they see one committed state however many writers run; files a later
//! commit supersedes are deleted only by `vacuum`, and only once every commit
//! naming them is older than the retention period.
//!
//! **Working copies.** Every command works on a local working copy of one
//! commit: a warehouse directory whose files are hard links into a local
//! cache of downloaded objects (`$DORALENS_CACHE`, else the user's cache
//! directory), so the engine, attribution and every writer run unchanged and
//! each object is downloaded once. [`Checkout::publish`] uploads what the
//! command changed and commits it.
//!
//! Credentials come from the standard environment variables of each store
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT`,
//! `AWS_ALLOW_HTTP`, `GOOGLE_APPLICATION_CREDENTIALS`, `AZURE_STORAGE_*`,
//! ...); they are never printed.
//!
//! Beside this file: `connect` (the store a URL names, its errors and the
//! local cache), `checkout` (working copies and publishing them) and
//! `vacuum` (deleting old commits and the objects no commit needs) and
//! `refresh` (bringing a long-lived working copy, `serve`'s, to the newest
//! commit in place).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::warehouse::Segment;
use crate::base::fs::atomic_write;
use crate::error::{Error, Result};

mod checkout;
mod connect;
mod refresh;
mod vacuum;

pub use checkout::{Checkout, Publish};
pub use connect::store_for;
use connect::{cache_root, location_key, store_error};
pub use vacuum::RemoteVacuum;

const LOG: &str = "_log";
/// Empty Parquet files, one per table schema, that a cluster reads for a
/// table with no rows (named by the schema's hash; never referenced by a
/// commit, never deleted by vacuum).
pub const EMPTY: &str = "_empty";
const COMMIT_FORMAT: u32 = 1;
/// Objects transferred at once.
const TRANSFERS: usize = 8;
/// An object no commit names is younger than this while its writer may
/// still be uploading the rest before committing: `vacuum` leaves it.
pub const UPLOAD_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// One table's state in a commit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableState {
    /// The table's manifest version (derived sets record it).
    pub version: u64,
    pub next_segment: u64,
    pub segments: Vec<Segment>,
}

/// A derived set (attribution) in a commit: computed from the inputs
/// `stamp` describes, its files under `dir`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DerivedState {
    pub stamp: String,
    pub dir: String,
    /// Paths relative to `dir`, e.g. `deployment_commits/part-000.parquet`.
    pub files: Vec<String>,
}

/// One committed state of the warehouse (`_log/<version>.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Commit {
    pub format: u32,
    pub version: u64,
    pub committed_at_micros: i64,
    pub tables: BTreeMap<String, TableState>,
    #[serde(default)]
    pub state: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub derived: BTreeMap<String, DerivedState>,
}

impl Commit {
    /// Every object the commit names, relative to the prefix.
    fn objects(&self) -> impl Iterator<Item = String> + '_ {
        let segments = self.tables.iter().flat_map(|(table, t)| {
            t.segments
                .iter()
                .flat_map(move |s| [format!("{table}/{}", s.file), format!("{table}/{}", s.keys)])
        });
        let derived = self
            .derived
            .values()
            .flat_map(|d| d.files.iter().map(move |f| format!("{}/{f}", d.dir)));
        segments.chain(derived)
    }
}

/// An object-store warehouse.
pub struct Remote {
    /// The location as given, for messages (no credentials are ever in it:
    /// they come from the environment).
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// `<cache>/<location key>`: downloaded objects and working copies.
    cache: PathBuf,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

fn log_name(version: u64) -> String {
    format!("{version:020}.json")
}

impl Remote {
    /// Connects to `url` (nothing is read yet). Store options come from the
    /// environment.
    pub fn open(url: &str) -> Result<Remote> {
        Remote::open_with_cache(url, &cache_root())
    }

    pub fn open_with_cache(url: &str, cache: &Path) -> Result<Remote> {
        let (store, prefix) = store_for(url)?;
        Ok(Remote {
            url: url.to_string(),
            store,
            prefix,
            cache: cache.join(location_key(url)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The location's directory in the local cache (downloaded objects,
    /// working copies; `serve`'s audit log).
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// The URL of an object, `relative` to the warehouse's prefix.
    pub fn object_url(&self, relative: &str) -> String {
        format!("{}/{relative}", self.url.trim_end_matches('/'))
    }

    fn path(&self, relative: &str) -> ObjectPath {
        let mut path = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
    }

    /// Versions in the log, oldest first, with when each was written.
    async fn log(&self) -> Result<Vec<(u64, chrono::DateTime<chrono::Utc>)>> {
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.path(LOG)))
            .try_collect()
            .await
            .map_err(|e| store_error(&self.url, "list the commit log", e))?;
        let mut versions: Vec<_> = listed
            .iter()
            .filter_map(|m| {
                let name = m.location.filename()?;
                let v = name.strip_suffix(".json")?.parse::<u64>().ok()?;
                Some((v, m.last_modified))
            })
            .collect();
        versions.sort_unstable_by_key(|(v, _)| *v);
        Ok(versions)
    }

    async fn read_commit(&self, version: u64) -> Result<Commit> {
        let name = format!("{LOG}/{}", log_name(version));
        let bytes = self
            .store
            .get(&self.path(&name))
            .await
            .map_err(|e| store_error(&self.url, "read the commit log", e))?
            .bytes()
            .await
            .map_err(|e| store_error(&self.url, "read the commit log", e))?;
        let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| Error::Warehouse {
            path: PathBuf::from(format!("{}/{name}", self.url)),
            message: format!(
                "commit is not valid JSON ({e}); the warehouse was modified outside doralens"
            ),
        })?;
        if commit.format != COMMIT_FORMAT {
            return Err(Error::Warehouse {
                path: PathBuf::from(format!("{}/{name}", self.url)),
                message: format!(
                    "commit format {} is not supported by this doralens (expects {COMMIT_FORMAT})",
                    commit.format
                ),
            });
        }
        Ok(commit)
    }

    /// The newest commit (None for an empty location).
    pub async fn latest(&self) -> Result<Option<Commit>> {
        match self.log().await?.last() {
            Some(&(v, _)) => self.read_commit(v).await.map(Some),
            None => Ok(None),
        }
    }

    /// Downloads the objects not yet in the cache, `TRANSFERS` at a time.
    async fn download(&self, objects: &Path, wanted: &[String]) -> Result<()> {
        // Owned names: the transfers' future is `Send` for any caller
        // (`serve` spawns it), which borrowed ones' closure is not.
        let missing: Vec<String> = wanted
            .iter()
            .filter(|name| !objects.join(name).is_file())
            .cloned()
            .collect();
        futures_util::stream::iter(missing)
            .map(|name: String| async move {
                let target = objects.join(&name);
                let bytes = self
                    .store
                    .get(&self.path(&name))
                    .await
                    .map_err(|e| store_error(&self.url, &format!("read {name}"), e))?
                    .bytes()
                    .await
                    .map_err(|e| store_error(&self.url, &format!("read {name}"), e))?;
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io("cannot create", parent, e))?;
                }
                atomic_write(&target, |f| std::io::Write::write_all(f, &bytes))
            })
            .buffer_unordered(TRANSFERS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn upload(&self, files: Vec<(PathBuf, String)>) -> Result<()> {
        futures_util::stream::iter(files)
            .map(|(local, name)| async move {
                let bytes = fs::read(&local).map_err(|e| Error::io("cannot read", &local, e))?;
                self.store
                    .put(&self.path(&name), PutPayload::from(Bytes::from(bytes)))
                    .await
                    .map_err(|e| store_error(&self.url, &format!("write {name}"), e))?;
                // Keep it in the cache: the next checkout needs no download.
                let cached = self.cache.join("objects").join(&name);
                if let Some(parent) = cached.parent() {
                    let _ = fs::create_dir_all(parent);
                }
                let _ = fs::hard_link(&local, &cached);
                Ok::<(), Error>(())
            })
            .buffer_unordered(TRANSFERS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Uploads `local` as `relative` unless an object is there already
    /// (for files whose name says their content).
    pub async fn put_if_absent(&self, relative: &str, local: &Path) -> Result<()> {
        let bytes = fs::read(local).map_err(|e| Error::io("cannot read", local, e))?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &self.path(relative),
                PutPayload::from(Bytes::from(bytes)),
                options,
            )
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(store_error(&self.url, &format!("write {relative}"), e)),
        }
    }

    /// Creates commit `commit.version`; false when it exists already
    /// (another writer won).
    async fn create_commit(&self, commit: &Commit) -> Result<bool> {
        let json = serde_json::to_vec_pretty(commit).expect("commit serialises");
        let name = format!("{LOG}/{}", log_name(commit.version));
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &self.path(&name),
                PutPayload::from(Bytes::from(json)),
                options,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(store_error(&self.url, "commit", e)),
        }
    }
}

/// What the remote warehouse's unit tests share.
#[cfg(test)]
mod testing {
    use std::path::Path;

    pub fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    pub fn url(dir: &Path) -> String {
        format!("file://{}", dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_names_every_segment_file_and_derived_part() {
        let segment = |n: u32| Segment {
            file: format!("seg-{n:06}-t.parquet"),
            keys: format!("seg-{n:06}-t.keys"),
            rows: 1,
            bytes: None,
        };
        let mut commit = Commit::default();
        commit.tables.insert(
            "deployments".into(),
            TableState {
                version: 2,
                next_segment: 2,
                segments: vec![segment(1), segment(2)],
            },
        );
        commit.derived.insert(
            "attribution".into(),
            DerivedState {
                stamp: "2".into(),
                dir: "_derived/attribution-t".into(),
                files: vec!["deployment_commits/part-000.parquet".into()],
            },
        );
        let objects: Vec<String> = commit.objects().collect();
        assert_eq!(
            objects,
            [
                "deployments/seg-000001-t.parquet",
                "deployments/seg-000001-t.keys",
                "deployments/seg-000002-t.parquet",
                "deployments/seg-000002-t.keys",
                "_derived/attribution-t/deployment_commits/part-000.parquet",
            ]
        );
    }

    #[test]
    fn a_damaged_or_foreign_commit_is_an_error_naming_it() {
        let store = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let log = store.path().join(LOG);
        fs::create_dir_all(&log).unwrap();
        let remote = Remote::open_with_cache(&testing::url(store.path()), cache.path()).unwrap();
        testing::rt().block_on(async {
            assert_eq!(remote.latest().await.unwrap(), None);
            fs::write(log.join(log_name(1)), b"{\"format\":1,").unwrap();
            let err = remote.latest().await.unwrap_err().to_string();
            assert!(
                err.contains(&log_name(1)) && err.contains("not valid JSON"),
                "{err}"
            );
            fs::write(
                log.join(log_name(2)),
                br#"{"format":9,"version":2,"committed_at_micros":0,"tables":{}}"#,
            )
            .unwrap();
            let err = remote.latest().await.unwrap_err().to_string();
            assert!(
                err.contains(&log_name(2)) && err.contains("format 9"),
                "{err}"
            );
        });
    }
}
