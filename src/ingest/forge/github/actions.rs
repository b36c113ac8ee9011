//! GitHub Actions workflow runs as deployments (`--deploy-workflow`): the
//! listing, walked in `created` ranges under its 1,000-run cap.

use serde::Deserialize;

use super::governance::push_approvals;
use super::*;
use crate::base::time::parse_rfc3339;
use crate::error::{Error, Result};
use crate::ingest::forge::{self, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

/// `GET /repos/{owner}/{repo}/actions/runs`: `{total_count, workflow_runs}`.
#[derive(Deserialize)]
pub(super) struct WorkflowRuns {
    #[serde(default)]
    pub(super) total_count: Option<u64>,
    pub(super) workflow_runs: Vec<WorkflowRun>,
}

/// The most runs one filtered listing of `actions/runs` reaches: "This API
/// will return up to 1,000 results for each search when using the
/// following parameters: actor, branch, check_suite_id, created, event,
/// head_sha, status" (REST reference, "List workflow runs for a
/// repository"). Paging past it answers nothing; `total_count` still says
/// how many there are.
pub const RUNS_PER_SEARCH: u64 = 1000;

/// The first `created` a full read of workflow runs asks for: GitHub
/// Actions opened (in beta) in October 2018; no run is older.
pub(super) const ACTIONS_BEGAN: &str = "2018-10-01T00:00:00Z";

/// The fields of a workflow run doralens reads.
#[derive(Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub run_started_at: Option<String>,
    /// Who started this attempt of the run (REST reference, "List workflow
    /// runs for a repository"); `actor` started the first one.
    #[serde(default)]
    pub triggering_actor: Option<User>,
    #[serde(default)]
    pub actor: Option<User>,
}

/// A run of a deploying workflow on the default branch, as read.
pub struct SeenRun {
    pub created: i64,
    /// Not completed yet.
    pub running: bool,
    /// The deployment it made, when completed with an outcome.
    pub deployment: Option<CiDeployment>,
}

/// A deployment made by a CI run or job.
pub struct CiDeployment {
    pub id: String,
    /// The workflow run's id, to read its approvals.
    pub run_id: u64,
    /// Who triggered it.
    pub triggered_by: Option<String>,
    pub sha: String,
    pub status: &'static str,
    pub started: Option<i64>,
    pub finished: i64,
}

/// One page of `GET /repos/{repo}/actions/runs`: the runs of workflows
/// whose name matches `pattern` on `branch`. (Public for the conversion
/// benchmark.)
pub fn workflow_runs_page(
    repo: &str,
    body: &[u8],
    pattern: &regex::Regex,
    branch: &str,
) -> Result<Vec<SeenRun>, String> {
    runs_page(repo, body, pattern, branch).map(|p| p.runs)
}

/// A page of workflow runs: the deploying ones, how many runs the page
/// listed, and the `total_count` of the search.
pub(super) struct RunsPage {
    pub(super) runs: Vec<SeenRun>,
    pub(super) listed: u64,
    pub(super) total: Option<u64>,
}

pub(super) fn runs_page(
    repo: &str,
    body: &[u8],
    pattern: &regex::Regex,
    branch: &str,
) -> Result<RunsPage, String> {
    let page: WorkflowRuns = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for run in &page.workflow_runs {
        if !run.name.as_deref().is_some_and(|n| pattern.is_match(n))
            || run.head_branch.as_deref() != Some(branch)
        {
            continue;
        }
        let created = time("created_at", &run.created_at)?;
        let running = run.status.as_deref() != Some("completed");
        let deployment = match run_status(run.conclusion.as_deref()) {
            Some(status) if !running => Some(CiDeployment {
                id: format!("{repo}/actions/runs/{}", run.id),
                run_id: run.id,
                triggered_by: run
                    .triggering_actor
                    .as_ref()
                    .or(run.actor.as_ref())
                    .map(|u| u.login.clone()),
                sha: run.head_sha.clone(),
                status,
                started: opt_time("run_started_at", run.run_started_at.as_deref())?,
                finished: time("updated_at", &run.updated_at)?,
            }),
            _ => None,
        };
        out.push(SeenRun {
            created,
            running,
            deployment,
        });
    }
    Ok(RunsPage {
        runs: out,
        listed: page.workflow_runs.len() as u64,
        total: page.total_count,
    })
}

/// A completed run's deployment status: success, failure (also timed
/// out), cancelled, error (a run that could not start); None for runs that
/// deployed nothing (skipped, neutral, waiting for approval, stale).
pub fn run_status(conclusion: Option<&str>) -> Option<&'static str> {
    match conclusion? {
        "success" => Some("success"),
        "failure" | "timed_out" => Some("failure"),
        "cancelled" => Some("cancelled"),
        "startup_failure" => Some("error"),
        _ => None,
    }
}

impl GitHub {
    /// Completed runs of the deploying workflows on the default branch
    /// (README "GitHub Actions deployments"). The next run lists runs
    /// created since the oldest one still running (of the last week), else
    /// since the newest one seen.
    pub(super) async fn sync_workflow_runs(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let Some(pattern) = sync.options().deploy_workflow.clone() else {
            return Ok(());
        };
        let branch = match sync.cursor.default_branch.clone() {
            Some(b) => b,
            None => {
                let info: Repository = self.get_json(&repo, &format!("/repos/{repo}")).await?;
                sync.cursor.default_branch = Some(info.default_branch.clone());
                info.default_branch
            }
        };
        let environment = {
            let name = sync.options().workflow_environment.clone();
            sync.options().environment(&name, false)
        };
        let now = crate::base::time::Timestamp::now().micros();
        let recent = now - forge::COMMIT_OVERLAP.micros();
        // Every filtered listing stops at RUNS_PER_SEARCH runs: the window
        // (since the cursor, else since Actions began, to a day ahead of
        // this clock) is read in `created` ranges that each hold fewer,
        // halving a range whose `total_count` reaches the cap.
        let second = 1_000_000;
        let from = sync
            .cursor
            .workflow_runs
            .unwrap_or_else(|| parse_rfc3339(ACTIONS_BEGAN).expect("a valid RFC 3339 time"));
        let mut ranges = vec![(from / second * second, now + 86_400 * second)];
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut approvals = TableBuffer::new(Table::DeploymentApprovals);
        let governance = sync.options().governance;
        let (mut newest, mut oldest_running): (Option<i64>, Option<i64>) = (None, None);
        let mut searches = 0usize;
        while let Some((lo, hi)) = ranges.pop() {
            let range = format!("{}..{}", forge::format_time(lo), forge::format_time(hi));
            let path = format!(
                "/repos/{repo}/actions/runs?branch={}&per_page=100&created={}",
                urlencode(&branch),
                urlencode(&range)
            );
            searches += 1;
            let mut pages = self.pages(&repo, "workflow runs", &path);
            let mut listed = 0u64;
            let mut total = None;
            let mut found = Vec::new();
            while let Some(body) = pages.next_body().await? {
                let page = runs_page(&repo, &body, &pattern, &branch)
                    .map_err(|e| Self::shape_error(&repo, "workflow runs", e))?;
                let total = *total.get_or_insert(page.total.unwrap_or(0));
                if total >= RUNS_PER_SEARCH {
                    break;
                }
                listed += page.listed;
                found.extend(page.runs);
            }
            let total = total.unwrap_or(0);
            if total >= RUNS_PER_SEARCH {
                if hi - lo < 2 * second {
                    return Err(Error::Forge {
                        forge: "github",
                        repo: repo.clone(),
                        message: format!(
                            "workflow runs: {total} runs were created on {range}, more than the \
                             {RUNS_PER_SEARCH} one listing of GitHub's API returns, and the \
                             range cannot be split further; the runs past the cap cannot be read"
                        ),
                    });
                }
                let mid = lo + (hi - lo) / 2 / second * second;
                // Inclusive bounds: [lo, mid] and [mid + 1 s, hi]; the
                // older half is read first.
                ranges.push((mid + second, hi));
                ranges.push((lo, mid));
                continue;
            }
            if listed < total {
                return Err(Error::Forge {
                    forge: "github",
                    repo: repo.clone(),
                    message: format!(
                        "workflow runs: GitHub said {total} runs were created on {range} but \
                         its pages listed {listed}; nothing from this listing is stored: sync \
                         again"
                    ),
                });
            }
            for run in found {
                newest = later(newest, Some(run.created));
                let mut run_deployment = None;
                match run.deployment {
                    None if run.running && run.created >= recent => {
                        oldest_running =
                            Some(oldest_running.map_or(run.created, |o| o.min(run.created)));
                    }
                    None => {}
                    Some(d) => {
                        forge::push_deployment(
                            &mut buffer,
                            sync,
                            &d.id,
                            &environment,
                            &d.sha,
                            d.status,
                            d.started,
                            d.finished,
                            d.triggered_by.as_deref(),
                        );
                        run_deployment = Some(d);
                    }
                }
                if let Some(d) = run_deployment
                    && governance
                {
                    let items = self.run_approvals(&repo, d.run_id).await?;
                    push_approvals(&mut approvals, &d.id, &items);
                }
            }
            sync.progress(format!(
                "workflow runs: {} deployments ({searches} date ranges)",
                buffer.len()
            ));
        }
        let mark = oldest_running.or(newest);
        sync.write("workflow runs", vec![&mut buffer, &mut approvals], |c| {
            c.workflow_runs = match oldest_running {
                Some(_) => mark,
                None => later(c.workflow_runs, mark),
            }
        })
    }
}
