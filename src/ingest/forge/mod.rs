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

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMicrosecondType;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::base::production::ProductionPattern;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::source::{ScopeSync, Source};
use crate::store::buffer::TableBuffer;
use crate::store::links::WebLinks;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

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

impl RepoSync<'_> {
    /// True when the repository's web links are known from an earlier run,
    /// so an incremental run can skip asking for the repository itself.
    pub fn knows_repository(&self) -> bool {
        self.report.incremental && self.cursor.links.is_some()
    }
}

/// Most history pages one sync asks for to close gaps in the graph.
const MAX_HISTORY_PAGES: usize = 200;

/// Closes the commit graph below the default branch. Commits are asked for
/// by date (since the cursor, less a week), so a commit dated long before
/// the cursor that reaches the branch through a merge without a pull or
/// merge request (a long-lived branch merged directly) is not listed; its
/// lead time would be lost. The graph shows the gap: a parent of a branch
/// commit that the warehouse does not have. For each, the history starting
/// at that parent is read (one page a request) until no parent is missing.
async fn fill_history<F: Forge>(forge: &F, sync: &mut RepoSync<'_>) -> Result<()> {
    let mut asked: HashSet<String> = HashSet::new();
    for _ in 0..MAX_HISTORY_PAGES {
        let graph = read_repo_commits(sync.ctx.warehouse, &sync.repo)?;
        let Some(missing) = first_missing_ancestor(&graph, &sync.branch_commits, &asked) else {
            return Ok(());
        };
        sync.progress(format!(
            "history below {}",
            &missing[..missing.len().min(12)]
        ));
        asked.insert(missing.clone());
        forge.commits_from(sync, &missing).await?;
    }
    sync.ctx.notify()(&format!(
        "warning: {} {}: the history below the default branch still has gaps after {MAX_HISTORY_PAGES} \
         pages; run again to continue, or with --full",
        sync.forge, sync.repo
    ));
    Ok(())
}

/// A sha reachable through parents from `roots` that `graph` does not hold
/// (and that was not asked for already), if any.
fn first_missing_ancestor(
    graph: &HashMap<String, Vec<String>>,
    roots: &[String],
    asked: &HashSet<String>,
) -> Option<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = roots.iter().map(String::as_str).collect();
    while let Some(sha) = stack.pop() {
        if !seen.insert(sha) {
            continue;
        }
        match graph.get(sha) {
            Some(parents) => stack.extend(parents.iter().map(String::as_str)),
            None if !asked.contains(sha) => return Some(sha.to_string()),
            None => {}
        }
    }
    None
}

/// Shared by the repositories of one run.
pub struct SyncContext<'a> {
    pub warehouse: &'a Warehouse,
    pub options: &'a ForgeOptions,
    bars: indicatif::MultiProgress,
    /// One writer at a time (the warehouse lock is per process handle).
    writing: Mutex<()>,
}

/// Messages above the progress bars, or plain lines when stderr is not a
/// terminal (the bars are hidden then).
pub fn stderr_notify(bars: &indicatif::MultiProgress) -> Notify {
    let bars = bars.clone();
    Arc::new(move |line: &str| {
        if std::io::stderr().is_terminal() {
            let _ = bars.println(line);
        } else {
            eprintln!("{line}");
        }
    })
}

/// TLS for both forges uses ring. Two crypto providers are compiled in
/// (the gitlab crate's unused reqwest brings aws-lc), so rustls cannot pick
/// one by itself: choose ours once per process.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl<'a> SyncContext<'a> {
    pub fn new(warehouse: &'a Warehouse, options: &'a ForgeOptions) -> Self {
        install_tls_provider();
        SyncContext {
            warehouse,
            options,
            bars: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            writing: Mutex::new(()),
        }
    }

    pub fn notify(&self) -> Notify {
        stderr_notify(&self.bars)
    }
}

/// One repository's sync: where its rows go and how far it got.
pub struct RepoSync<'a> {
    ctx: &'a SyncContext<'a>,
    forge: &'static str,
    pub repo: String,
    pub service: String,
    pub cursor: Cursor,
    report: RepoReport,
    done: Vec<&'static str>,
    bar: indicatif::ProgressBar,
    /// This repository's stored commits, read once for incident links and
    /// rollbacks; dropped whenever commits are written.
    commits: OnceLock<RepoCommits>,
    /// Shas of the default branch's commits this run wrote (whose
    /// ancestors must all be stored: see `fill_history`).
    branch_commits: Vec<String>,
    /// GitLab: the jobs behind the deployments read this run, so a
    /// pipeline job that already made a deployment is not counted twice.
    pub deployment_jobs: HashSet<u64>,
}

impl<'a> RepoSync<'a> {
    fn state_name(forge: &str, repo: &str) -> String {
        format!("{forge}-{}", crate::ingest::git::sanitise(repo))
    }

    /// One repository's sync, starting from the cursor its scope loaded
    /// (the same `_state/<forge>-<repo>.json` this sync writes).
    fn new(
        ctx: &'a SyncContext<'a>,
        forge: &'static str,
        repo: &str,
        cursor: Cursor,
        incremental: bool,
    ) -> Self {
        let bar = ctx.bars.add(indicatif::ProgressBar::new_spinner());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(format!("{forge} {repo}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        RepoSync {
            ctx,
            forge,
            repo: repo.to_string(),
            service: ctx.options.service_of(repo),
            report: RepoReport {
                repo: repo.to_string(),
                incremental,
                ..Default::default()
            },
            cursor,
            done: Vec::new(),
            bar,
            commits: OnceLock::new(),
            branch_commits: Vec::new(),
            deployment_jobs: HashSet::new(),
        }
    }

    pub fn options(&self) -> &ForgeOptions {
        self.ctx.options
    }

    pub fn progress(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Writes a resource's rows, then its cursor: a failure later keeps
    /// this resource. `cursor` updates the marks for what was written.
    pub fn write(
        &mut self,
        resource: &'static str,
        buffers: Vec<&mut TableBuffer>,
        cursor: impl FnOnce(&mut Cursor),
    ) -> Result<()> {
        let _writing = self.ctx.writing.lock().expect("writer poisoned");
        tokio::task::block_in_place(|| -> Result<()> {
            for buffer in buffers {
                if buffer.is_empty() {
                    continue;
                }
                let table = buffer.table();
                if table == Table::Commits {
                    self.commits = OnceLock::new();
                }
                let rows = buffer.len();
                let batch = buffer.finish()?;
                if table == Table::Commits && matches!(resource, "commits" | "history") {
                    let sha = batch.column(1).as_string::<i32>();
                    self.branch_commits
                        .extend(sha.iter().flatten().map(str::to_string));
                }
                let batches = super::keep_last_per_key(table, vec![batch])?;
                self.ctx.warehouse.upsert(table, &batches)?;
                let count = match table {
                    Table::Commits => &mut self.report.commits,
                    Table::Changes => &mut self.report.changes,
                    Table::Deployments => &mut self.report.deployments,
                    Table::Incidents => &mut self.report.incidents,
                    Table::Rollbacks => &mut self.report.rollbacks,
                    Table::Teams | Table::ChangeCommits => continue,
                };
                *count += rows;
            }
            cursor(&mut self.cursor);
            self.ctx.warehouse.write_state(
                &Self::state_name(self.forge, &self.repo),
                &serde_json::to_value(&self.cursor).expect("cursor serialises"),
            )
        })?;
        self.done.push(resource);
        Ok(())
    }

    /// Deletes stored incidents (an issue no longer labelled as one, or no
    /// longer of type incident). Incident ids are the table's whole key.
    pub fn delete_incidents(&mut self, ids: &[String]) -> Result<()> {
        let gone = self.delete_rows(Table::Incidents, ids)?;
        if gone > 0 {
            self.progress(format!("incidents: {gone} no longer incidents, removed"));
        }
        Ok(())
    }

    /// The stored `id`s of a table that `keep` selects.
    fn stored_ids(&self, table: Table, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        self.ctx.warehouse.ids(table, keep)
    }

    /// Deletes rows of a table keyed by one text `id`.
    fn delete_rows(&mut self, table: Table, ids: &[String]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let _writing = self.ctx.writing.lock().expect("writer poisoned");
        tokio::task::block_in_place(|| self.ctx.warehouse.delete_ids(table, ids))
    }

    /// After a full read: deletes this repository's stored incidents that
    /// the listing (`listed`, every current incident) no longer has.
    pub fn delete_incidents_not_listed(&mut self, listed: &[String]) -> Result<()> {
        let prefix = format!("{}#", self.repo);
        let listed: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let stale = self.stored_ids(Table::Incidents, |id| {
            id.starts_with(&prefix) && !listed.contains(id)
        })?;
        self.delete_incidents(&stale)
    }

    /// Says on stderr which explicit `deployment:` links of incidents name
    /// a deployment the warehouse does not have (a typo, or GitLab's global
    /// deployment id where the project's `#` number was meant). The link is
    /// kept: it counts as soon as that deployment is synced.
    pub fn warn_unknown_deployments(&self, links: &[(String, String)]) -> Result<()> {
        if links.is_empty() {
            return Ok(());
        }
        // This repository's deployments (one repository's row groups); the
        // whole table only when a link names another repository's.
        let own = format!("{}/", self.repo);
        let batches = if links.iter().all(|(_, d)| d.starts_with(&own)) {
            let columns = ["id", "repo"];
            self.ctx.warehouse.read_table_where(
                Table::Deployments,
                Some(&columns),
                "repo",
                &self.repo,
            )?
        } else {
            self.ctx
                .warehouse
                .read_table(Table::Deployments, Some(&["id"]))?
        };
        let known: HashSet<&str> = batches
            .iter()
            .flat_map(|b| b.column(0).as_string::<i32>().iter().flatten())
            .collect();
        let number = match self.forge {
            "gitlab" => "the deployment's #number on its GitLab page (its iid), not its global id",
            _ => "the deployment's id in the GitHub API",
        };
        for (incident, deployment) in links {
            if !known.contains(deployment.as_str()) {
                self.ctx.notify()(&format!(
                    "warning: incident {incident} links `deployment: {}`, but no deployment {deployment} \
                     is in the warehouse; write {number}. The link is kept and counts once that \
                     deployment is synced",
                    deployment.rsplit('/').next().unwrap_or(deployment)
                ));
            }
        }
        Ok(())
    }

    /// A unique commit of this repository starting with `prefix` (a full
    /// sha is returned as is).
    pub fn resolve_sha(&self, prefix: &str) -> String {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() >= 40 {
            return prefix;
        }
        // Unreadable commits leave the prefix as written.
        let shas = &self
            .commits
            .get_or_init(|| RepoCommits::read(self.ctx.warehouse, &self.repo).unwrap_or_default())
            .sorted;
        let start = shas.partition_point(|s| s.as_str() < prefix.as_str());
        let mut matches = shas[start..].iter().take_while(|s| s.starts_with(&prefix));
        match (matches.next(), matches.next()) {
            (Some(only), None) => only.clone(),
            _ => prefix,
        }
    }

    /// Recomputes this repository's rollbacks from its stored deployments
    /// and commits (deterministic ids, so re-running replaces them).
    pub fn write_rollbacks(&mut self) -> Result<()> {
        let (mut rollbacks, detected) = tokio::task::block_in_place(|| {
            if self.commits.get().is_none() {
                let read = RepoCommits::read(self.ctx.warehouse, &self.repo)?;
                let _ = self.commits.set(read);
            }
            let commits = self.commits.get().expect("set above");
            detect_rollbacks(self.ctx.warehouse, &self.repo, &commits.parents)
        })?;
        // Rollbacks are recomputed from what is stored: one detected before
        // and no longer (its deployment turned out failed, say) goes.
        let prefix = format!("{}/", self.repo);
        let stale = self.stored_ids(Table::Rollbacks, |id| {
            id.starts_with(&prefix) && id.ends_with("#rollback") && !detected.contains(id)
        })?;
        self.delete_rows(Table::Rollbacks, &stale)?;
        self.write("rollbacks", vec![&mut rollbacks], |_| {})
    }
}

/// One repository's stored commits: `sha → parents`, and the shas sorted
/// (for prefix lookups).
#[derive(Default)]
struct RepoCommits {
    parents: HashMap<String, Vec<String>>,
    sorted: Vec<String>,
}

impl RepoCommits {
    fn read(warehouse: &Warehouse, repo: &str) -> Result<RepoCommits> {
        let parents = read_repo_commits(warehouse, repo)?;
        let mut sorted: Vec<String> = parents.keys().cloned().collect();
        sorted.sort_unstable();
        Ok(RepoCommits { parents, sorted })
    }
}

/// `sha → parents` of one repository's stored commits.
fn read_repo_commits(warehouse: &Warehouse, repo: &str) -> Result<HashMap<String, Vec<String>>> {
    let mut graph = HashMap::new();
    for batch in warehouse.read_table_where(
        Table::Commits,
        Some(&["repo", "sha", "parents"]),
        "repo",
        repo,
    )? {
        let shas = batch.column(1).as_string::<i32>();
        let parents = batch.column(2).as_list::<i32>();
        for row in 0..batch.num_rows() {
            let list = parents.value(row);
            let list = list.as_string::<i32>();
            graph.insert(
                shas.value(row).to_string(),
                (0..list.len()).map(|i| list.value(i).to_string()).collect(),
            );
        }
    }
    Ok(graph)
}

/// True when `ancestor` is reachable from `descendant` through parents and
/// is not `descendant` itself.
pub fn is_strict_ancestor(
    graph: &HashMap<String, Vec<String>>,
    ancestor: &str,
    descendant: &str,
) -> bool {
    if ancestor == descendant {
        return false;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([descendant]);
    while let Some(sha) = queue.pop_front() {
        for parent in graph.get(sha).into_iter().flatten() {
            if parent == ancestor {
                return true;
            }
            if seen.insert(parent) {
                queue.push_back(parent);
            }
        }
    }
    false
}

struct StoredDeployment {
    id: String,
    environment: String,
    sha: String,
    finished_at: i64,
}

fn detect_rollbacks(
    warehouse: &Warehouse,
    repo: &str,
    graph: &HashMap<String, Vec<String>>,
) -> Result<(TableBuffer, HashSet<String>)> {
    let mut deployments: Vec<StoredDeployment> = Vec::new();
    let columns = ["id", "repo", "environment", "sha", "status", "finished_at"];
    for batch in warehouse.read_table_where(Table::Deployments, Some(&columns), "repo", repo)? {
        let col = |i: usize| batch.column(i).as_string::<i32>();
        let (ids, envs, shas, statuses) = (col(0), col(2), col(3), col(4));
        let finished = batch.column(5).as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            if statuses.value(row) == "success" {
                deployments.push(StoredDeployment {
                    id: ids.value(row).to_string(),
                    environment: envs.value(row).to_string(),
                    sha: shas.value(row).to_string(),
                    finished_at: finished.value(row),
                });
            }
        }
    }
    let mut out = TableBuffer::new(Table::Rollbacks);
    let mut ids = HashSet::new();
    if deployments.len() < 2 {
        return Ok((out, ids));
    }
    deployments.sort_by(|a, b| {
        (&a.environment, a.finished_at, &a.id).cmp(&(&b.environment, b.finished_at, &b.id))
    });
    for environment in deployments.chunk_by(|a, b| a.environment == b.environment) {
        let sorted: Vec<crate::ingest::rollbacks::Deployed<'_>> = environment
            .iter()
            .map(|d| crate::ingest::rollbacks::Deployed {
                id: &d.id,
                sha: &d.sha,
                finished_at: crate::base::time::Timestamp::from_micros(d.finished_at),
            })
            .collect();
        let found = crate::ingest::rollbacks::detect(&sorted, |a, b| {
            Ok::<_, std::convert::Infallible>(is_strict_ancestor(graph, a, b))
        })
        .unwrap_or_else(|never| match never {});
        for rollback in found {
            ids.insert(rollback.id.clone());
            rollback.push(&mut out);
        }
    }
    Ok((out, ids))
}

/// `root cause: <sha>` and `deployment: <id>` lines of an incident body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BodyLinks {
    pub sha: Option<String>,
    pub deployment: Option<String>,
}

pub fn body_links(body: &str) -> BodyLinks {
    static ROOT_CAUSE: OnceLock<Regex> = OnceLock::new();
    static DEPLOYMENT: OnceLock<Regex> = OnceLock::new();
    let root = ROOT_CAUSE.get_or_init(|| {
        Regex::new(r"(?im)^[\s>*_-]*root[ _-]?cause\s*:?\**\s*:?\s*`?([0-9a-f]{7,40})\b")
            .expect("valid")
    });
    let deployment = DEPLOYMENT.get_or_init(|| {
        Regex::new(r"(?im)^[\s>*_-]*deployment\s*:?\**\s*:?\s*`?([A-Za-z0-9_./@#:-]+?)`?\s*$")
            .expect("valid")
    });
    BodyLinks {
        sha: root.captures(body).map(|c| c[1].to_ascii_lowercase()),
        deployment: deployment.captures(body).map(|c| c[1].to_string()),
    }
}

/// A severity-looking label (`sev1`, `SEV-2`, `severity::high`, `P1`).
pub fn severity_label<'s>(labels: impl IntoIterator<Item = &'s str>) -> Option<&'s str> {
    static SEVERITY: OnceLock<Regex> = OnceLock::new();
    let re = SEVERITY.get_or_init(|| Regex::new(r"(?i)^(sev|severity|p[0-4]$)").expect("valid"));
    labels.into_iter().find(|l| re.is_match(l))
}

/// RFC 3339 (UTC, seconds) for API parameters.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Bot accounts do not count as reviewers (CI comments would make every
/// change look reviewed at once).
pub fn is_bot(login: &str, kind: Option<&str>) -> bool {
    kind == Some("Bot") || login.ends_with("[bot]") || login.ends_with("-bot")
}

/// Checks a repository name before any request: `owner/repo` on GitHub,
/// `group/[subgroup/]project` on GitLab.
pub fn check_repo_name(forge: &str, repo: &str) -> Result<()> {
    let parts: Vec<&str> = repo.split('/').collect();
    let github = forge == "github";
    if parts.len() >= 2 && parts.iter().all(|p| !p.is_empty()) && (!github || parts.len() == 2) {
        return Ok(());
    }
    Err(Error::usage(
        "REPO",
        if github {
            format!("`{repo}` is not owner/repo (e.g. rust-lang/cargo)")
        } else {
            format!("`{repo}` is not a project path (group/project, e.g. gitlab-org/gitlab)")
        },
    ))
}

/// `max` of two optional marks.
pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
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

/// `<url>; rel="next"` from a Link header.
pub fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// A finished deployment of this repository (shared by both forges'
/// deployments and releases).
#[allow(clippy::too_many_arguments)]
pub fn push_deployment(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    id: &str,
    environment: &str,
    sha: &str,
    status: &str,
    started_at: Option<i64>,
    finished_at: i64,
) {
    crate::store::rows::DeploymentRow {
        id: id.to_string(),
        repo: sync.repo.clone(),
        service: sync.service.clone(),
        environment: environment.to_string(),
        sha: sha.to_string(),
        status: status.to_string(),
        started_at: started_at.map(crate::base::time::Timestamp::from_micros),
        finished_at: crate::base::time::Timestamp::from_micros(finished_at),
    }
    .push(out);
}

/// A published release as a successful production deployment of its commit.
pub fn push_release(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    tag: &str,
    sha: &str,
    published: i64,
) {
    let id = format!("{}/releases/{tag}", sync.repo);
    push_deployment(
        out,
        sync,
        &id,
        "production",
        sha,
        "success",
        None,
        published,
    );
}

/// Pushes an incident row (shared column order for both forges). Returns
/// the explicit deployment link, if the body has one, for
/// [`RepoSync::warn_unknown_deployments`].
#[allow(clippy::too_many_arguments)]
pub fn push_incident(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    number: i64,
    title: Option<&str>,
    severity: Option<&str>,
    created_at: i64,
    resolved_at: Option<i64>,
    body: Option<&str>,
    deployment_prefix: &str,
) -> Option<(String, String)> {
    let id = format!("{}#{number}", sync.repo);
    let links = body.map(body_links).unwrap_or_default();
    let sha = links.sha.map(|s| sync.resolve_sha(&s));
    let deployment = links.deployment.map(|d| {
        let number = d.trim_start_matches('#');
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            format!("{deployment_prefix}{number}")
        } else {
            d
        }
    });
    crate::store::rows::IncidentRow {
        id: id.clone(),
        service: Some(sync.service.clone()),
        title: title.map(str::to_string),
        severity: severity.map(str::to_string),
        created_at: crate::base::time::Timestamp::from_micros(created_at),
        resolved_at: resolved_at.map(crate::base::time::Timestamp::from_micros),
        deployment_id: deployment.clone(),
        sha,
    }
    .push(out);
    deployment.map(|d| (id, d))
}

/// The batch a buffer would write, for tests and benchmarks.
pub fn rows(buffer: &mut TableBuffer) -> Result<RecordBatch> {
    buffer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_bodies_link_by_line() {
        let body = "Checkout is down.\n\nRoot cause: 0a1b2c3d\ndeployment: 4242\n";
        assert_eq!(
            body_links(body),
            BodyLinks {
                sha: Some("0a1b2c3d".into()),
                deployment: Some("4242".into())
            }
        );
        let markdown = "**Root cause:** `ABCDEF1234567`\n> deployment: acme/api/deployments/7";
        let links = body_links(markdown);
        assert_eq!(links.sha.as_deref(), Some("abcdef1234567"));
        assert_eq!(links.deployment.as_deref(), Some("acme/api/deployments/7"));
        // Mentions in running text are not links.
        assert_eq!(
            body_links("we think the root cause was 0a1b2c3d"),
            BodyLinks::default()
        );
    }

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            next_link(Some(link)).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        assert_eq!(next_link(Some(r#"<https://x/?page=1>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
    }

    #[test]
    fn ancestry_is_strict() {
        let mut g = HashMap::new();
        g.insert("c".to_string(), vec!["b".to_string()]);
        g.insert("b".to_string(), vec!["a".to_string(), "x".to_string()]);
        assert!(is_strict_ancestor(&g, "a", "c"));
        assert!(is_strict_ancestor(&g, "x", "c"));
        assert!(!is_strict_ancestor(&g, "c", "c"));
        assert!(!is_strict_ancestor(&g, "c", "a"));
    }

    #[test]
    fn severity_labels() {
        assert_eq!(severity_label(["bug", "SEV-2"]), Some("SEV-2"));
        assert_eq!(severity_label(["p1"]), Some("p1"));
        assert_eq!(severity_label(["prod", "perf"]), None);
    }
}
