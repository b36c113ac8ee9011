//! Deployments from tags: each tag matching `--deploy-tags` is a
//! deployment of the repository (or of the monorepo services it names),
//! and a tag whose commit is an ancestor of the previous one's rolls it
//! back.

use std::collections::HashMap;
use std::path::Path;

use gix::ObjectId;

use super::paths::glob_match;
use super::{GitOptions, git_error, micros};
use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;
use crate::store::rows::DeploymentRow;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

pub(super) struct TagInfo {
    pub(super) name: String,
    pub(super) commit: ObjectId,
    /// Tagger date of an annotated tag, else the commit's committer date (µs).
    pub(super) at: i64,
}

pub(super) fn read_tags(repo: &gix::Repository, path: &Path) -> Result<Vec<TagInfo>> {
    let platform = repo
        .references()
        .map_err(|e| git_error(path, "cannot read refs", e))?;
    let iter = platform
        .tags()
        .map_err(|e| git_error(path, "cannot read tags", e))?;
    let mut out = Vec::new();
    for reference in iter {
        let reference = reference.map_err(|e| git_error(path, "cannot read a tag", e))?;
        let name = reference.name().shorten().to_string();
        let Some(mut id) = reference.target().try_id().map(|id| id.to_owned()) else {
            continue; // symbolic tag refs are unusual; skip them
        };
        let mut tagger_at: Option<i64> = None;
        // Peel annotated (and signed) tags, possibly tags of tags.
        let commit = loop {
            let object = repo.find_object(id).map_err(|e| {
                git_error(path, &format!("tag {name} points to a missing object"), e)
            })?;
            match object.kind {
                gix::object::Kind::Tag => {
                    let tag = object.into_tag();
                    let decoded = tag
                        .decode()
                        .map_err(|e| git_error(path, &format!("corrupt tag {name}"), e))?;
                    if tagger_at.is_none() {
                        tagger_at = decoded
                            .tagger()
                            .ok()
                            .flatten()
                            .and_then(|s| s.time().ok())
                            .map(micros);
                    }
                    id = decoded.target();
                }
                gix::object::Kind::Commit => break Some(object.into_commit()),
                // A tag of a tree or blob deploys nothing.
                _ => break None,
            }
        };
        let Some(commit) = commit else { continue };
        let committed = commit
            .committer()
            .ok()
            .and_then(|c| c.time().ok())
            .map(micros)
            .unwrap_or(0);
        out.push(TagInfo {
            name,
            commit: commit.id,
            at: tagger_at.unwrap_or(committed),
        });
    }
    Ok(out)
}

/// Where tag deployments go: the repo itself, or one monorepo service.
pub(super) struct DeployTarget {
    pub(super) service: String,
    pub(super) repo: String,
    pub(super) id_suffix: String,
    /// For a path service: real sha → nearest commit of the service.
    pub(super) nearest: Option<HashMap<String, String>>,
}

/// With several path services, a tag named `<service>/…`, `<service>-…` or
/// `<service>@…` deploys only that service; any other tag deploys them all.
fn tag_deploys(tag: &str, service: &str, all: &[DeployTarget]) -> bool {
    let owned_by = |s: &str| {
        ["/", "-", "@"]
            .iter()
            .any(|sep| tag.starts_with(&format!("{s}{sep}")))
    };
    if all.len() < 2 || all.iter().all(|t| t.nearest.is_none()) {
        return true;
    }
    match all.iter().find(|t| owned_by(&t.service)) {
        Some(owner) => owner.service == service,
        None => true,
    }
}

/// Upserts one deployment per matching tag and target, and the rollbacks
/// they imply.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_tag_deployments(
    warehouse: &Warehouse,
    repo: &gix::Repository,
    path: &Path,
    repo_name: &str,
    glob: &str,
    tags: &[TagInfo],
    opts: &GitOptions,
    targets: &[DeployTarget],
) -> Result<(usize, usize)> {
    let mut matching: Vec<&TagInfo> = tags.iter().filter(|t| glob_match(glob, &t.name)).collect();
    if matching.is_empty() {
        let mut names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        let shown = if names.is_empty() {
            "the repository has no tags".to_string()
        } else {
            format!(
                "its tags are: {}{}",
                names
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                if names.len() > 10 { ", ..." } else { "" }
            )
        };
        return Err(Error::Usage {
            option: "--deploy-tags".into(),
            message: format!("no tag of {} matches `{glob}`; {shown}", path.display()),
        });
    }
    matching.sort_by(|a, b| a.at.cmp(&b.at).then(a.name.cmp(&b.name)));
    let environment = opts
        .environment
        .clone()
        .unwrap_or_else(|| "production".into());
    let mut deployments = TableBuffer::new(Table::Deployments);
    let mut rollbacks = TableBuffer::new(Table::Rollbacks);
    for target in targets {
        // (deployment id, sha, time) of this target, in tag-date order.
        let mut deployed: Vec<(String, String, i64)> = Vec::new();
        for tag in matching
            .iter()
            .filter(|t| tag_deploys(&t.name, &target.service, targets))
        {
            let real = tag.commit.to_hex().to_string();
            let sha = match &target.nearest {
                None => real,
                // No commit of this service yet at this tag: nothing to deploy.
                Some(nearest) => match nearest.get(&real) {
                    Some(s) => s.clone(),
                    None => continue,
                },
            };
            let id = format!("{repo_name}@{}{}", tag.name, target.id_suffix);
            DeploymentRow {
                id: id.clone(),
                repo: target.repo.clone(),
                service: target.service.clone(),
                environment: environment.clone(),
                sha: sha.clone(),
                status: "success".into(),
                started_at: None,
                finished_at: crate::base::time::Timestamp::from_micros(tag.at),
                triggered_by: None,
            }
            .push(&mut deployments);
            deployed.push((id, sha, tag.at));
        }
        let sorted: Vec<crate::ingest::rollbacks::Deployed<'_>> = deployed
            .iter()
            .map(|(id, sha, at)| crate::ingest::rollbacks::Deployed {
                id,
                sha,
                finished_at: crate::base::time::Timestamp::from_micros(*at),
            })
            .collect();
        let found = crate::ingest::rollbacks::detect(&sorted, |older, newer| {
            is_ancestor(repo, path, object_id(older), object_id(newer))
        })?;
        for rollback in found {
            rollback.push(&mut rollbacks);
        }
    }
    let (d, r) = (deployments.len(), rollbacks.len());
    warehouse.upsert(Table::Deployments, &[deployments.finish()?])?;
    if r > 0 {
        warehouse.upsert(Table::Rollbacks, &[rollbacks.finish()?])?;
    }
    Ok((d, r))
}

fn object_id(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).expect("shas written by this module are hex")
}

/// True when `older` is reachable from `newer` (and they differ).
fn is_ancestor(
    repo: &gix::Repository,
    path: &Path,
    older: ObjectId,
    newer: ObjectId,
) -> Result<bool> {
    let base = repo
        .merge_base(older, newer)
        .map_err(|e| git_error(path, "cannot compare tagged commits", e))?;
    Ok(base.map(|b| b.detach()) == Some(older))
}
