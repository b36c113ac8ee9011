//! Bringing a long-lived working copy (`serve`'s) to the newest commit in
//! place, in two steps so that readers wait only for the second:
//! [`Checkout::fetch_newer`] lists the log after the working copy's version
//! and downloads what a newer commit names into the cache (slow, remote);
//! [`Checkout::install`] links those files in and swaps the manifests,
//! state documents and derived sets (fast, local).
//!
//! Nothing is deleted from the working copy: a segment the new commit no
//! longer names stays on disk, so a query that opened the previous state
//! reads it to the end. Segment and object names are unique per writer, so
//! a file already in place is the file the commit names.

use std::fs;
use std::path::Path;

use futures_util::TryStreamExt;

use super::{Checkout, Commit, LOG, Remote, log_name};
use crate::error::{Error, Result};
use crate::store::schema::Table;
use crate::store::warehouse::Manifest;

impl Remote {
    /// The newest version after `after` in the log (after None: the newest
    /// of all), listing only the names that sort after it.
    pub async fn version_after(&self, after: Option<u64>) -> Result<Option<u64>> {
        let prefix = self.path(LOG);
        let listed: Vec<object_store::ObjectMeta> = match after {
            None => self.store.list(Some(&prefix)).try_collect().await,
            Some(v) => {
                let offset = self.path(&format!("{LOG}/{}", log_name(v)));
                self.store
                    .list_with_offset(Some(&prefix), &offset)
                    .try_collect()
                    .await
            }
        }
        .map_err(|e| super::store_error(&self.url, "list the commit log", e))?;
        Ok(listed
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
            .filter(|v| after.is_none_or(|a| *v > a))
            .max())
    }
}

impl Checkout {
    /// The newest commit when it is newer than the working copy's, with
    /// every object it names downloaded into the cache; None when the
    /// working copy is current. An empty log under a working copy that has
    /// a version is an error: a warehouse never loses its newest commit, so
    /// the location is not the one it was (moved, unmounted, replaced).
    pub async fn fetch_newer(&self, remote: &Remote) -> Result<Option<Commit>> {
        let current = self.version();
        let Some(latest) = remote.version_after(current).await? else {
            if current.is_some() && remote.version_after(None).await?.is_none() {
                return Err(Error::Warehouse {
                    path: remote.url.clone().into(),
                    message: format!(
                        "the commit log is empty, yet version {} was read from it; the location \
                         was moved or replaced",
                        current.unwrap_or_default()
                    ),
                });
            }
            return Ok(None);
        };
        let commit = remote.read_commit(latest).await?;
        let wanted: Vec<String> = commit.objects().collect();
        remote
            .download(&remote.cache.join("objects"), &wanted)
            .await?;
        Ok(Some(commit))
    }

    /// Puts `commit` (from [`Checkout::fetch_newer`]) in place: its files
    /// first, then each table's manifest, the state documents and the
    /// derived sets; then the working copy is at its version.
    pub fn install(&self, remote: &Remote, commit: Commit) -> Result<()> {
        let objects = remote.cache.join("objects");
        let root = self.warehouse.root().to_path_buf();
        let mut tables = Vec::new();
        for (name, t) in &commit.tables {
            let table = Table::from_name(name).ok_or_else(|| Error::Warehouse {
                path: remote.url.clone().into(),
                message: format!(
                    "commit {} names a table `{name}` this doralens does not know; upgrade doralens",
                    commit.version
                ),
            })?;
            let dir = root.join(name);
            fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
            for seg in &t.segments {
                for file in [&seg.file, &seg.keys] {
                    link_missing(&objects.join(name).join(file), &dir.join(file))?;
                }
            }
            tables.push((table, t));
        }
        for (table, t) in tables {
            if self.warehouse.manifest(table)?.version == t.version {
                continue;
            }
            self.warehouse.install_manifest(
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
            if self.warehouse.read_state(name)?.as_ref() != Some(value) {
                self.warehouse.write_state(name, value)?;
            }
        }
        for name in self.warehouse.state_names() {
            if !commit.state.contains_key(&name) {
                let path = root.join("_state").join(format!("{name}.json"));
                fs::remove_file(&path).map_err(|e| Error::io("cannot remove", &path, e))?;
            }
        }
        for (set, d) in &commit.derived {
            // A new generation beside the one readers may have open (or
            // nothing, when the working copy computed this one itself).
            self.warehouse.build_derived(set, &d.stamp, &|writer| {
                for f in &d.files {
                    let target = writer.dir().join(f);
                    if let Some(parent) = target.parent() {
                        fs::create_dir_all(parent)
                            .map_err(|e| Error::io("cannot create", parent, e))?;
                    }
                    link_missing(&objects.join(&d.dir).join(f), &target)?;
                }
                Ok(())
            })?;
        }
        *self.base.lock().expect("not poisoned") = Some(commit);
        Ok(())
    }
}

/// Links (or copies) `from` to `to` unless `to` is there already: never a
/// moment without the file for a reader that has it open by name.
fn link_missing(from: &Path, to: &Path) -> Result<()> {
    if to.is_file() {
        return Ok(());
    }
    fs::hard_link(from, to)
        .or_else(|_| fs::copy(from, to).map(|_| ()))
        .map_err(|e| Error::io("cannot place", to, e))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{rt, url};
    use super::*;
    use crate::store::remote::Publish;
    use crate::store::testing::deployments;

    fn rows(checkout: &Checkout) -> usize {
        checkout
            .warehouse()
            .read_table(Table::Deployments, None)
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum()
    }

    #[test]
    fn a_working_copy_follows_another_writers_commits_in_place() {
        let store = tempfile::tempdir().unwrap();
        let (cache_a, cache_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        rt().block_on(async {
            let writer = Remote::open_with_cache(&url(store.path()), cache_a.path()).unwrap();
            let first = writer.checkout().await.unwrap();
            first
                .warehouse()
                .upsert(Table::Deployments, &deployments(&["d1"]))
                .unwrap();
            first
                .warehouse()
                .write_state("gone-later", &serde_json::json!(1))
                .unwrap();
            assert_eq!(first.publish(&writer).await.unwrap(), Publish::Committed(1));

            let reader = Remote::open_with_cache(&url(store.path()), cache_b.path()).unwrap();
            let served = reader.checkout().await.unwrap();
            assert_eq!(served.fetch_newer(&reader).await.unwrap(), None, "current");
            let before = served.warehouse().snapshot().unwrap();
            let old_files = served.warehouse().table_files(Table::Deployments).unwrap();
            assert_eq!(rows(&served), 1);

            let second = writer.checkout().await.unwrap();
            second
                .warehouse()
                .upsert(Table::Deployments, &deployments(&["d2", "d3"]))
                .unwrap();
            fs::remove_file(second.warehouse().root().join("_state/gone-later.json")).unwrap();
            second
                .warehouse()
                .write_state("tokens", &serde_json::json!({"tokens": []}))
                .unwrap();
            assert_eq!(
                second.publish(&writer).await.unwrap(),
                Publish::Committed(2)
            );

            let newer = served.fetch_newer(&reader).await.unwrap().unwrap();
            assert_eq!(newer.version, 2);
            assert_eq!(served.version(), Some(1), "fetching installs nothing");
            assert_eq!(rows(&served), 1);
            served.install(&reader, newer).unwrap();
            assert_eq!(served.version(), Some(2));
            assert_eq!(rows(&served), 3);
            assert_ne!(
                served.warehouse().snapshot().unwrap().stamp(),
                before.stamp()
            );
            assert_eq!(served.warehouse().state_names(), ["tokens"]);
            // A reader of the old state still finds its files.
            assert!(old_files.iter().all(|f| f.is_file()));
            assert_eq!(served.fetch_newer(&reader).await.unwrap(), None);
            // Following changes nothing remotely.
            assert_eq!(served.publish(&reader).await.unwrap(), Publish::Unchanged);
        });
    }

    #[test]
    fn a_location_whose_log_vanished_is_an_error_and_the_copy_stays() {
        let store = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        rt().block_on(async {
            let remote = Remote::open_with_cache(&url(store.path()), cache.path()).unwrap();
            let copy = remote.checkout().await.unwrap();
            assert_eq!(copy.fetch_newer(&remote).await.unwrap(), None, "empty");
            copy.warehouse()
                .upsert(Table::Deployments, &deployments(&["d1"]))
                .unwrap();
            assert_eq!(copy.publish(&remote).await.unwrap(), Publish::Committed(1));
            fs::remove_dir_all(store.path().join(LOG)).unwrap();
            let err = copy.fetch_newer(&remote).await.unwrap_err().to_string();
            assert!(err.contains("commit log is empty"), "{err}");
            assert_eq!((copy.version(), rows(&copy)), (Some(1), 1));
        });
    }
}
