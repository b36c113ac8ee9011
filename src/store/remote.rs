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

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::schema::Table;
use super::warehouse::{Manifest, Segment, Warehouse};
use crate::base::fs::atomic_write;
use crate::error::{Error, Result};

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

/// What [`Checkout::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// The command changed nothing.
    Unchanged,
    /// Committed as this version.
    Committed(u64),
    /// Another writer committed first. `data` is true when this command
    /// changed tables or cursors (it must run again on the new version);
    /// false when it only computed a derived set (nothing is lost).
    Conflict { data: bool },
}

/// What [`Remote::vacuum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemoteVacuum {
    pub objects_removed: usize,
    pub commits_removed: usize,
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

fn store_error(url: &str, action: &str, e: object_store::Error) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let denied = [
        "403",
        "401",
        "forbidden",
        "accessdenied",
        "access denied",
        "invalidaccesskeyid",
        "signaturedoesnotmatch",
        "unauthorized",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if denied {
        return Error::Usage {
            option: "--warehouse".into(),
            message: format!(
                "{url}: the object store refused to {action} ({text}); check the credentials in the \
                 environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, \
                 AZURE_STORAGE_ACCOUNT_KEY) and the bucket's permissions"
            ),
        };
    }
    Error::Warehouse {
        path: PathBuf::from(url),
        message: format!("cannot {action}: {text}"),
    }
}

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DORALENS_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("doralens");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("doralens");
    }
    std::env::temp_dir().join("doralens-cache")
}

/// A file-name-safe key for a location: readable, and unique.
fn location_key(url: &str) -> String {
    let readable: String = url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{readable}-{:016x}", super::keys::text_key_hash([url]))
}

/// A name no other writer picks: time, process and a counter.
fn fresh_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = super::keys::text_key_hash([
        now.to_string().as_str(),
        &std::process::id().to_string(),
        &n.to_string(),
    ]);
    format!("{hash:016x}")
}

fn log_name(version: u64) -> String {
    format!("{version:020}.json")
}

/// The object store a location names (options from the environment) and
/// the prefix inside it.
pub fn store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let usage = |message: String| Error::Usage {
        option: "--warehouse".into(),
        message,
    };
    let parsed =
        url::Url::parse(url).map_err(|e| usage(format!("{url} is not a valid URL ({e})")))?;
    let (store, prefix): (Arc<dyn ObjectStore>, ObjectPath) = match parsed.scheme() {
        "s3" | "s3a" => {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "gs" => {
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "az" | "abfs" | "abfss" | "azure" => {
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| usage(format!("{url} is not an absolute file:// path")))?;
            fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::default())
        }
        other => {
            return Err(usage(format!(
                "{url}: unknown scheme `{other}`; use s3://, gs://, az:// or file:// (or a directory)"
            )));
        }
    };
    Ok((store, prefix))
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

    /// A working copy of the newest commit.
    pub async fn checkout(&self) -> Result<Checkout> {
        let base = self.latest().await?;
        let objects = self.cache.join("objects");
        let work = WorkDir::new(&self.cache)?;
        let warehouse = Warehouse::open(&work.0)?;
        if let Some(commit) = &base {
            let wanted: Vec<String> = commit.objects().collect();
            self.download(&objects, &wanted).await?;
            for (name, t) in &commit.tables {
                let table = Table::from_name(name).ok_or_else(|| Error::Warehouse {
                    path: PathBuf::from(&self.url),
                    message: format!(
                        "commit {} names a table `{name}` this doralens does not know; upgrade doralens",
                        commit.version
                    ),
                })?;
                let dir = work.0.join(name);
                fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
                for seg in &t.segments {
                    for file in [&seg.file, &seg.keys] {
                        link(&objects.join(name).join(file), &dir.join(file))?;
                    }
                }
                warehouse.install_manifest(
                    table,
                    &Manifest {
                        format: 0,
                        version: t.version,
                        next_segment: t.next_segment,
                        segments: t.segments.clone(),
                        retired: Vec::new(),
                    },
                )?;
            }
            for (name, value) in &commit.state {
                warehouse.write_state(name, value)?;
            }
            for (set, d) in &commit.derived {
                warehouse.install_derived(set, &d.stamp, |dir| {
                    for f in &d.files {
                        let target = dir.join(f);
                        if let Some(parent) = target.parent() {
                            fs::create_dir_all(parent)
                                .map_err(|e| Error::io("cannot create", parent, e))?;
                        }
                        link(&objects.join(&d.dir).join(f), &target)?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(Checkout {
            base: std::sync::Mutex::new(base),
            warehouse,
            work,
        })
    }

    /// Downloads the objects not yet in the cache, `TRANSFERS` at a time.
    async fn download(&self, objects: &Path, wanted: &[String]) -> Result<()> {
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|name| !objects.join(name).is_file())
            .collect();
        futures_util::stream::iter(missing)
            .map(|name| async move {
                let target = objects.join(name);
                let bytes = self
                    .store
                    .get(&self.path(name))
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

    /// Deletes the commits older than `retention` (never the newest), then
    /// every object no remaining commit names that is older than both
    /// `retention` and [`UPLOAD_GRACE`] (a younger one may be a running
    /// writer's, not committed yet), and the local cache's objects the
    /// newest commit does not name. Readers are never affected: a working
    /// copy holds its files from the moment it is taken.
    pub async fn vacuum(&self, retention: std::time::Duration) -> Result<RemoteVacuum> {
        let log = self.log().await?;
        let Some(&(newest, _)) = log.last() else {
            return Ok(RemoteVacuum::default());
        };
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let orphan_cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(retention.max(UPLOAD_GRACE))
                .unwrap_or(chrono::Duration::MAX);
        let mut report = RemoteVacuum::default();
        let mut referenced: HashSet<String> = HashSet::new();
        let mut newest_objects: HashSet<String> = HashSet::new();
        for &(version, written) in &log {
            if version != newest && written < cutoff {
                continue;
            }
            let commit = self.read_commit(version).await?;
            referenced.extend(commit.objects());
            if version == newest {
                newest_objects = commit.objects().collect();
            }
        }
        // Objects first: a commit is deleted only after nothing it alone
        // named can be read through a newer one.
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| store_error(&self.url, "list the warehouse", e))?;
        let prefix = self.prefix.as_ref();
        for meta in listed {
            let full = meta.location.as_ref();
            let relative = full
                .strip_prefix(prefix)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(full);
            if relative.starts_with(&format!("{LOG}/"))
                || relative.starts_with(&format!("{EMPTY}/"))
            {
                continue;
            }
            if !referenced.contains(relative) && meta.last_modified < orphan_cutoff {
                self.store
                    .delete(&meta.location)
                    .await
                    .map_err(|e| store_error(&self.url, &format!("delete {relative}"), e))?;
                report.objects_removed += 1;
            }
        }
        for &(version, written) in &log {
            if version != newest && written < cutoff {
                let name = format!("{LOG}/{}", log_name(version));
                self.store
                    .delete(&self.path(&name))
                    .await
                    .map_err(|e| store_error(&self.url, "delete an old commit", e))?;
                report.commits_removed += 1;
            }
        }
        self.prune_cache(&newest_objects);
        Ok(report)
    }

    /// Removes cached objects the newest commit does not name, and working
    /// copies of processes that are gone.
    fn prune_cache(&self, keep: &HashSet<String>) {
        let objects = self.cache.join("objects");
        for (path, relative) in files_below(&objects).unwrap_or_default() {
            if !keep.contains(&relative) {
                let _ = fs::remove_file(&path);
            }
        }
        WorkDir::remove_dead(&self.cache);
    }
}

/// Every file below `root`, with its path relative to `root` in `/` form
/// (an object name's tail).
fn files_below(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                files.push((path, rel));
            }
        }
    }
    Ok(files)
}

fn link(from: &Path, to: &Path) -> Result<()> {
    let _ = fs::remove_file(to);
    fs::hard_link(from, to)
        .or_else(|_| fs::copy(from, to).map(|_| ()))
        .map_err(|e| Error::io("cannot place", to, e))
}

/// A working copy's directory, removed when dropped; named after our pid
/// so that a later run removes those of killed processes.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(cache: &Path) -> Result<WorkDir> {
        WorkDir::remove_dead(cache);
        let dir = cache.join(format!("work-{}-{}", std::process::id(), fresh_token()));
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        Ok(WorkDir(dir))
    }

    fn remove_dead(cache: &Path) {
        super::leftovers::remove_dead_dirs(cache, "work-");
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A local working copy of one commit (or of an empty location).
pub struct Checkout {
    /// The commit the working copy is at: the one checked out, then the
    /// one it published.
    base: std::sync::Mutex<Option<Commit>>,
    warehouse: Warehouse,
    work: WorkDir,
}

impl Checkout {
    /// The working copy: every command's reads and writes go here.
    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// The version checked out or last published (None: the location
    /// was empty).
    pub fn version(&self) -> Option<u64> {
        self.commit().map(|c| c.version)
    }

    /// The commit the working copy is at.
    pub fn commit(&self) -> Option<Commit> {
        self.base.lock().expect("not poisoned").clone()
    }

    /// Uploads what changed in the working copy and commits it as the next
    /// version, unless another writer committed first.
    pub async fn publish(&self, remote: &Remote) -> Result<Publish> {
        let base = self.commit().unwrap_or(Commit {
            format: COMMIT_FORMAT,
            ..Commit::default()
        });
        let token = fresh_token();
        let mut next = base.clone();
        let mut uploads: Vec<(PathBuf, String)> = Vec::new();
        let mut data_changed = false;

        for table in Table::ALL {
            let name = table.name();
            let manifest = self.warehouse.manifest(table)?;
            let before = base.tables.get(name);
            if before.map_or(0, |t| t.version) == manifest.version {
                continue;
            }
            data_changed = true;
            let known: HashSet<&str> = before
                .map(|t| t.segments.iter().map(|s| s.file.as_str()).collect())
                .unwrap_or_default();
            let dir = self.work.0.join(name);
            let mut segments = Vec::with_capacity(manifest.segments.len());
            for seg in manifest.segments {
                if known.contains(seg.file.as_str()) {
                    segments.push(seg);
                    continue;
                }
                // A segment this command wrote: a name no other writer uses.
                let rename = |file: &str| {
                    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
                    format!("{stem}-{token}.{ext}")
                };
                let renamed = Segment {
                    file: rename(&seg.file),
                    keys: rename(&seg.keys),
                    rows: seg.rows,
                    bytes: seg.bytes,
                };
                uploads.push((dir.join(&seg.file), format!("{name}/{}", renamed.file)));
                uploads.push((dir.join(&seg.keys), format!("{name}/{}", renamed.keys)));
                segments.push(renamed);
            }
            next.tables.insert(
                name.to_string(),
                TableState {
                    version: manifest.version,
                    next_segment: manifest.next_segment,
                    segments,
                },
            );
        }

        let mut state = BTreeMap::new();
        for name in self.warehouse.state_names() {
            if let Some(value) = self.warehouse.read_state(&name)? {
                state.insert(name, value);
            }
        }
        if state != base.state {
            data_changed = true;
            next.state = state;
        }

        // The derived sets are the working copy's current generations: the
        // base's where the command computed none, else the new one (a set
        // computed from older inputs stays until someone computes it anew;
        // its stamp tells readers it does not match).
        let mut derived = BTreeMap::new();
        for (set, stamp, dir) in self.warehouse.derived_sets()? {
            if let Some(same) = base.derived.get(&set).filter(|d| d.stamp == stamp) {
                derived.insert(set, same.clone());
                continue;
            }
            let remote_dir = format!("_derived/{set}-{token}");
            let mut files = Vec::new();
            for (path, rel) in files_below(&dir).map_err(|e| Error::io("cannot read", &dir, e))? {
                uploads.push((path, format!("{remote_dir}/{rel}")));
                files.push(rel);
            }
            files.sort();
            derived.insert(
                set,
                DerivedState {
                    stamp,
                    dir: remote_dir,
                    files,
                },
            );
        }
        let derived_changed = derived != base.derived;
        next.derived = derived;

        if !data_changed && !derived_changed {
            return Ok(Publish::Unchanged);
        }
        remote.upload(uploads).await?;
        next.format = COMMIT_FORMAT;
        next.version = base.version + 1;
        next.committed_at_micros = crate::base::time::Timestamp::now().micros();
        if remote.create_commit(&next).await? {
            let version = next.version;
            *self.base.lock().expect("not poisoned") = Some(next);
            Ok(Publish::Committed(version))
        } else {
            Ok(Publish::Conflict { data: data_changed })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Timestamp;
    use crate::store::buffer::TableBuffer;
    use crate::store::rows::DeploymentRow;

    fn deployments(ids: &[&str]) -> Vec<datafusion::arrow::array::RecordBatch> {
        let mut buffer = TableBuffer::new(Table::Deployments);
        for id in ids {
            DeploymentRow {
                id: id.to_string(),
                repo: "acme/api".into(),
                sha: "a".repeat(40),
                environment: "production".into(),
                status: "success".into(),
                finished_at: Timestamp::from_micros(1_700_000_060_000_000),
                ..DeploymentRow::default()
            }
            .push(&mut buffer);
        }
        vec![buffer.finish().unwrap()]
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn url(dir: &Path) -> String {
        format!("file://{}", dir.display())
    }

    #[test]
    fn a_commit_round_trips_through_a_fresh_cache() {
        let store = tempfile::tempdir().unwrap();
        let (cache_a, cache_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        rt().block_on(async {
            let remote = Remote::open_with_cache(&url(store.path()), cache_a.path()).unwrap();
            let copy = remote.checkout().await.unwrap();
            assert_eq!(copy.version(), None);
            copy.warehouse()
                .upsert(Table::Deployments, &deployments(&["d1", "d2"]))
                .unwrap();
            copy.warehouse()
                .write_state("github-acme", &serde_json::json!({"since": 5}))
                .unwrap();
            assert_eq!(copy.publish(&remote).await.unwrap(), Publish::Committed(1));
            // The working copy is at version 1 now: nothing more to commit.
            assert_eq!(copy.publish(&remote).await.unwrap(), Publish::Unchanged);

            let other = Remote::open_with_cache(&url(store.path()), cache_b.path()).unwrap();
            let read = other.checkout().await.unwrap();
            assert_eq!(read.version(), Some(1));
            let batches = read
                .warehouse()
                .read_table(Table::Deployments, None)
                .unwrap();
            assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
            assert_eq!(
                read.warehouse().read_state("github-acme").unwrap(),
                Some(serde_json::json!({"since": 5}))
            );
            // Reading changes nothing.
            assert_eq!(read.publish(&other).await.unwrap(), Publish::Unchanged);
        });
    }

    #[test]
    fn of_two_writers_on_one_version_exactly_one_commits() {
        let store = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let remote = Remote::open_with_cache(&url(store.path()), cache.path()).unwrap();
            let a = remote.checkout().await.unwrap();
            let b = remote.checkout().await.unwrap();
            a.warehouse()
                .upsert(Table::Deployments, &deployments(&["a"]))
                .unwrap();
            b.warehouse()
                .upsert(Table::Deployments, &deployments(&["b"]))
                .unwrap();
            let (ra, rb) = tokio::join!(a.publish(&remote), b.publish(&remote));
            let mut results = [ra.unwrap(), rb.unwrap()];
            results.sort_by_key(|r| matches!(r, Publish::Conflict { .. }));
            assert_eq!(
                results,
                [Publish::Committed(1), Publish::Conflict { data: true }]
            );
            // The loser runs again on version 1 and commits version 2.
            let again = remote.checkout().await.unwrap();
            again
                .warehouse()
                .upsert(Table::Deployments, &deployments(&["late"]))
                .unwrap();
            assert_eq!(again.publish(&remote).await.unwrap(), Publish::Committed(2));
            let latest = remote.latest().await.unwrap().unwrap();
            assert_eq!(latest.tables["deployments"].segments.len(), 2);
        });
    }

    #[test]
    fn vacuum_keeps_what_young_commits_name_and_removes_orphans() {
        let store = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let remote = Remote::open_with_cache(&url(store.path()), cache.path()).unwrap();
            for ids in [["x"], ["x"], ["y"]] {
                let copy = remote.checkout().await.unwrap();
                copy.warehouse()
                    .upsert(Table::Deployments, &deployments(&ids))
                    .unwrap();
                assert!(matches!(
                    copy.publish(&remote).await.unwrap(),
                    Publish::Committed(_)
                ));
            }
            // An orphan: a killed writer's upload. Young, it may be a
            // running writer's: kept even with no retention asked for.
            let orphan = store.path().join("deployments/seg-000099-dead.parquet");
            fs::write(&orphan, b"partial").unwrap();
            let kept = remote
                .vacuum(std::time::Duration::from_secs(3600))
                .await
                .unwrap();
            assert_eq!(kept, RemoteVacuum::default());
            let young = remote.vacuum(std::time::Duration::ZERO).await.unwrap();
            assert_eq!(young.commits_removed, 2);
            assert_eq!(young.objects_removed, 0);
            assert!(orphan.exists());
            // Two hours later (every object backdated), they go.
            let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
            let mut dirs = vec![store.path().to_path_buf()];
            while let Some(dir) = dirs.pop() {
                for entry in fs::read_dir(dir).unwrap().flatten() {
                    if entry.path().is_dir() {
                        dirs.push(entry.path());
                    } else if !entry.path().starts_with(store.path().join("_log")) {
                        let f = fs::File::options().write(true).open(entry.path()).unwrap();
                        f.set_modified(earlier).unwrap();
                    }
                }
            }
            let gone = remote.vacuum(std::time::Duration::ZERO).await.unwrap();
            assert_eq!(gone.commits_removed, 0);
            // Commit 1's segment (x, replaced by commit 2) and the orphan.
            assert_eq!(gone.objects_removed, 3);
            assert!(!orphan.exists());
            let copy = remote.checkout().await.unwrap();
            assert_eq!(copy.version(), Some(3));
            let rows: usize = copy
                .warehouse()
                .read_table(Table::Deployments, None)
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum();
            assert_eq!(rows, 2);
        });
    }
}
