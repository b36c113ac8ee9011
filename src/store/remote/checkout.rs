//! Working copies: a local warehouse directory holding one commit, its
//! files hard-linked from the cache of downloaded objects, so every command
//! runs on it unchanged; [`Checkout::publish`] uploads what the command
//! changed and commits it as the next version.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::{COMMIT_FORMAT, Commit, DerivedState, Remote, TableState};
use crate::error::{Error, Result};
use crate::store::leftovers::remove_dead_dirs;
use crate::store::schema::Table;
use crate::store::warehouse::{Manifest, Segment, Warehouse};

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

/// A name no other writer picks: time, process and a counter.
fn fresh_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = crate::store::keys::text_key_hash([
        now.to_string().as_str(),
        &std::process::id().to_string(),
        &n.to_string(),
    ]);
    format!("{hash:016x}")
}

impl Remote {
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
}

/// Every file below `root`, with its path relative to `root` in `/` form
/// (an object name's tail).
pub(super) fn files_below(root: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
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
pub(super) struct WorkDir(PathBuf);

impl WorkDir {
    fn new(cache: &Path) -> Result<WorkDir> {
        WorkDir::remove_dead(cache);
        let dir = cache.join(format!("work-{}-{}", std::process::id(), fresh_token()));
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        Ok(WorkDir(dir))
    }

    pub(super) fn remove_dead(cache: &Path) {
        remove_dead_dirs(cache, "work-");
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
    /// one it published (or brought in by [`Checkout::install`]).
    pub(super) base: std::sync::Mutex<Option<Commit>>,
    pub(super) warehouse: Warehouse,
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
    use super::super::testing::{rt, url};
    use super::*;
    use crate::store::testing::deployments;

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
}
