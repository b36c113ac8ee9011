//! One run over the repositories (`SyncContext`: the warehouse, progress
//! bars, one writer at a time) and one repository's sync (`RepoSync`:
//! where its rows go, its cursor, its report).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::AsArray;

use super::*;
use crate::error::Result;
use crate::ingest::client::http::Notify;
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

impl RepoSync<'_> {
    /// True when the repository's web links are known from an earlier run,
    /// so an incremental run can skip asking for the repository itself.
    pub fn knows_repository(&self) -> bool {
        self.report.incremental && self.cursor.links.is_some()
    }
}

/// Shared by the repositories of one run.
pub struct SyncContext<'a> {
    pub warehouse: &'a Warehouse,
    pub options: &'a ForgeOptions,
    pub(super) bars: indicatif::MultiProgress,
    /// One writer at a time (the warehouse lock is per process handle).
    pub(super) writing: Mutex<()>,
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
    pub(super) ctx: &'a SyncContext<'a>,
    pub(super) forge: &'static str,
    pub repo: String,
    pub service: String,
    pub cursor: Cursor,
    pub(super) report: RepoReport,
    pub(super) done: Vec<&'static str>,
    pub(super) bar: indicatif::ProgressBar,
    /// This repository's stored commits, read once for incident links and
    /// rollbacks; dropped whenever commits are written.
    pub(super) commits: OnceLock<RepoCommits>,
    /// Shas of the default branch's commits this run wrote (whose
    /// ancestors must all be stored: see `fill_history`).
    pub(super) branch_commits: Vec<String>,
    /// GitLab: the jobs behind the deployments read this run, so a
    /// pipeline job that already made a deployment is not counted twice.
    pub deployment_jobs: HashSet<u64>,
}

impl<'a> RepoSync<'a> {
    pub(super) fn state_name(forge: &str, repo: &str) -> String {
        format!("{forge}-{}", crate::ingest::git::sanitise(repo))
    }

    /// One repository's sync, starting from the cursor its scope loaded
    /// (the same `_state/<forge>-<repo>.json` this sync writes).
    pub(super) fn new(
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
        let warehouse = self.provenance(resource);
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
                let batches = crate::ingest::keep_last_per_key(table, vec![batch])?;
                warehouse.upsert(table, &batches)?;
                let count = match table {
                    Table::Commits => &mut self.report.commits,
                    Table::Changes => &mut self.report.changes,
                    Table::Deployments => &mut self.report.deployments,
                    Table::Incidents => &mut self.report.incidents,
                    Table::Rollbacks => &mut self.report.rollbacks,
                    Table::Teams
                    | Table::ChangeCommits
                    | Table::Reviews
                    | Table::DeploymentApprovals
                    | Table::ChangeFiles
                    | Table::Syncs
                    | Table::Flags
                    | Table::FlagEvents
                    | Table::FlagReferences => continue,
                };
                *count += rows;
            }
            cursor(&mut self.cursor);
            warehouse.write_state(
                &Self::state_name(self.forge, &self.repo),
                &serde_json::to_value(&self.cursor).expect("cursor serialises"),
            )
        })?;
        self.done.push(resource);
        Ok(())
    }

    /// The warehouse stamped with this repository's scope
    /// (`github:acme/api`) and, as the rows' origin, the API requests made
    /// for it since its previous write (`ingest::client::requests`).
    fn provenance(&self, resource: &str) -> Warehouse {
        let origin = crate::ingest::client::requests::take(self.forge, &self.repo)
            .unwrap_or_else(|| format!("{resource}: computed from the stored rows, no request"));
        self.ctx
            .warehouse
            .in_scope(format!("{}:{}", self.forge, self.repo), Some(origin))
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
    pub(super) fn stored_ids(
        &self,
        table: Table,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>> {
        self.ctx.warehouse.ids(table, keep)
    }

    /// Deletes rows of a table keyed by one text `id`.
    pub(super) fn delete_rows(&mut self, table: Table, ids: &[String]) -> Result<usize> {
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

    /// Deletes this repository's stored reviews of the changes in `listed`
    /// that their listing no longer holds: `listed` is every change read
    /// whole this run with its (reviewer, submitted at) pairs. A GitLab
    /// approval revoked, or reset by a push, disappears from the list.
    pub fn delete_reviews_not_listed(
        &mut self,
        listed: &[(i64, Vec<(String, i64)>)],
    ) -> Result<()> {
        use datafusion::arrow::array::{AsArray, BooleanArray};
        use datafusion::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
        if listed.is_empty() {
            return Ok(());
        }
        let keep: HashSet<(i64, &str, i64)> = listed
            .iter()
            .flat_map(|(n, rs)| rs.iter().map(move |(who, at)| (*n, who.as_str(), *at)))
            .collect();
        let numbers: HashSet<i64> = listed.iter().map(|(n, _)| *n).collect();
        let _writing = self.ctx.writing.lock().expect("writer poisoned");
        let gone = tokio::task::block_in_place(|| -> Result<usize> {
            let stored =
                self.ctx
                    .warehouse
                    .read_table_where(Table::Reviews, None, "repo", &self.repo)?;
            let mut gone = 0;
            for batch in stored {
                let repo = batch.column(0).as_string::<i32>();
                let number = batch.column(1).as_primitive::<Int64Type>();
                let reviewer = batch.column(2).as_string::<i32>();
                let at = batch.column(4).as_primitive::<TimestampMicrosecondType>();
                let stale: BooleanArray = (0..batch.num_rows())
                    .map(|r| {
                        Some(
                            repo.value(r) == self.repo
                                && numbers.contains(&number.value(r))
                                && !keep.contains(&(
                                    number.value(r),
                                    reviewer.value(r),
                                    at.value(r),
                                )),
                        )
                    })
                    .collect();
                let stale = datafusion::arrow::compute::filter_record_batch(&batch, &stale)?;
                gone += self.ctx.warehouse.delete_rows_of(Table::Reviews, &stale)?;
            }
            Ok(gone)
        })?;
        if gone > 0 {
            self.progress(format!("reviews: {gone} no longer listed, removed"));
        }
        Ok(())
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
