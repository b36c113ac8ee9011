//! Deleting what no reader needs any more: segments and derived generations
//! a write superseded (retired), once no reader can be reading them or they
//! have been retired longer than the retention period, and the files of
//! writes that crashed before they committed. Writers collect as they go;
//! `doralens vacuum` waits for readers and collects everything.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use super::derived::generation_dir;
use super::lock::open_lock_file;
use super::manifest::Manifest;
use super::schema::Table;
use super::warehouse::Warehouse;
use crate::base::fs::atomic_write;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};

/// How long a superseded file is kept for readers that may still be reading
/// it when the writer cannot tell (another reader holds the readers lock).
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

/// What `vacuum` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacuumReport {
    /// Files and directories removed.
    pub removed: usize,
    /// Readers were still reading after the wait: files retired within the
    /// retention period were kept for them.
    pub readers_present: bool,
}

impl Warehouse {
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

    /// Deletes the retired files retired longer ago than `keep` and drops
    /// them from `manifest.retired` (the caller commits the manifest).
    /// Returns the files deleted.
    pub(super) fn collect_retired(
        &self,
        dir: &Path,
        manifest: &mut Manifest,
        keep: std::time::Duration,
    ) -> usize {
        let cutoff = Timestamp::now().micros() - keep.as_micros() as i64;
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

    /// Files left behind by a write that crashed before its manifest swap
    /// (neither live nor retired: no manifest ever named them, so no
    /// reader can have them open). Called under the writer lock.
    pub(super) fn remove_unreferenced(&self, dir: &Path, manifest: &Manifest) -> usize {
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

    /// With the readers lock held exclusively: deletes every retired derived
    /// generation (their pointers drop them at the next build).
    pub(super) fn remove_retired_generations(&self) {
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
        let cutoff = Timestamp::now().micros() - retention.as_micros() as i64;
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
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::store::parquet_io::read_files_parallel;
    use crate::store::testing::{deployments, temp_warehouse, texts};

    const HOUR: Duration = Duration::from_secs(3600);

    /// A warehouse whose first segment (`d1`, `d2`) was replaced while a
    /// reader read, so it is retired, not deleted.
    fn with_a_retired_segment(root: &Path) -> (Warehouse, PathBuf) {
        let wh = Warehouse::open(root).unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d1", "d2"]))
            .unwrap();
        let guard = wh.read_guard().unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d1", "d2"]))
            .unwrap();
        drop(guard);
        let old = wh.table_dir(Table::Deployments).join("seg-000001.parquet");
        assert!(old.exists());
        assert_eq!(wh.manifest(Table::Deployments).unwrap().retired.len(), 1);
        (wh, old)
    }

    #[test]
    fn vacuum_keeps_what_was_retired_within_the_retention_and_deletes_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let (wh, old) = with_a_retired_segment(tmp.path());
        let kept = wh.vacuum(HOUR, Duration::ZERO).unwrap();
        assert_eq!(
            kept,
            VacuumReport {
                removed: 0,
                readers_present: false
            }
        );
        assert!(old.exists());
        let gone = wh.vacuum(Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!(gone.removed, 2, "the segment and its key index");
        assert!(!old.exists() && !old.with_extension("keys").exists());
        let manifest = wh.manifest(Table::Deployments).unwrap();
        assert!(manifest.retired.is_empty());
        assert_eq!(manifest.version, 2, "vacuum commits no data change");
        assert_eq!(
            texts(&wh.read_table(Table::Deployments, None).unwrap(), "id"),
            ["d1", "d2"]
        );
    }

    #[test]
    fn with_a_reader_present_only_files_retired_past_the_default_retention_go() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        let guard = wh.read_guard().unwrap();
        let snapshot = wh.snapshot().unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d1", "d2"]))
            .unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d3"]))
            .unwrap();
        // Backdate the first retirement past the default retention.
        let dir = wh.table_dir(Table::Deployments);
        let mut manifest = wh.manifest(Table::Deployments).unwrap();
        assert_eq!(manifest.retired.len(), 1, "{manifest:?}");
        manifest.retired[0].at_micros -= 2 * HOUR.as_micros() as i64;
        wh.commit_manifest(&dir, &manifest).unwrap();
        let mut files = manifest.retired[0].files.clone();
        files.sort();
        assert_eq!(files, ["seg-000001.keys", "seg-000001.parquet"]);

        let report = wh
            .vacuum(Duration::ZERO, Duration::from_millis(200))
            .unwrap();
        assert!(report.readers_present);
        assert_eq!(report.removed, 2);
        assert!(!dir.join("seg-000001.parquet").exists());
        drop(snapshot);

        // A younger retirement, named by a live snapshot, is kept for it.
        let snapshot = wh.snapshot().unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d3"]))
            .unwrap();
        let report = wh
            .vacuum(Duration::ZERO, Duration::from_millis(200))
            .unwrap();
        assert_eq!((report.removed, report.readers_present), (0, true));
        let read = read_files_parallel(&snapshot.files(Table::Deployments), None).unwrap();
        assert_eq!(texts(&read, "id"), ["d1", "d2", "d3"]);
        drop(guard);
        let report = wh.vacuum(Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!((report.removed, report.readers_present), (2, false));
    }

    #[test]
    fn vacuum_removes_the_files_of_writes_that_never_committed() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        let dir = wh.table_dir(Table::Deployments);
        for name in ["seg-000009.parquet", "seg-000009.keys", "notes.txt"] {
            fs::write(dir.join(name), b"x").unwrap();
        }
        let report = wh.vacuum(HOUR, Duration::ZERO).unwrap();
        assert_eq!(report.removed, 2);
        assert!(!dir.join("seg-000009.parquet").exists());
        assert!(dir.join("notes.txt").exists(), "not a name doralens writes");
        assert!(dir.join("seg-000001.parquet").exists());
    }

    fn build(wh: &Warehouse, stamp: &str) -> PathBuf {
        let schema = Table::Deployments.schema();
        let parts = [deployments(&[stamp])];
        wh.build_derived("set", stamp, &|w| w.write("t", &schema, &parts, &[]))
            .unwrap()
            .dir
    }

    #[test]
    fn vacuum_deletes_retired_generations_past_the_retention() {
        let (_tmp, wh) = temp_warehouse();
        let first = build(&wh, "1");
        let second = build(&wh, "2");
        assert!(first.exists(), "retired, kept for readers");
        assert_eq!(wh.vacuum(HOUR, Duration::ZERO).unwrap().removed, 0);
        assert!(first.exists());
        assert_eq!(
            wh.vacuum(Duration::ZERO, Duration::ZERO).unwrap().removed,
            1
        );
        assert!(!first.exists());
        assert!(
            wh.derived_pointer("set")
                .unwrap()
                .unwrap()
                .retired
                .is_empty()
        );
        assert_eq!(wh.derived("set", "2").unwrap().unwrap().dir, second);
    }

    #[test]
    fn a_write_that_finds_no_reader_deletes_retired_generations() {
        let (_tmp, wh) = temp_warehouse();
        let first = build(&wh, "1");
        build(&wh, "2");
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        assert!(first.exists(), "nothing was superseded: nothing to collect");
        let guard = wh.read_guard().unwrap();
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        assert!(first.exists(), "a reader may read it");
        drop(guard);
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        assert!(!first.exists());
    }
}
