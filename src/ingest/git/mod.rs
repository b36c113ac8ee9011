//! Local git repositories (`doralens ingest git`, `doralens analyze`), read
//! with gix: pure Rust, no libgit2 or C toolchain, and fast enough to walk
//! large histories (see the benchmark in docs/performance.md).
//!
//! What is read:
//! - **commits** reachable from the selected branches (default: the branch
//!   HEAD points to) and from every tag: sha, parents, author name, author
//!   and committer dates, first line of the message. A later run walks only
//!   commits not reachable from the tips it saw last time (the cursor in
//!   `_state/git-<repo>.json`); upserts by key make it converge to a full run.
//! - **deployments** from tags matching `--deploy-tags`: each is a
//!   successful deployment of `--service` (default: the repo name) to
//!   `--environment` (default `production`), at the annotated tag's tagger
//!   date, else the tagged commit's committer date. Signed tags are
//!   annotated tags. Deployment ids are `<repo>@<tag>`.
//! - **rollbacks**: in tag-date order, a tag whose commit is a strict
//!   ancestor of the previous deployment's commit rolls that deployment back
//!   (`rollbacks` row `<repo>@<tag>#rollback`).
//! - **reverts** need no extra row: `git revert` writes `Revert "…"` as the
//!   first line, which the rework metric recognises in `commits.message`.

pub mod flag_refs;
pub mod paths;
mod tags;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use serde_json::json;

use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;
use crate::store::rows::CommitRow;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;
use paths::ServicePaths;
use tags::{DeployTarget, read_tags, write_tag_deployments};

/// Commits buffered before each upsert (bounds memory on huge histories).
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Default)]
pub struct GitOptions {
    /// Repository name in the warehouse (default: the folder name).
    pub repo_name: Option<String>,
    /// Branches to read (default: the one HEAD points to).
    pub branches: Vec<String>,
    /// Glob over tag names (`v*`) whose tags are deployments.
    pub deploy_tags: Option<String>,
    /// Service the tags deploy (default: the repo name).
    pub service: Option<String>,
    /// Environment of tag deployments (default `production`).
    pub environment: Option<String>,
    /// Read the whole history even when a cursor exists.
    pub full: bool,
    /// Accept a shallow clone (lead times of its oldest commits are wrong).
    pub allow_shallow: bool,
    /// Monorepo services by path (see `git_paths`).
    pub service_paths: ServicePaths,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitReport {
    pub repo: String,
    pub commits: usize,
    pub deployments: usize,
    pub rollbacks: usize,
    pub incremental: bool,
}

fn git_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Git {
        path: path.to_path_buf(),
        message: format!(
            "{what}: {e}; if the repository is damaged, `git fsck` names the broken objects"
        ),
    }
}

/// The repo name a path implies: `~/src/api` and `/srv/api.git` are `api`.
pub fn default_repo_name(path: &Path) -> String {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut name = canonical
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "repo".into());
    if name == ".git"
        && let Some(parent) = canonical.parent().and_then(|p| p.file_name())
    {
        name = parent.to_string_lossy().to_string();
    }
    name.strip_suffix(".git")
        .map(str::to_string)
        .unwrap_or(name)
}

fn micros(time: gix::date::Time) -> i64 {
    time.seconds * crate::base::time::MICROS_PER_SECOND
}

pub fn ingest(
    warehouse: &Warehouse,
    path: &Path,
    opts: &GitOptions,
    progress: &indicatif::ProgressBar,
) -> Result<GitReport> {
    let repo = gix::open(path).map_err(|e| Error::Git {
        path: path.to_path_buf(),
        message: format!(
            "not a git repository ({e}); pass the path of a clone or a bare repository"
        ),
    })?;
    let shallow = repo
        .is_shallow()
        .map_err(|e| git_error(path, "cannot read shallow state", e))?;
    if shallow && !opts.allow_shallow {
        let boundary = repo
            .shallow_commits()
            .ok()
            .flatten()
            .map(|c| c.len())
            .unwrap_or(0);
        return Err(Error::Git {
            path: path.to_path_buf(),
            message: format!(
                "shallow clone: the parents of {boundary} boundary commit(s) are missing, so commits \
                 before them cannot be attributed and lead times would be wrong; run `git -C {} fetch \
                 --unshallow` (or pass --allow-shallow to ingest what is there)",
                path.display()
            ),
        });
    }
    let repo_name = opts
        .repo_name
        .clone()
        .unwrap_or_else(|| default_repo_name(path));

    // Tips: the selected branches and every tag.
    let mut tips: Vec<ObjectId> = Vec::new();
    if opts.branches.is_empty() {
        let head = repo
            .head()
            .map_err(|e| git_error(path, "cannot read HEAD", e))?;
        match head.id() {
            Some(id) => tips.push(id.detach()),
            None => {
                return Err(Error::Git {
                    path: path.to_path_buf(),
                    message: "HEAD points to no commit (an empty repository?); pass --branch NAME"
                        .into(),
                });
            }
        }
    } else {
        for branch in &opts.branches {
            let mut reference = repo
                .find_reference(&format!("refs/heads/{branch}"))
                .map_err(|_| Error::Git {
                    path: path.to_path_buf(),
                    message: format!(
                        "no branch `{branch}`; list them with `git -C {} branch`",
                        path.display()
                    ),
                })?;
            let id = reference
                .peel_to_id()
                .map_err(|e| git_error(path, &format!("cannot resolve branch {branch}"), e))?;
            tips.push(id.detach());
        }
    }
    let tags = read_tags(&repo, path)?;
    tips.extend(tags.iter().map(|t| t.commit));
    tips.sort();
    tips.dedup();

    // Incremental: hide everything reachable from the previous run's tips.
    let state_name = format!("git-{}", sanitise(&repo_name));
    let previous: Vec<ObjectId> = if opts.full {
        Vec::new()
    } else {
        warehouse
            .read_state(&state_name)?
            .and_then(|v| v.get("tips").cloned())
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| ObjectId::from_hex(s.as_bytes()).ok())
            // A tip that no longer exists (force-push, gc) cannot hide anything.
            .filter(|id| repo.find_object(*id).is_ok())
            .collect()
    };
    // Path attribution keeps each commit's service mask; a changed
    // --service-path configuration needs every commit diffed again.
    let paths_state = format!("{state_name}-paths");
    let mut masks: HashMap<String, u64> = HashMap::new();
    let mut previous = previous;
    if !opts.service_paths.is_empty() {
        if opts.service.is_some() {
            return Err(Error::usage(
                "--service",
                "with --service-path the services come from the paths; drop --service",
            ));
        }
        let cached = warehouse.read_state(&paths_state)?;
        let same = cached
            .as_ref()
            .and_then(|v| v.get("fingerprint"))
            .and_then(|v| v.as_str())
            == Some(opts.service_paths.fingerprint().as_str());
        match cached
            .filter(|_| same)
            .and_then(|v| v.get("masks").cloned())
        {
            Some(m) => masks = serde_json::from_value(m).unwrap_or_default(),
            None => previous.clear(),
        }
    }
    let incremental = !previous.is_empty();

    let walk = repo
        .rev_walk(tips.iter().copied())
        .with_hidden(previous.iter().copied())
        .all()
        .map_err(|e| git_error(path, "cannot walk history", e))?;
    let mut commits = TableBuffer::new(Table::Commits);
    let mut total = 0usize;
    let mut parents: Vec<String> = Vec::with_capacity(2);
    let mut sha = String::with_capacity(40);
    for info in walk {
        let info = info.map_err(|e| git_error(path, "cannot walk history", e))?;
        let commit = info
            .object()
            .map_err(|e| git_error(path, &format!("cannot read commit {}", info.id), e))?;
        let decoded = commit
            .decode()
            .map_err(|e| git_error(path, &format!("corrupt commit {}", info.id), e))?;
        parents.clear();
        parents.extend(decoded.parents().map(|p| p.to_hex().to_string()));
        let author = decoded
            .author()
            .map_err(|e| git_error(path, &format!("corrupt author in {}", info.id), e))?;
        let authored = author
            .time()
            .map_err(|e| git_error(path, &format!("bad author date in {}", info.id), e))?;
        let committed = decoded.committer().ok().and_then(|c| c.time().ok());
        let name = String::from_utf8_lossy(author.name.as_ref())
            .trim()
            .to_string();
        let message = String::from_utf8_lossy(decoded.message.as_ref());
        let summary = message.lines().next().unwrap_or("").trim();
        sha.clear();
        sha.push_str(&info.id.to_hex().to_string());
        if !opts.service_paths.is_empty() {
            let first_parent_tree = match decoded.parents().next() {
                Some(p) => Some(
                    repo.find_commit(p)
                        .and_then(|c| c.tree_id().map(|t| t.detach()))
                        .map_err(|e| {
                            git_error(path, &format!("cannot read parent of {}", info.id), e)
                        })?,
                ),
                None => None,
            };
            let mask = paths::touched(
                &repo,
                first_parent_tree,
                Some(decoded.tree()),
                &opts.service_paths,
            )?;
            if mask != 0 {
                masks.insert(sha.clone(), mask);
            }
        }
        CommitRow {
            repo: &repo_name,
            sha: &sha,
            parents: &parents,
            author: (!name.is_empty()).then_some(name.as_str()),
            authored_at: crate::base::time::Timestamp::from_micros(micros(authored)),
            committed_at: committed.map(|t| crate::base::time::Timestamp::from_micros(micros(t))),
            message: Some(summary),
        }
        .push(&mut commits);
        total += 1;
        if total.is_multiple_of(4096) {
            progress.set_message(format!("{repo_name}: {total} commits"));
            progress.tick();
        }
        if commits.len() >= CHUNK {
            warehouse.upsert(Table::Commits, &[commits.finish()?])?;
        }
    }
    if !commits.is_empty() {
        warehouse.upsert(Table::Commits, &[commits.finish()?])?;
    }

    let mut targets = Vec::new();
    if opts.service_paths.is_empty() {
        targets.push(DeployTarget {
            service: opts.service.clone().unwrap_or_else(|| repo_name.clone()),
            repo: repo_name.clone(),
            id_suffix: String::new(),
            nearest: None,
        });
    } else {
        warehouse.write_state(
            &paths_state,
            &json!({ "fingerprint": opts.service_paths.fingerprint(), "masks": masks }),
        )?;
        let nearest = write_virtual_repos(warehouse, &repo_name, &masks, &opts.service_paths)?;
        for ((service, _), nearest) in opts.service_paths.services.iter().zip(nearest) {
            targets.push(DeployTarget {
                service: service.clone(),
                repo: format!("{repo_name}:{service}"),
                id_suffix: format!(":{service}"),
                nearest: Some(nearest),
            });
        }
    }
    let (deployments, rollbacks) = match &opts.deploy_tags {
        Some(glob) => write_tag_deployments(
            warehouse, &repo, path, &repo_name, glob, &tags, opts, &targets,
        )?,
        None => (0, 0),
    };

    // The cursor moves only after everything above is in the warehouse.
    let tip_hex: Vec<String> = tips.iter().map(|t| t.to_hex().to_string()).collect();
    warehouse.write_state(&state_name, &json!({ "repo": repo_name, "tips": tip_hex }))?;
    progress.set_message(format!("{repo_name}: {total} new commits"));
    Ok(GitReport {
        repo: repo_name,
        commits: total,
        deployments,
        rollbacks,
        incremental,
    })
}

pub(crate) fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Rebuilds the per-service virtual repositories from the real repository's
/// commits in the warehouse; returns each service's nearest-commit map.
fn write_virtual_repos(
    warehouse: &Warehouse,
    repo_name: &str,
    masks: &HashMap<String, u64>,
    paths: &ServicePaths,
) -> Result<Vec<HashMap<String, String>>> {
    let own: Vec<_> = warehouse
        .read_table_where(Table::Commits, None, "repo", repo_name)?
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .collect();
    let (virtual_commits, nearest) = paths::virtual_repos(repo_name, &own, masks, paths)?;
    if virtual_commits.num_rows() > 0 {
        warehouse.upsert(Table::Commits, &[virtual_commits])?;
    }
    Ok(nearest)
}

/// Ingests several repositories, each with its own progress line.
pub fn ingest_all(
    warehouse: &Warehouse,
    paths: &[PathBuf],
    opts: &GitOptions,
) -> Result<Vec<GitReport>> {
    if opts.repo_name.is_some() && paths.len() > 1 {
        return Err(Error::usage(
            "--repo",
            "names one repository; pass one path with it",
        ));
    }
    let bars = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
    let mut reports = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        let bar = bars.add(indicatif::ProgressBar::new_spinner());
        // Provenance: the repository's path is its rows' scope and origin.
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let scoped = warehouse.in_scope(
            format!("git:{}", shown.display()),
            Some(format!("git repository {}", shown.display())),
        );
        let report = ingest(&scoped, path, opts, &bar)?;
        bar.finish_and_clear();
        if let Some(other) = names.insert(report.repo.clone(), path.clone()) {
            return Err(Error::usage(
                "PATH",
                format!(
                    "{} and {} both ingest as repo `{}`; give one of them --repo NAME",
                    other.display(),
                    path.display(),
                    report.repo
                ),
            ));
        }
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::paths::glob_match;
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("v*", "v1.2.3"));
        assert!(!glob_match("v*", "release-1"));
        assert!(glob_match("release-?", "release-1"));
        assert!(glob_match("*-prod", "api-prod"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("v?", "v10"));
    }

    #[test]
    fn repo_names_from_paths() {
        assert_eq!(default_repo_name(Path::new("/srv/git/api.git")), "api");
        assert_eq!(default_repo_name(Path::new("/home/me/src/web")), "web");
    }
}
