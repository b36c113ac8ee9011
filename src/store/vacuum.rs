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
