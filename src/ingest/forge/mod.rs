//! What the forge ingestors ([`crate::ingest::forge::github`], [`crate::ingest::forge::gitlab`]) share:
//! the sync loop over repositories, cursors, warehouse writes, and the
//! mapping rules that must not differ between forges.
//!
//! **Sync.** Repositories sync concurrently (`concurrency` at a time), each
//! with a progress line on stderr. A repository syncs its resources in
//! order (commits, changes, deployments, releases, incidents); each
//! resource's rows are written to the warehouse, and only then its cursor,
//! so a failure keeps everything synced before it and the next run resumes
//! from the last written cursor.
//!
//! **Incremental.** The cursor (`_state/<forge>-<repo>.json`) keeps, per
//! resource, the newest update time seen; the next run asks the API only
//! for what changed since (GitHub `since`, GitLab `updated_after`, or pages
//! sorted by update time read until an older item). Rows are upserted by
//! key, so reading an item twice is harmless and a run converges to a full
//! one. Commits are asked for from `cursor - COMMIT_OVERLAP`, because a
//! merge can bring commits whose dates are older than the previous sync;
//! merged changes also bring their own commits.
//!
//! **Mapping rules** (README "Forges"):
//! - production: a deployment the forge marks as production (GitHub
//!   `production_environment`, GitLab tier `production`) or whose
//!   environment name matches the configured pattern is stored with
//!   environment `production`; others keep their name;
//! - incidents are keyed `<repo>#<number>`; a body line `root cause: <sha>`
//!   (a full sha or a unique prefix of one of the repo's commits) or
//!   `deployment: <id>` (the forge's deployment number: GitHub's
//!   deployment id, GitLab's project-scoped deployment iid, the `#3` its
//!   pages show, with or without `#`; or a full doralens deployment id)
//!   links the incident; a link to a deployment the warehouse does not
//!   have is kept (it counts once that deployment is synced) and said on
//!   stderr;
//! - rollbacks: a successful deployment whose sha is a strict ancestor of
//!   the sha of the previous successful deployment to the same environment
//!   rolls that one back.

pub mod github;
pub mod gitlab;

use std::collections::HashMap;
use std::future::Future;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::base::production::ProductionPattern;
use crate::error::{Error, Result};
use crate::ingest::source::{ScopeSync, Source};
use crate::store::links::WebLinks;

mod history;
mod mapping;
mod sync;

pub use history::*;
pub use mapping::*;
pub use sync::*;

/// Commits are re-read this far behind the cursor (see the module docs).
pub const COMMIT_OVERLAP: crate::base::time::Span = crate::base::time::Span::days(7);

/// Options shared by both forges (command line or doralens.toml).
#[derive(Debug, Clone)]
pub struct ForgeOptions {
    /// API root; None is the public service.
    pub api_url: Option<String>,
    pub production: ProductionPattern,
    pub incident_label: String,
    pub releases_as_deployments: bool,
    /// Repository → service; unmapped repositories are their own service.
    pub services: HashMap<String, String>,
    /// Ignore the cursors and read everything.
    pub full: bool,
    /// Repositories synced at the same time.
    pub concurrency: usize,
    /// Deployments from CI, on the default branch: GitHub Actions runs of
    /// workflows whose name matches, GitLab pipeline jobs whose name
    /// matches (and that made no deployment of their own).
    pub deploy_workflow: Option<Regex>,
    /// The environment of those deployments.
    pub workflow_environment: String,
    /// Also read release governance data (docs/metrics.md section 9):
    /// deployment approvals and each merged change's files with their
    /// line counts. One request more per deployment or change, so off
    /// unless asked for.
    pub governance: bool,
}

impl Default for ForgeOptions {
    fn default() -> Self {
        ForgeOptions {
            api_url: None,
            production: ProductionPattern::default(),
            incident_label: "incident".into(),
            releases_as_deployments: false,
            services: HashMap::new(),
            full: false,
            concurrency: 4,
            deploy_workflow: None,
            workflow_environment: "production".into(),
            governance: false,
        }
    }
}

impl ForgeOptions {
    pub fn service_of(&self, repo: &str) -> String {
        self.services
            .get(repo)
            .cloned()
            .unwrap_or_else(|| repo.to_string())
    }

    /// The stored environment name (see the module docs).
    pub fn environment(&self, name: &str, forge_says_production: bool) -> String {
        if forge_says_production || self.production.regex.is_match(name) {
            "production".into()
        } else {
            name.to_string()
        }
    }
}

/// Per-resource "changed since" marks, microseconds UTC, and the
/// repository's web links (for reports).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    pub commits: Option<i64>,
    pub changes: Option<i64>,
    pub deployments: Option<i64>,
    pub releases: Option<i64>,
    pub incidents: Option<i64>,
    #[serde(default)]
    pub links: Option<WebLinks>,
    /// GitLab: the environments of tier `production` at the last sync. When
    /// they change, every deployment is read again (a tier change moves no
    /// deployment's update time, yet changes which ones are production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_environments: Option<Vec<String>>,
    /// The default branch, as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// GitHub Actions: workflow runs created since (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_runs: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoReport {
    pub repo: String,
    pub commits: usize,
    pub changes: usize,
    pub deployments: usize,
    pub incidents: usize,
    pub rollbacks: usize,
    pub incremental: bool,
}

/// A forge: reads one repository's resources into a [`RepoSync`], each
/// step writing its rows and cursor. [`sync_repo`] runs the steps in order.
pub trait Forge: Sync {
    fn name(&self) -> &'static str;
    /// The branch to read, and the repository's web links into `sync.cursor`.
    /// An incremental run that has them already returns "" (both forges
    /// list the default branch when none is named), saving a request.
    fn default_branch(&self, sync: &mut RepoSync<'_>) -> impl Future<Output = Result<String>>;
    fn commits(&self, sync: &mut RepoSync<'_>, branch: &str) -> impl Future<Output = Result<()>>;
    /// One page (up to 100) of the history that starts at `sha`, newest
    /// first, written with [`RepoSync::write`] as resource `history`.
    fn commits_from(&self, sync: &mut RepoSync<'_>, sha: &str) -> impl Future<Output = Result<()>>;
    fn changes(&self, sync: &mut RepoSync<'_>) -> impl Future<Output = Result<()>>;
    fn deployments(&self, sync: &mut RepoSync<'_>) -> impl Future<Output = Result<()>>;
    fn releases(&self, sync: &mut RepoSync<'_>) -> impl Future<Output = Result<()>>;
    fn incidents(&self, sync: &mut RepoSync<'_>) -> impl Future<Output = Result<()>>;
    /// Deployments run by CI pipelines (GitHub Actions workflow runs), when
    /// the options name the deploying workflows.
    fn ci_deployments(&self, _sync: &mut RepoSync<'_>) -> impl Future<Output = Result<()>> {
        async { Ok(()) }
    }
}

/// One repository, in the order every forge follows: commits first (the
/// rest links to them), then changes (which add their own commits),
/// deployments and releases, rollbacks from what is now stored, incidents
/// last (their short shas resolve against the commits).
pub async fn sync_repo<F: Forge>(forge: &F, sync: &mut RepoSync<'_>) -> Result<()> {
    sync.progress("repository");
    let branch = forge.default_branch(sync).await?;
    forge.commits(sync, &branch).await?;
    forge.changes(sync).await?;
    fill_history(forge, sync).await?;
    forge.deployments(sync).await?;
    if sync.options().deploy_workflow.is_some() {
        forge.ci_deployments(sync).await?;
    }
    if sync.options().releases_as_deployments {
        forge.releases(sync).await?;
    }
    sync.write_rollbacks()?;
    forge.incidents(sync).await
}

/// A forge as a [`Source`]: one scope per repository, `concurrency` at a
/// time, each scope's cursor the repository's [`Cursor`].
pub struct ForgeSource<'a, F: Forge> {
    pub forge: F,
    pub ctx: &'a SyncContext<'a>,
    pub repos: Vec<String>,
}

impl<F: Forge> Source for ForgeSource<'_, F> {
    type Cursor = Cursor;

    fn name(&self) -> &'static str {
        self.forge.name()
    }

    fn scopes(&self) -> Vec<String> {
        self.repos.clone()
    }

    fn concurrency(&self) -> usize {
        self.ctx.options.concurrency.max(1)
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "commits",
            "changes",
            "deployments",
            "incidents",
            "rollbacks",
        ]
    }

    /// One repository (see [`sync_repo`]); a failure says what was kept and
    /// how to resume.
    async fn sync(&self, scope: &mut ScopeSync<'_, Cursor>) -> Result<()> {
        let forge = &self.forge;
        let repo = scope.scope.clone();
        let cursor = std::mem::take(&mut scope.cursor);
        let mut sync = RepoSync::new(self.ctx, forge.name(), &repo, cursor, scope.incremental());
        let result = sync_repo(forge, &mut sync).await;
        sync.bar.finish_and_clear();
        let r = &sync.report;
        for (table, n) in [
            ("commits", r.commits),
            ("changes", r.changes),
            ("deployments", r.deployments),
            ("incidents", r.incidents),
            ("rollbacks", r.rollbacks),
        ] {
            scope.count(table, n);
        }
        scope.cursor = sync.cursor.clone();
        match result {
            Ok(()) => Ok(()),
            Err(e @ Error::Token { .. }) => Err(e),
            Err(e) => {
                let kept = if sync.done.is_empty() {
                    "nothing was written".to_string()
                } else {
                    format!("kept what was synced: {}", sync.done.join(", "))
                };
                Err(Error::Forge {
                    forge: forge.name(),
                    repo: repo.clone(),
                    message: format!(
                        "{}; {kept}; run the same command again to resume from there",
                        strip_prefix(forge.name(), &repo, &e)
                    ),
                })
            }
        }
    }
}

/// An error's message without its own "<forge> <repo>: " prefix.
fn strip_prefix(forge: &str, repo: &str, e: &Error) -> String {
    let text = e.to_string();
    let prefix = format!("{forge} {repo}: ");
    text.strip_prefix(&prefix)
        .map(str::to_string)
        .unwrap_or(text)
}
