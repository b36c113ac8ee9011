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
//!
//! The pieces live beside this file, one job each: `manifest` (a table's
//! manifest), `lock` (the writer and readers locks), `upsert` (writes by
//! natural key), `vacuum` (deleting what no reader needs), `derived`
//! (generations of derived sets), `state` (small documents), `parquet_io`
//! (reading and writing Parquet) and `leftovers` (what killed processes
//! left). This module keeps the [`Warehouse`] type, opening it and reading
//! it at one committed state ([`Snapshot`]).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use super::parquet_io::read_files_parallel_where;
use super::schema::Table;
use crate::error::{Error, Result};

pub use super::derived::{Derived, DerivedWriter};
pub use super::lock::{ReadGuard, WriteLock};
pub use super::manifest::{Manifest, Retired, Segment};
pub use super::parquet_io::{
    BatchSink, read_files_parallel, read_parquet, row_groups_holding, write_parquet,
    write_parquet_tuned,
};
pub use super::provenance::Stamp;
pub use super::upsert::{SEGMENT_ROWS, UpsertReport};
pub use super::vacuum::{DEFAULT_RETENTION, VacuumReport};
pub use crate::base::fs::atomic_write;

#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
    /// The run whose provenance writes through this handle carry (see
    /// `store::provenance`); None: rows get null provenance.
    stamp: Option<std::sync::Arc<Stamp>>,
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

impl Warehouse {
    /// Opens (creating when missing) a warehouse directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io("cannot create warehouse", &root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("cannot open warehouse", &root, e))?;
        Ok(Warehouse { root, stamp: None })
    }

    /// The run this handle records, if any.
    pub fn provenance(&self) -> Option<&Stamp> {
        self.stamp.as_deref()
    }

    pub(super) fn with_stamp(&self, stamp: Option<std::sync::Arc<Stamp>>) -> Warehouse {
        Warehouse {
            root: self.root.clone(),
            stamp,
        }
    }

    /// The same warehouse, recording no run.
    pub fn unstamped(&self) -> Warehouse {
        self.with_stamp(None)
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

    pub(super) fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.name())
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
}

/// Makes a rename in `dir` durable.
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{
        deployment_rows, deployments, temp_warehouse, texts, warehouse_error,
    };

    #[test]
    fn open_existing_refuses_a_missing_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nowhere");
        match Warehouse::open_existing(&missing) {
            Err(Error::Usage { option, message }) => {
                assert_eq!(option, "--warehouse");
                assert!(
                    message.contains(&missing.display().to_string()),
                    "{message}"
                );
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
        assert!(!missing.exists(), "nothing created");
        let wh = Warehouse::open(&missing).unwrap();
        assert_eq!(wh.root(), missing.canonicalize().unwrap());
        assert!(Warehouse::open_existing(&missing).is_ok());
    }

    #[test]
    fn a_snapshot_keeps_reading_its_version_while_a_write_commits() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["d1", "d2"]))
            .unwrap();
        let guard = wh.read_guard().unwrap();
        let before = wh.snapshot().unwrap();
        wh.upsert(
            Table::Deployments,
            &deployment_rows(&[("d1", "failure"), ("d3", "success")]),
        )
        .unwrap();
        let after = wh.snapshot().unwrap();
        assert_eq!(before.version(Table::Deployments), 1);
        assert_eq!(after.version(Table::Deployments), 2);
        assert_ne!(before.stamp(), after.stamp());
        assert_eq!(before.stamp().split(',').count(), Table::ALL.len());

        before.verify().unwrap();
        let old = read_files_parallel(&before.files(Table::Deployments), None).unwrap();
        assert_eq!(texts(&old, "id"), ["d1", "d2"]);
        assert_eq!(texts(&old, "status"), ["success", "success"]);
        let new = read_files_parallel(&after.files(Table::Deployments), None).unwrap();
        assert_eq!(texts(&new, "status"), ["failure", "success", "success"]);
        assert_eq!(
            wh.table_files(Table::Deployments).unwrap(),
            after.files(Table::Deployments)
        );
        drop(guard);
    }

    #[test]
    fn verify_names_a_segment_of_the_wrong_size() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        let snapshot = wh.snapshot().unwrap();
        let file = snapshot.files(Table::Deployments).remove(0);
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
        let (path, message) = warehouse_error(snapshot.verify());
        assert_eq!(path, file);
        assert!(message.contains("damaged"), "{message}");
        assert!(
            message.contains(&format!("expected {}", bytes.len())),
            "{message}"
        );
        assert!(wh.read_table(Table::Deployments, None).is_err());
    }
}
