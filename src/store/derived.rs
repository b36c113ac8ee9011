//! Derived sets (attribution): tables computed from the warehouse's tables
//! and kept until those change. Each computation is a generation,
//! `_derived/<set>-g<generation>/<table>/part-*.parquet`, published by
//! swapping the pointer `_derived/<set>.json`, which records the inputs'
//! stamp; the generation it replaces is retired like a superseded segment.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::leftovers::remove_dead_dirs;
use super::lock::open_lock_file;
use super::parquet_io::{BatchSink, write_parquet_tuned};
use super::vacuum::DEFAULT_RETENTION;
use super::warehouse::{Warehouse, sync_dir};
use crate::base::fs::atomic_write;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct DerivedPointer {
    pub(super) generation: u64,
    pub(super) stamp: String,
    #[serde(default)]
    pub(super) retired: Vec<RetiredGeneration>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RetiredGeneration {
    pub(super) generation: u64,
    pub(super) at_micros: i64,
}

pub(super) fn generation_dir(set: &str, generation: u64) -> String {
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
    /// The generation's directory (a working copy links its parts in).
    #[cfg(feature = "cloud")]
    pub(crate) fn dir(&self) -> &Path {
        self.dir
    }

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

impl Warehouse {
    pub(super) fn derived_root(&self) -> PathBuf {
        self.root().join("_derived")
    }

    pub(super) fn derived_pointer(&self, set: &str) -> Result<Option<DerivedPointer>> {
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
        let now = Timestamp::now().micros();
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
            self.root().display(),
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
    pub(super) fn remove_derived_leftovers(&self, set: &str, pointer: &DerivedPointer) {
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::parquet_io::read_files_parallel;
    use crate::store::schema::Table;
    use crate::store::testing::{deployments, temp_warehouse, texts};

    /// Builds `set` for `stamp`: table `t` in two parts holding `ids`
    /// split in two.
    fn build(wh: &Warehouse, set: &str, stamp: &str, ids: &[&str]) -> Result<Derived> {
        let schema = Table::Deployments.schema();
        let (a, b) = ids.split_at(ids.len() / 2);
        let parts = [deployments(a), deployments(b)];
        wh.build_derived(set, stamp, &|w: &DerivedWriter| {
            w.write("t", &schema, &parts, &["sha"])
        })
    }

    fn ids(derived: &Derived) -> Vec<String> {
        texts(
            &read_files_parallel(&derived.files("t"), None).unwrap(),
            "id",
        )
    }

    #[test]
    fn a_built_set_reads_back_under_its_stamp_only() {
        let (_tmp, wh) = temp_warehouse();
        assert!(wh.derived("set", "1,1").unwrap().is_none());
        let built = build(&wh, "set", "1,1", &["a", "b", "c"]).unwrap();
        assert_eq!(built.dir, wh.derived_root().join("set-g000001"));
        let names: Vec<_> = built
            .files("t")
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["part-000.parquet", "part-001.parquet"]);
        assert_eq!(ids(&built), ["a", "b", "c"]);
        assert!(built.files("missing").is_empty());
        let found = wh.derived("set", "1,1").unwrap().unwrap();
        assert_eq!((found.dir, found.stamp), (built.dir.clone(), "1,1".into()));
        assert!(wh.derived("set", "1,2").unwrap().is_none(), "other inputs");
        assert!(wh.derived("other", "1,1").unwrap().is_none());
    }

    #[test]
    fn a_set_built_for_the_stamp_is_not_built_again() {
        let (_tmp, wh) = temp_warehouse();
        let runs = AtomicUsize::new(0);
        let schema = Table::Deployments.schema();
        let parts = [deployments(&["a"])];
        let build = |w: &DerivedWriter| {
            runs.fetch_add(1, Ordering::Relaxed);
            w.write("t", &schema, &parts, &[])
        };
        let first = wh.build_derived("set", "7", &build).unwrap();
        let again = wh.build_derived("set", "7", &build).unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(first.dir, again.dir);
    }

    #[test]
    fn a_newer_generation_retires_the_old_one() {
        let (_tmp, wh) = temp_warehouse();
        let old = build(&wh, "set", "1", &["a"]).unwrap();
        let new = build(&wh, "set", "2", &["a", "b"]).unwrap();
        assert_eq!(new.dir, wh.derived_root().join("set-g000002"));
        // A reader of the old generation can still read it.
        assert_eq!(ids(&old), ["a"]);
        assert_eq!(ids(&new), ["a", "b"]);
        let pointer = wh.derived_pointer("set").unwrap().unwrap();
        assert_eq!((pointer.generation, pointer.stamp.as_str()), (2, "2"));
        let retired: Vec<u64> = pointer.retired.iter().map(|r| r.generation).collect();
        assert_eq!(retired, [1]);
        assert!(wh.derived("set", "1").unwrap().is_none());
        assert_eq!(
            wh.derived_sets().unwrap(),
            [("set".to_string(), "2".to_string(), new.dir.clone())]
        );
    }

    #[test]
    fn a_failed_build_publishes_nothing_and_leaves_nothing() {
        let (_tmp, wh) = temp_warehouse();
        let done = build(&wh, "set", "1", &["a"]).unwrap();
        let failed = wh.build_derived("set", "2", &|_| {
            Err(Error::Warehouse {
                path: "input".into(),
                message: "no".into(),
            })
        });
        assert!(failed.is_err());
        assert!(wh.derived("set", "2").unwrap().is_none());
        assert_eq!(wh.derived("set", "1").unwrap().unwrap().dir, done.dir);
        let mut left: Vec<String> = fs::read_dir(wh.derived_root())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, [".lock", "set-g000001", "set.json"]);
    }

    #[test]
    fn a_build_removes_killed_builds_and_generations_no_pointer_names() {
        let (_tmp, wh) = temp_warehouse();
        let root = wh.derived_root();
        let stale = [
            "set-g000001.tmp-4294967295",
            "set-g000009",
            "deployment_commits",
            "deployment_warnings.old",
        ];
        for name in stale.iter().chain(&["other-g000001"]) {
            fs::create_dir_all(root.join(name)).unwrap();
        }
        build(&wh, "set", "1", &["a"]).unwrap();
        for name in stale {
            assert!(!root.join(name).exists(), "{name} was left");
        }
        assert!(root.join("other-g000001").exists(), "another set's");
    }

    #[test]
    fn a_union_lists_every_shards_parts_in_order() {
        let (_tmp, wh) = temp_warehouse();
        let a = build(&wh, "set-shard-1", "s", &["a", "b"]).unwrap();
        let b = build(&wh, "set-shard-2", "s", &["c", "d"]).unwrap();
        let mut expected = a.files("t");
        expected.extend(b.files("t"));
        let union = Derived::union(vec![a, b]).unwrap();
        assert_eq!(union.files("t"), expected);
        assert_eq!(expected.len(), 4);
        assert_eq!(ids(&union), ["a", "b", "c", "d"]);
        assert!(Derived::union(Vec::new()).is_none());
    }
}
