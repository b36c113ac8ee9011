//! Vacuum on object storage: commits older than the retention go (never the
//! newest), then every object no remaining commit names once it is older
//! than both the retention and the upload grace, and cached objects the
//! newest commit does not name.

use std::collections::HashSet;
use std::fs;

use futures_util::TryStreamExt;
use object_store::ObjectStoreExt;

use super::checkout::{WorkDir, files_below};
use super::connect::store_error;
use super::{EMPTY, LOG, Remote, UPLOAD_GRACE, log_name};
use crate::error::Result;

/// What [`Remote::vacuum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemoteVacuum {
    pub objects_removed: usize,
    pub commits_removed: usize,
}

impl Remote {
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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::Publish;
    use super::super::testing::{rt, url};
    use super::*;
    use crate::store::schema::Table;
    use crate::store::testing::deployments;

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
