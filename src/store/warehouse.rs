//! The embedded warehouse: a directory of Parquet files.
//!
//! Layout (see ARCHITECTURE.md):
//!
//! ```text
//! <root>/
//!   .lock                      advisory lock held by writers
//!   .readers                   shared lock held by every reader while it reads
//!   <table>/_manifest.json     the table's live segments (and the superseded
//!                              ones still kept for readers); replaced atomically
//!   <table>/seg-000001.parquet immutable data segment
//!   <table>/seg-000001.keys    sorted 64-bit hashes of its natural keys
//!   _derived/<set>.json        the current generation of a derived set
//!                              (attribution) and the inputs' stamp
//!   _derived/<set>-g000007/<table>/part-000.parquet
//!   _state/<name>.json         small documents such as sync cursors
//! ```
//!
//! A write never modifies a file in place: new segments are written under
//! fresh names, then the manifest is swapped by rename. A crash at any point
//! leaves either the old manifest (and some unreferenced files, removed by the
//! next write) or the new one; readers only open files the manifest names.
//!
//! **Snapshot isolation.** A reader takes a shared lock on `.readers`, reads
//! every table's manifest (repeating until no version moved, so the tables
//! form one committed state), checks that each named file is there with its
//! recorded size, and keeps the lock until it has finished reading. Files a
//! write supersedes are *retired*, not deleted: the manifest lists them with
//! the time they were retired, and they are removed only when no reader can
//! still be reading them (a writer that gets the `.readers` lock exclusively
//! without waiting, or `doralens vacuum`, which waits for it), or once they
//! have been retired longer than the retention period (an hour by default).
//! A reader therefore never sees a vanished file as an empty table; a file
//! that is missing or damaged all the same is an error naming it.

use std::collections::HashSet;
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::keys::{self, KeyColumns};
use super::schema::Table;
use crate::error::{Error, Result};

/// Rows per segment written by one upsert. Bounds the cost of rewriting a
/// segment when a later import replaces one of its rows.
pub const SEGMENT_ROWS: usize = 1 << 20;
/// Rows per Parquet row group: DataFusion parallelises scans by row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;
const MANIFEST: &str = "_manifest.json";
const MANIFEST_FORMAT: u32 = 1;
const STAMP_KEY: &str = "doralens.stamp";
const READERS_LOCK: &str = ".readers";
/// How long a superseded file is kept for readers that may still be reading
/// it when the writer cannot tell (another reader holds the readers lock).
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// Increases on every committed write; derived tables record it.
    pub version: u64,
    pub next_segment: u64,
    pub segments: Vec<Segment>,
    /// Segments superseded by a write, kept until no reader can need them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retired>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    pub file: String,
    pub keys: String,
    pub rows: usize,
    /// Size of the Parquet file, checked before reading (absent in
    /// warehouses written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// A superseded segment's files and when they were superseded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retired {
    pub files: Vec<String>,
    pub at_micros: i64,
}

impl Manifest {
    pub fn rows(&self) -> usize {
        self.segments.iter().map(|s| s.rows).sum()
    }
}

/// What `vacuum` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacuumReport {
    /// Files and directories removed.
    pub removed: usize,
    /// Readers were still reading after the wait: files retired within the
    /// retention period were kept for them.
    pub readers_present: bool,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertReport {
    pub written: usize,
    pub replaced: usize,
    pub total: usize,
}

#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
}

/// Held while writing; released on drop.
pub struct WriteLock {
    _file: File,
}

/// A shared lock on `.readers`, held while reading: files a reader may
/// still open are not deleted while it is held. Released on drop. `None`
/// inside when the warehouse is read-only to us and has no lock file yet
/// (then the retention period alone protects the reader).
pub struct ReadGuard {
    _file: Option<File>,
}

/// Every table's manifest at one committed state of the warehouse.
#[derive(Debug, Clone)]
pub struct Snapshot {
    root: PathBuf,
    manifests: Vec<Manifest>,
}

impl Snapshot {
    pub fn manifest(&self, table: Table) -> &Manifest {
        &self.manifests[table.index()]
    }

    pub fn version(&self, table: Table) -> u64 {
        self.manifest(table).version
    }

    /// Absolute paths of the table's live Parquet files at this snapshot.
    pub fn files(&self, table: Table) -> Vec<PathBuf> {
        let dir = self.root.join(table.name());
        self.manifest(table)
            .segments
            .iter()
            .map(|s| dir.join(&s.file))
            .collect()
    }

    /// Changes whenever any table is written.
    pub fn stamp(&self) -> String {
        self.manifests
            .iter()
            .map(|m| m.version.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Checks that every file the snapshot names is present with its
    /// recorded size: a missing or damaged segment is an error naming it,
    /// never an empty table.
    pub fn verify(&self) -> Result<()> {
        for table in Table::ALL {
            let dir = self.root.join(table.name());
            for seg in &self.manifest(table).segments {
                check_file(&dir.join(&seg.file), seg.bytes, table)?;
            }
        }
        Ok(())
    }
}

fn check_file(path: &Path, expected: Option<u64>, table: Table) -> Result<()> {
    let repair = format!(
        "restore the warehouse from a backup, or re-import the `{}` data into a fresh warehouse",
        table.name()
    );
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Warehouse {
            path: path.to_path_buf(),
            message: format!(
                "a segment the `{}` manifest lists is missing (deleted outside doralens?); {repair}",
                table.name()
            ),
        }),
        Err(e) => Err(Error::io("cannot read", path, e)),
        Ok(meta) => {
            let len = meta.len();
            let bad = len == 0 || expected.is_some_and(|want| want != len);
            if bad {
                return Err(Error::Warehouse {
                    path: path.to_path_buf(),
                    message: format!(
                        "the segment is damaged ({len} bytes{}); {repair}",
                        expected.map_or(String::new(), |w| format!(", expected {w}"))
                    ),
                });
            }
            Ok(())
        }
    }
}

/// Tries the readers lock exclusively without waiting: `Some` means no
/// reader is reading (and none can start until it is dropped).
/// A lock file (created when missing, never truncated), open for reading
/// and writing so it can be locked either way.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

fn try_exclusive_readers(root: &Path) -> Option<File> {
    let file = open_lock_file(&root.join(READERS_LOCK)).ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => None,
    }
}

impl Warehouse {
    /// Opens (creating when missing) a warehouse directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io("cannot create warehouse", &root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("cannot open warehouse", &root, e))?;
        Ok(Warehouse { root })
    }

    /// Opens a warehouse that must already exist (for read-only commands, so
    /// a mistyped `--warehouse` is an error rather than an empty result).
    pub fn open_existing(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::Usage {
                option: "--warehouse".into(),
                message: format!(
                    "no warehouse at {}; import data first (doralens import, doralens ingest), \
                     try `doralens demo`, or point --warehouse / DORALENS_WAREHOUSE at an existing one",
                    root.display()
                ),
            });
        }
        Warehouse::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.name())
    }

    /// Takes the writer lock (blocking while another doralens writes).
    pub fn lock(&self) -> Result<WriteLock> {
        let path = self.root.join(".lock");
        let file =
            open_lock_file(&path).map_err(|e| Error::io("cannot create lock file", &path, e))?;
        file.lock()
            .map_err(|e| Error::io("cannot lock warehouse", &path, e))?;
        self.sweep_dead_temp_files();
        Ok(WriteLock { _file: file })
    }

    /// Temporary files and directories (`<name>.tmp-<pid>`) of processes
    /// that were killed mid-write, wherever the warehouse keeps them: the
    /// run that follows a kill leaves nothing behind even when it has
    /// nothing to write where the killed one was writing.
    fn sweep_dead_temp_files(&self) {
        let mut dirs = vec![self.root.join("_state"), self.derived_root()];
        dirs.extend(Table::ALL.iter().map(|t| self.table_dir(*t)));
        for dir in dirs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let Some((_, pid)) = name.rsplit_once(".tmp-") else {
                    continue;
                };
                if process_is_gone(pid) {
                    let path = entry.path();
                    let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                }
            }
        }
    }

    pub fn manifest(&self, table: Table) -> Result<Manifest> {
        let path = self.table_dir(table).join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => {
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Warehouse {
                        path: path.clone(),
                        message: format!(
                            "manifest is not valid JSON ({e}); restore it from a backup or re-import the table"
                        ),
                    })?;
                if m.format != MANIFEST_FORMAT {
                    return Err(Error::Warehouse {
                        path,
                        message: format!(
                            "manifest format {} is not supported by this doralens (expects {MANIFEST_FORMAT})",
                            m.format
                        ),
                    });
                }
                Ok(m)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                format: MANIFEST_FORMAT,
                ..Manifest::default()
            }),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    /// Absolute paths of the table's live Parquet files. Without a
    /// [`ReadGuard`] they may be retired and deleted at any time: readers
    /// use [`Warehouse::snapshot`] under [`Warehouse::read_guard`].
    pub fn table_files(&self, table: Table) -> Result<Vec<PathBuf>> {
        let dir = self.table_dir(table);
        Ok(self
            .manifest(table)?
            .segments
            .iter()
            .map(|s| dir.join(&s.file))
            .collect())
    }

    pub fn version(&self, table: Table) -> Result<u64> {
        Ok(self.manifest(table)?.version)
    }

    /// Takes the shared readers lock (waiting only while a writer deletes
    /// retired files, which takes milliseconds).
    pub fn read_guard(&self) -> Result<ReadGuard> {
        let path = self.root.join(READERS_LOCK);
        let file = match open_lock_file(&path) {
            Ok(f) => f,
            // Read-only to us: lock the existing file through a read handle,
            // or go without when there is none (nobody can write here then
            // without creating it first; retention still protects us).
            Err(_) => match File::open(&path) {
                Ok(f) => f,
                Err(_) => return Ok(ReadGuard { _file: None }),
            },
        };
        file.lock_shared()
            .map_err(|e| Error::io("cannot lock warehouse for reading", &path, e))?;
        Ok(ReadGuard { _file: Some(file) })
    }

    /// Every table's manifest at one committed state: manifests are read
    /// until two passes agree on every version, so a write that commits in
    /// the middle is either wholly in or wholly out. Take a [`ReadGuard`]
    /// first and keep it while reading the snapshot's files.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let read =
            || -> Result<Vec<Manifest>> { Table::ALL.iter().map(|&t| self.manifest(t)).collect() };
        let mut manifests = read()?;
        for _ in 0..100 {
            let again = read()?;
            if again
                .iter()
                .zip(&manifests)
                .all(|(a, b)| a.version == b.version)
            {
                return Ok(Snapshot {
                    root: self.root.clone(),
                    manifests,
                });
            }
            manifests = again;
        }
        Err(Error::Warehouse {
            path: self.root.clone(),
            message: "the warehouse kept changing while it was being read; try again".into(),
        })
    }

    /// Reads the whole table (optionally only some columns, by name). Files
    /// are decoded in parallel, one thread per core; rows keep file order.
    /// The read is pinned to one manifest version.
    pub fn read_table(&self, table: Table, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
        self.read_pinned(table, columns, None)
    }

    fn read_pinned(
        &self,
        table: Table,
        columns: Option<&[&str]>,
        only: Option<(&str, &str)>,
    ) -> Result<Vec<RecordBatch>> {
        let _guard = self.read_guard()?;
        let manifest = self.manifest(table)?;
        let dir = self.table_dir(table);
        let mut files = Vec::with_capacity(manifest.segments.len());
        for seg in &manifest.segments {
            let path = dir.join(&seg.file);
            check_file(&path, seg.bytes, table)?;
            files.push(path);
        }
        read_files_parallel_where(&files, columns, only)
    }

    /// The rows of `table` whose text column `column` equals `value`, with
    /// `columns` (all when None; a projection must include `column`). Row groups whose min/max
    /// statistics exclude `value` are not read: a forge sync writes one
    /// repository per segment, so one repository's commits cost a read of
    /// that repository, not of the warehouse.
    pub fn read_table_where(
        &self,
        table: Table,
        columns: Option<&[&str]>,
        column: &str,
        value: &str,
    ) -> Result<Vec<RecordBatch>> {
        self.read_pinned(table, columns, Some((column, value)))
    }

    /// Inserts rows, replacing rows with the same natural key. `batches` must
    /// have the table's canonical schema and no key twice.
    pub fn upsert(&self, table: Table, batches: &[RecordBatch]) -> Result<UpsertReport> {
        let new_data = concat_batches(&table.schema(), batches)?;
        let new_keys = KeyColumns::new(table, &new_data);
        let hashes: Vec<u64> = (0..new_data.num_rows()).map(|r| new_keys.hash(r)).collect();
        let exact = || {
            (0..new_data.num_rows())
                .map(|r| new_keys.exact(r))
                .collect()
        };
        let written = new_data.num_rows();
        let mut report = self.commit_change(table, hashes, &exact, Some(new_data.clone()))?;
        report.written = written;
        Ok(report)
    }

    /// The stored `id`s that `keep` selects, of a table keyed by one text
    /// `id` (incidents, rollbacks).
    pub fn ids(&self, table: Table, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        use datafusion::arrow::array::AsArray;
        let mut out = Vec::new();
        for batch in self.read_table(table, Some(&["id"]))? {
            out.extend(
                batch
                    .column(0)
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .filter(|id| keep(id))
                    .map(str::to_string),
            );
        }
        Ok(out)
    }

    /// [`Warehouse::delete`] for a table keyed by one text `id`.
    pub fn delete_ids(&self, table: Table, ids: &[String]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let keys: Vec<Vec<String>> = ids.iter().map(|id| vec![id.clone()]).collect();
        self.delete(table, &keys)
    }

    /// Deletes the rows with these natural keys (each key's text parts, in
    /// the table's key order: tables whose keys are all text). Nothing is
    /// written when none of them is stored. Returns how many rows went.
    pub fn delete(&self, table: Table, keys_to_delete: &[Vec<String>]) -> Result<usize> {
        if keys_to_delete.is_empty() {
            return Ok(0);
        }
        let hashes: Vec<u64> = keys_to_delete
            .iter()
            .map(|k| keys::text_key_hash(k.iter().map(String::as_str)))
            .collect();
        let exact = || {
            keys_to_delete
                .iter()
                .map(|k| {
                    let mut s = String::new();
                    for part in k {
                        keys::push_key_text(&mut s, part);
                    }
                    s
                })
                .collect()
        };
        Ok(self.commit_change(table, hashes, &exact, None)?.replaced)
    }

    /// One write: removes the rows whose keys `hashes`/`exact` name from
    /// the segments that may hold them (rewriting those segments), appends
    /// `new_data`, and commits a new manifest (none when nothing changed).
    fn commit_change(
        &self,
        table: Table,
        mut new_hashes: Vec<u64>,
        exact_keys: &dyn Fn() -> HashSet<String>,
        new_data: Option<RecordBatch>,
    ) -> Result<UpsertReport> {
        let _lock = self.lock()?;
        let schema = table.schema();
        let dir = self.table_dir(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let mut manifest = self.manifest(table)?;
        self.remove_unreferenced(&dir, &manifest);
        // With no reader reading, every retired file can go; else only
        // those past the retention period.
        let no_readers = try_exclusive_readers(&self.root);
        let keep = if no_readers.is_some() {
            std::time::Duration::ZERO
        } else {
            DEFAULT_RETENTION
        };
        self.collect_retired(&dir, &mut manifest, keep);
        drop(no_readers);
        new_hashes.sort_unstable();
        new_hashes.dedup();

        // Segments holding (probably) a replaced key are rewritten without
        // those rows; the hash check is exact-key verified while filtering.
        let mut exact_new: Option<HashSet<String>> = None;
        let mut kept = Vec::with_capacity(manifest.segments.len());
        let mut obsolete = Vec::new();
        let mut replaced = 0usize;
        let mut rewritten: Vec<RecordBatch> = Vec::new();
        for seg in std::mem::take(&mut manifest.segments) {
            let seg_hashes = self.segment_hashes(&dir, &seg)?;
            if !keys::intersects(&new_hashes, &seg_hashes) {
                kept.push(seg);
                continue;
            }
            let exact = exact_new.get_or_insert_with(exact_keys);
            let old = concat_batches(&schema, &read_parquet(&dir.join(&seg.file), None)?)?;
            let old_keys = KeyColumns::new(table, &old);
            let keep: BooleanArray = (0..old.num_rows())
                .map(|r| Some(!exact.contains(&old_keys.exact(r))))
                .collect();
            let remaining = filter_record_batch(&old, &keep)?;
            replaced += old.num_rows() - remaining.num_rows();
            if remaining.num_rows() == old.num_rows() {
                kept.push(seg); // a hash collision only: nothing replaced
            } else {
                if remaining.num_rows() > 0 {
                    rewritten.push(remaining);
                }
                obsolete.push(seg);
            }
        }
        manifest.segments = kept;
        if new_data.is_none() && obsolete.is_empty() {
            return Ok(UpsertReport {
                written: 0,
                replaced: 0,
                total: manifest.rows(),
            });
        }

        let mut to_write = rewritten;
        to_write.extend(new_data);
        for batch in to_write {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = SEGMENT_ROWS.min(batch.num_rows() - offset);
                let part = batch.slice(offset, len);
                manifest.segments.push(self.write_segment(
                    table,
                    &dir,
                    &mut manifest.next_segment,
                    &part,
                )?);
                offset += len;
            }
        }
        manifest.version += 1;
        manifest.format = MANIFEST_FORMAT;
        if !obsolete.is_empty() {
            manifest.retired.push(Retired {
                files: obsolete
                    .iter()
                    .flat_map(|s| [s.file.clone(), s.keys.clone()])
                    .collect(),
                at_micros: now_micros(),
            });
        }
        self.commit_manifest(&dir, &manifest)?;
        // Readers that started before the swap may still read the retired
        // files; when none is reading, they can go now (they leave the
        // manifest's list at the next write, which finds them gone).
        if !obsolete.is_empty()
            && let Some(_exclusive) = try_exclusive_readers(&self.root)
        {
            for seg in &obsolete {
                let _ = fs::remove_file(dir.join(&seg.file));
                let _ = fs::remove_file(dir.join(&seg.keys));
            }
            self.remove_retired_generations();
        }
        Ok(UpsertReport {
            written: 0,
            replaced,
            total: manifest.rows(),
        })
    }

    fn commit_manifest(&self, dir: &Path, manifest: &Manifest) -> Result<()> {
        let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
        atomic_write(&dir.join(MANIFEST), |f| f.write_all(&json))?;
        sync_dir(dir);
        Ok(())
    }

    /// Deletes the retired files retired longer ago than `keep` and drops
    /// them from `manifest.retired` (the caller commits the manifest).
    /// Returns the files deleted.
    fn collect_retired(
        &self,
        dir: &Path,
        manifest: &mut Manifest,
        keep: std::time::Duration,
    ) -> usize {
        let cutoff = now_micros() - keep.as_micros() as i64;
        let mut deleted = 0;
        manifest.retired.retain(|r| {
            if r.at_micros > cutoff {
                return true;
            }
            for f in &r.files {
                if fs::remove_file(dir.join(f)).is_ok() {
                    deleted += 1;
                }
            }
            false
        });
        deleted
    }

    /// The readers lock exclusively, waiting at most `patience` for the
    /// readers there are (a `serve` holds it while it has a warehouse
    /// state open, so waiting for ever would never end).
    fn exclusive_readers_within(&self, patience: std::time::Duration) -> Option<File> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(file) = try_exclusive_readers(&self.root) {
                return Some(file);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// `doralens vacuum`: waits (up to `patience`) until no reader is
    /// reading, then deletes every retired file and derived generation
    /// retired longer ago than `retention`, and files left by crashed
    /// writes. When readers are still there after `patience`, only what
    /// was retired longer ago than the retention period an unknown reader
    /// is granted ([`DEFAULT_RETENTION`]) goes.
    pub fn vacuum(
        &self,
        retention: std::time::Duration,
        patience: std::time::Duration,
    ) -> Result<VacuumReport> {
        let _lock = self.lock()?;
        let exclusive = self.exclusive_readers_within(patience);
        let keep = if exclusive.is_some() {
            retention
        } else {
            retention.max(DEFAULT_RETENTION)
        };
        let mut removed = 0;
        for table in Table::ALL {
            let dir = self.table_dir(table);
            if !dir.is_dir() {
                continue;
            }
            let mut manifest = self.manifest(table)?;
            removed += self.remove_unreferenced(&dir, &manifest);
            let before = manifest.retired.len();
            removed += self.collect_retired(&dir, &mut manifest, keep);
            if manifest.retired.len() != before {
                self.commit_manifest(&dir, &manifest)?;
            }
        }
        removed += self.vacuum_derived(keep)?;
        Ok(VacuumReport {
            removed,
            readers_present: exclusive.is_none(),
        })
    }

    fn segment_hashes(&self, dir: &Path, seg: &Segment) -> Result<Vec<u64>> {
        let path = dir.join(&seg.keys);
        let bytes = fs::read(&path).map_err(|e| Error::io("cannot read key index", &path, e))?;
        keys::decode(&bytes).ok_or_else(|| Error::Warehouse {
            path,
            message: "key index is truncated; the warehouse was modified outside doralens".into(),
        })
    }

    fn write_segment(
        &self,
        table: Table,
        dir: &Path,
        next: &mut u64,
        batch: &RecordBatch,
    ) -> Result<Segment> {
        *next += 1;
        let file = format!("seg-{:06}.parquet", *next);
        let keys_file = format!("seg-{:06}.keys", *next);
        write_parquet(
            &dir.join(&file),
            &table.schema(),
            std::slice::from_ref(batch),
            None,
        )?;
        let key_cols = KeyColumns::new(table, batch);
        let mut hashes: Vec<u64> = (0..batch.num_rows()).map(|r| key_cols.hash(r)).collect();
        hashes.sort_unstable();
        let bytes = keys::encode(&hashes);
        atomic_write(&dir.join(&keys_file), |f| f.write_all(&bytes))?;
        let path = dir.join(&file);
        let size = fs::metadata(&path)
            .map_err(|e| Error::io("cannot read", &path, e))?
            .len();
        Ok(Segment {
            file,
            keys: keys_file,
            rows: batch.num_rows(),
            bytes: Some(size),
        })
    }

    /// Files left behind by a write that crashed before its manifest swap
    /// (neither live nor retired: no manifest ever named them, so no
    /// reader can have them open). Called under the writer lock.
    fn remove_unreferenced(&self, dir: &Path, manifest: &Manifest) -> usize {
        let live: HashSet<&str> = manifest
            .segments
            .iter()
            .flat_map(|s| [s.file.as_str(), s.keys.as_str()])
            .chain(
                manifest
                    .retired
                    .iter()
                    .flat_map(|r| r.files.iter().map(String::as_str)),
            )
            .collect();
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_data = name.starts_with("seg-") || name.contains(".tmp-");
            if is_data && !live.contains(name.as_ref()) && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn derived_root(&self) -> PathBuf {
        self.root.join("_derived")
    }

    fn derived_pointer(&self, set: &str) -> Result<Option<DerivedPointer>> {
        let path = self.derived_root().join(format!("{set}.json"));
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    /// The current generation of a derived set when it was computed from
    /// the inputs `stamp` describes (and its directory is intact).
    pub fn derived(&self, set: &str, stamp: &str) -> Result<Option<Derived>> {
        let Some(pointer) = self.derived_pointer(set)? else {
            return Ok(None);
        };
        let dir = self
            .derived_root()
            .join(generation_dir(set, pointer.generation));
        Ok((pointer.stamp == stamp && dir.is_dir()).then(|| Derived {
            dir,
            stamp: pointer.stamp,
            _temp: None,
            more: Vec::new(),
        }))
    }

    /// Computes a derived set for the inputs `stamp` describes, one process
    /// at a time: others wait, then find it done. `build` writes the set's
    /// tables through the [`DerivedWriter`] into a fresh generation
    /// directory, which a pointer swap then publishes; the generation it
    /// replaces is retired like a superseded segment. On a warehouse we
    /// cannot write (another user's, a read-only mount) the set is computed
    /// into a temporary directory that lives as long as the returned value.
    pub fn build_derived(
        &self,
        set: &str,
        stamp: &str,
        build: &dyn Fn(&DerivedWriter) -> Result<()>,
    ) -> Result<Derived> {
        let root = self.derived_root();
        let lock = fs::create_dir_all(&root).and_then(|()| open_lock_file(&root.join(".lock")));
        let lock = match lock {
            Ok(f) => f,
            Err(e) if is_read_only(&e) => return self.build_derived_elsewhere(set, stamp, build),
            Err(e) => return Err(Error::io("cannot create", &root, e)),
        };
        lock.lock()
            .map_err(|e| Error::io("cannot lock", root.join(".lock"), e))?;
        if let Some(done) = self.derived(set, stamp)? {
            return Ok(done); // another process computed it while we waited
        }
        let mut pointer = self.derived_pointer(set)?.unwrap_or_default();
        self.remove_derived_leftovers(set, &pointer);
        let generation = pointer.generation + 1;
        let name = generation_dir(set, generation);
        let fresh = root.join(format!("{name}.tmp-{}", std::process::id()));
        fs::create_dir_all(&fresh).map_err(|e| Error::io("cannot create", &fresh, e))?;
        let result = build(&DerivedWriter { dir: &fresh, stamp });
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&fresh);
            return Err(e);
        }
        let dir = root.join(&name);
        fs::rename(&fresh, &dir).map_err(|e| Error::io("cannot publish", &dir, e))?;
        sync_dir(&root);
        let now = now_micros();
        if pointer.generation > 0 {
            pointer.retired.push(RetiredGeneration {
                generation: pointer.generation,
                at_micros: now,
            });
        }
        // Retired generations past the retention period go now; younger
        // ones wait for a writer that finds no reader, or `vacuum`.
        let cutoff = now - DEFAULT_RETENTION.as_micros() as i64;
        pointer.retired.retain(|r| {
            let old = root.join(generation_dir(set, r.generation));
            if r.at_micros <= cutoff || !old.exists() {
                let _ = fs::remove_dir_all(&old);
                return false;
            }
            true
        });
        pointer.generation = generation;
        pointer.stamp = stamp.to_string();
        let json = serde_json::to_vec_pretty(&pointer).expect("pointer serialises");
        atomic_write(&root.join(format!("{set}.json")), |f| f.write_all(&json))?;
        sync_dir(&root);
        Ok(Derived {
            dir,
            stamp: stamp.to_string(),
            _temp: None,
            more: Vec::new(),
        })
    }

    fn build_derived_elsewhere(
        &self,
        set: &str,
        stamp: &str,
        build: &dyn Fn(&DerivedWriter) -> Result<()>,
    ) -> Result<Derived> {
        let temp = TempDir::new(set)?;
        eprintln!(
            "note: {} is read-only to this user; computing `{set}` in {} for this run only",
            self.root.display(),
            temp.0.display()
        );
        build(&DerivedWriter {
            dir: &temp.0,
            stamp,
        })?;
        Ok(Derived {
            dir: temp.0.clone(),
            stamp: stamp.to_string(),
            _temp: Some(Arc::new(temp)),
            more: Vec::new(),
        })
    }

    /// Under the derived lock: directories of builds that were killed
    /// (`*.tmp-<pid>`) and of earlier layouts that no pointer names.
    fn remove_derived_leftovers(&self, set: &str, pointer: &DerivedPointer) {
        let root = self.derived_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return;
        };
        let current = generation_dir(set, pointer.generation);
        let retired: HashSet<String> = pointer
            .retired
            .iter()
            .map(|r| generation_dir(set, r.generation))
            .collect();
        let legacy = ["deployment_commits", "deployment_warnings"];
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let ours = name.starts_with(&format!("{set}-g"));
            let stale = (ours && name.contains(".tmp-"))
                || (ours && name != current && !retired.contains(&name))
                || legacy
                    .iter()
                    .any(|l| name == *l || name.starts_with(&format!("{l}.")));
            if stale {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// With the readers lock held exclusively: deletes every retired derived
    /// generation (their pointers drop them at the next build).
    fn remove_retired_generations(&self) {
        let root = self.derived_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(set) = name.strip_suffix(".json") else {
                continue;
            };
            if let Ok(Some(pointer)) = self.derived_pointer(set) {
                for r in &pointer.retired {
                    let _ = fs::remove_dir_all(root.join(generation_dir(set, r.generation)));
                }
            }
        }
    }

    /// Deletes retired derived generations (waiting for readers to finish;
    /// those retired within `retention` are kept) and leftovers.
    fn vacuum_derived(&self, retention: std::time::Duration) -> Result<usize> {
        let root = self.derived_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return Ok(0);
        };
        let sets: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        let lock = open_lock_file(&root.join(".lock"))
            .map_err(|e| Error::io("cannot create", root.join(".lock"), e))?;
        lock.lock()
            .map_err(|e| Error::io("cannot lock", root.join(".lock"), e))?;
        let cutoff = now_micros() - retention.as_micros() as i64;
        let mut removed = 0;
        for set in sets {
            let Some(mut pointer) = self.derived_pointer(&set)? else {
                continue;
            };
            let before = pointer.retired.len();
            pointer.retired.retain(|r| {
                if r.at_micros > cutoff {
                    return true;
                }
                if fs::remove_dir_all(root.join(generation_dir(&set, r.generation))).is_ok() {
                    removed += 1;
                }
                false
            });
            if pointer.retired.len() != before {
                let json = serde_json::to_vec_pretty(&pointer).expect("pointer serialises");
                atomic_write(&root.join(format!("{set}.json")), |f| f.write_all(&json))?;
            }
            self.remove_derived_leftovers(&set, &pointer);
        }
        Ok(removed)
    }

    /// Puts `manifest` in place as `table`'s manifest (a working copy of a
    /// remote warehouse is laid out this way; see `store::remote`).
    #[cfg(feature = "cloud")]
    pub(crate) fn install_manifest(&self, table: Table, manifest: &Manifest) -> Result<()> {
        let dir = self.table_dir(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let mut manifest = manifest.clone();
        manifest.format = MANIFEST_FORMAT;
        self.commit_manifest(&dir, &manifest)
    }

    /// Every derived set's current generation: (set, stamp, directory).
    pub fn derived_sets(&self) -> Result<Vec<(String, String, PathBuf)>> {
        let root = self.derived_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return Ok(Vec::new());
        };
        let mut sets = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(set) = name.strip_suffix(".json") else {
                continue;
            };
            if let Some(pointer) = self.derived_pointer(set)? {
                let dir = root.join(generation_dir(set, pointer.generation));
                if pointer.generation > 0 && dir.is_dir() {
                    sets.push((set.to_string(), pointer.stamp, dir));
                }
            }
        }
        sets.sort();
        Ok(sets)
    }

    /// Publishes an already-filled directory as generation 1 of `set`
    /// computed from the inputs `stamp` describes. `fill` receives the
    /// generation's directory before the pointer names it.
    #[cfg(feature = "cloud")]
    pub(crate) fn install_derived(
        &self,
        set: &str,
        stamp: &str,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let root = self.derived_root();
        let dir = root.join(generation_dir(set, 1));
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        fill(&dir)?;
        let pointer = DerivedPointer {
            generation: 1,
            stamp: stamp.to_string(),
            retired: Vec::new(),
        };
        let json = serde_json::to_vec_pretty(&pointer).expect("pointer serialises");
        atomic_write(&root.join(format!("{set}.json")), |f| f.write_all(&json))
    }

    /// The names of the small documents under `_state/`.
    #[cfg(feature = "cloud")]
    pub(crate) fn state_names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root.join("_state")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }

    pub fn read_state(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let path = self.root.join("_state").join(format!("{name}.json"));
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Warehouse {
                    path,
                    message: format!("state file is not valid JSON: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    pub fn write_state(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        let dir = self.root.join("_state");
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let bytes = serde_json::to_vec_pretty(value).expect("json");
        atomic_write(&dir.join(format!("{name}.json")), |f| f.write_all(&bytes))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DerivedPointer {
    generation: u64,
    stamp: String,
    #[serde(default)]
    retired: Vec<RetiredGeneration>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RetiredGeneration {
    generation: u64,
    at_micros: i64,
}

fn generation_dir(set: &str, generation: u64) -> String {
    format!("{set}-g{generation:06}")
}

fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// A directory removed when dropped; its name carries our pid so that a
/// later run can remove the ones killed processes left behind.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Result<TempDir> {
        let base = std::env::temp_dir();
        remove_dead_dirs(&base, "doralens-derived-");
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = base.join(format!(
            "doralens-derived-{}-{what}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Directories in `base` named `<prefix><pid>-...` whose process no longer
/// exists (temporary derived sets, working copies of a remote warehouse).
pub(crate) fn remove_dead_dirs(base: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        if process_is_gone(rest.split('-').next().unwrap_or("")) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// True when `pid` is a process id and no such process exists (as far as
/// `/proc` tells; false wherever it cannot tell).
pub(crate) fn process_is_gone(pid: &str) -> bool {
    let Ok(n) = pid.parse::<u32>() else {
        return false;
    };
    n != std::process::id()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid).exists()
}

/// A published (or temporary) generation of a derived set, or the union
/// of the shards of one ([`Derived::union`]).
#[derive(Debug, Clone)]
pub struct Derived {
    pub dir: PathBuf,
    pub stamp: String,
    _temp: Option<Arc<TempDir>>,
    /// The other shards' generations, for a union.
    more: Vec<Derived>,
}

impl Derived {
    /// The Parquet parts of one of the set's tables, in order (shard by
    /// shard for a union).
    pub fn files(&self, table: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join(table))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("parquet"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for shard in &self.more {
            files.extend(shard.files(table));
        }
        files
    }

    /// One set of several shards computed from the same inputs.
    pub fn union(mut shards: Vec<Derived>) -> Option<Derived> {
        if shards.is_empty() {
            return None;
        }
        let mut first = shards.remove(0);
        first.more.extend(shards);
        Some(first)
    }
}

/// Writes the tables of a derived set being built.
pub struct DerivedWriter<'a> {
    dir: &'a Path,
    stamp: &'a str,
}

impl DerivedWriter<'_> {
    /// Writes a table as one Parquet part per element of `parts`, in
    /// parallel. `incompressible` names columns of random-looking values
    /// (shas, keys): they are written plain, without a dictionary or
    /// compression, which cannot shrink them but cost time on every write
    /// and read.
    pub fn write(
        &self,
        table: &str,
        schema: &SchemaRef,
        parts: &[Vec<RecordBatch>],
        incompressible: &[&str],
    ) -> Result<()> {
        self.write_streamed(table, schema, parts.len(), incompressible, &|part, sink| {
            parts[part].iter().try_for_each(|b| sink(b.clone()))
        })
    }

    /// [`DerivedWriter::write`] for a table too large to hold in memory
    /// twice: `produce(part, sink)` hands part `part`'s batches to `sink`
    /// one at a time, and each is encoded as it arrives. Parts are produced
    /// and written on their own threads.
    pub fn write_streamed(
        &self,
        table: &str,
        schema: &SchemaRef,
        parts: usize,
        incompressible: &[&str],
        produce: &(dyn Fn(usize, &mut BatchSink) -> Result<()> + Sync),
    ) -> Result<()> {
        let dir = self.dir.join(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        (0..parts.max(1)).into_par_iter().try_for_each(|i| {
            let path = dir.join(format!("part-{i:03}.parquet"));
            write_parquet_tuned(
                &path,
                schema,
                Some(self.stamp),
                incompressible,
                &mut |sink| {
                    if i < parts { produce(i, sink) } else { Ok(()) }
                },
            )
        })
    }
}

/// Reads many Parquet files on all cores; batches keep the files' order.
pub fn read_files_parallel(
    files: &[PathBuf],
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>> {
    read_files_parallel_where(files, columns, None)
}

fn read_files_parallel_where(
    files: &[PathBuf],
    columns: Option<&[&str]>,
    only: Option<(&str, &str)>,
) -> Result<Vec<RecordBatch>> {
    let read: Vec<Vec<RecordBatch>> = files
        .par_iter()
        .map(|f| read_parquet_where(f, columns, only))
        .collect::<Result<_>>()?;
    Ok(read.into_iter().flatten().collect())
}

pub fn read_parquet(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    read_parquet_where(path, columns, None)
}

/// The row groups of a Parquet file whose min/max statistics for the text
/// column `column` admit `value` (all of them when the file has no such
/// column or no statistics).
pub fn row_groups_holding(
    metadata: &datafusion::parquet::file::metadata::ParquetMetaData,
    column: &str,
    value: &str,
) -> Vec<usize> {
    use datafusion::parquet::file::statistics::Statistics;
    let all = 0..metadata.num_row_groups();
    let leaf = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == column);
    let Some(leaf) = leaf else {
        return all.collect();
    };
    let wanted = value.as_bytes();
    all.filter(|&g| {
        // Truncated statistics stay conservative: a shortened min is
        // smaller, a shortened max is rounded up.
        match metadata.row_group(g).column(leaf).statistics() {
            Some(Statistics::ByteArray(s)) => {
                s.min_bytes_opt().is_none_or(|min| min <= wanted)
                    && s.max_bytes_opt().is_none_or(|max| wanted <= max)
            }
            _ => true,
        }
    })
    .collect()
}

/// [`read_parquet`], keeping only rows whose text column equals a value
/// (`only`), and skipping row groups whose statistics rule it out.
fn read_parquet_where(
    path: &Path,
    columns: Option<&[&str]>,
    only: Option<(&str, &str)>,
) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(64 * 1024);
    if let Some((column, value)) = only {
        let groups = row_groups_holding(builder.metadata(), column, value);
        builder = builder.with_row_groups(groups);
    }
    if let Some(cols) = columns {
        let schema = builder.schema().clone();
        let indices: Vec<usize> = cols
            .iter()
            .map(|c| {
                schema.index_of(c).map_err(|_| Error::Warehouse {
                    path: path.to_path_buf(),
                    message: format!("column `{c}` is missing from this file"),
                })
            })
            .collect::<Result<_>>()?;
        let mask =
            datafusion::parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), indices);
        builder = builder.with_projection(mask);
    }
    let reader = builder.build()?;
    let batches = reader.map(|b| b.map_err(Error::from));
    let Some((column, value)) = only else {
        return batches.collect();
    };
    batches
        .map(|batch| {
            let batch = batch?;
            let Some(text) = batch.column_by_name(column) else {
                return Err(Error::Warehouse {
                    path: path.to_path_buf(),
                    message: format!("column `{column}` is missing from this file"),
                });
            };
            let keep: BooleanArray = text
                .as_string::<i32>()
                .iter()
                .map(|v| Some(v == Some(value)))
                .collect();
            Ok(filter_record_batch(&batch, &keep)?)
        })
        .collect()
}

/// Writes Parquet atomically (temp file, fsync, rename).
pub fn write_parquet(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    stamp: Option<&str>,
) -> Result<()> {
    write_parquet_tuned(path, schema, stamp, &[], &mut |sink| {
        batches.iter().try_for_each(|b| sink(b.clone()))
    })
}

/// Receives a table's batches one at a time (see
/// [`Warehouse::write_derived_streamed`]).
pub type BatchSink<'a> = dyn FnMut(RecordBatch) -> Result<()> + 'a;

/// [`write_parquet`], with `incompressible` columns written plain and
/// uncompressed (see [`Warehouse::write_derived`]).
pub fn write_parquet_tuned(
    path: &Path,
    schema: &SchemaRef,
    stamp: Option<&str>,
    incompressible: &[&str],
    produce: &mut dyn FnMut(&mut BatchSink) -> Result<()>,
) -> Result<()> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in incompressible {
        let path = datafusion::parquet::schema::types::ColumnPath::from(*column);
        props = props
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
            .set_column_encoding(path, datafusion::parquet::basic::Encoding::PLAIN);
    }
    if let Some(stamp) = stamp {
        props = props.set_key_value_metadata(Some(vec![KeyValue::new(
            STAMP_KEY.to_string(),
            stamp.to_string(),
        )]));
    }
    let props = props.build();
    let mut result: Result<()> = Ok(());
    atomic_write(path, |f| {
        let mut writer = ArrowWriter::try_new(f, Arc::clone(schema), Some(props))
            .map_err(std::io::Error::other)?;
        let mut sink = |b: RecordBatch| -> Result<()> { Ok(writer.write(&b)?) };
        if let Err(e) = produce(&mut sink) {
            result = Err(e);
            return Err(std::io::Error::other("parquet write failed"));
        }
        writer.close().map_err(std::io::Error::other)?;
        Ok(())
    })
    .and(result)
}

pub use crate::base::fs::atomic_write;

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
