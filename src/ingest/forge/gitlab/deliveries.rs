//! Deployments (environments' tiers, finished deployments) and pipeline
//! jobs as deployments.

use futures_util::StreamExt;
use gitlab::api::{self, Pagination};
use std::collections::HashSet;

use crate::error::Result;
use crate::ingest::forge::{self, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

use super::*;

/// The deployments list is paginated like every list, but this version of
/// the gitlab crate does not mark its endpoint `Pageable`.
pub(super) struct PagedDeployments<'a>(api::projects::deployments::Deployments<'a>);

impl api::Endpoint for PagedDeployments<'_> {
    fn method(&self) -> http::Method {
        self.0.method()
    }

    fn endpoint(&self) -> std::borrow::Cow<'static, str> {
        self.0.endpoint()
    }

    fn parameters(&self) -> api::QueryParams<'_> {
        self.0.parameters()
    }
}

impl api::Pageable for PagedDeployments<'_> {}

impl GitLab {
    pub(super) async fn sync_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        // The deployments list embeds only the basic environment (no tier):
        // the tiers come from the project's environments, read once a sync.
        let environments = api::projects::environments::Environments::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| shape(&repo, "environments", e))?;
        let paged_environments = api::paged(environments, Pagination::All);
        let mut production_tier: HashSet<String> = HashSet::new();
        {
            let mut stream =
                std::pin::pin!(Self::all::<_, Environment>(&client, &paged_environments));
            while let Some(e) = stream.next().await {
                let e = e.map_err(|e| api_error(&repo, "environments", e))?;
                if e.tier.as_deref() == Some("production") {
                    production_tier.insert(e.name);
                }
            }
        }
        let mut tiers: Vec<String> = production_tier.iter().cloned().collect();
        tiers.sort();
        let tiers_changed = sync
            .cursor
            .production_environments
            .as_ref()
            .is_some_and(|before| *before != tiers);
        let mut builder = api::projects::deployments::Deployments::builder();
        builder
            .project(repo.as_str())
            .order_by(api::projects::deployments::DeploymentOrderBy::UpdatedAt)
            .sort(api::common::SortOrder::Ascending);
        if let Some(after) = since(sync.cursor.deployments).filter(|_| !tiers_changed) {
            builder.updated_after(after);
        }
        let endpoint = builder
            .build()
            .map_err(|e| shape(&repo, "deployments", e))?;
        let paged = api::paged(PagedDeployments(endpoint), Pagination::All);
        let mut stream = std::pin::pin!(Self::all::<_, Deployment>(&client, &paged));
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut approvals = TableBuffer::new(Table::DeploymentApprovals);
        let governance = sync.options().governance;
        let mut newest = None;
        // Only finished deployments are stored; a running one's update
        // time moves when it finishes, so the next run reads it again.
        while let Some(d) = stream.next().await {
            let d = d.map_err(|e| api_error(&repo, "deployments", e))?;
            let updated = time(&repo, "updated_at", &d.updated_at)?;
            let status = match d.status.as_str() {
                "success" => "success",
                "failed" => "failure",
                "canceled" => "cancelled",
                _ => continue,
            };
            newest = later(newest, Some(updated));
            let created = time(&repo, "created_at", &d.created_at)?;
            // When it finished: the deployment's own time where a version
            // sends one, else its job's, else its last update (a finished
            // deployment's status change is its last update).
            if let Some(job) = d.deployable.as_ref().and_then(|j| j.id) {
                sync.deployment_jobs.insert(job);
            }
            let job_finished = d.deployable.as_ref().and_then(|j| j.finished_at.as_deref());
            let finished = opt_time(
                &repo,
                "finished_at",
                d.finished_at.as_deref().or(job_finished),
            )?
            .unwrap_or(updated);
            let id = format!("{repo}/deployments/{}", d.iid);
            let environment = sync.options().environment(
                &d.environment.name,
                production_tier.contains(&d.environment.name),
            );
            forge::push_deployment(
                &mut buffer,
                sync,
                &id,
                &environment,
                &d.sha,
                status,
                Some(created),
                finished,
                d.user.as_ref().map(|u| u.username.as_str()),
            );
            if governance && sync.options().production.regex.is_match(&environment) {
                let list = self.deployment_approvals(&repo, d.id).await?;
                governance::push_approvals(&mut approvals, &repo, &id, created, &list)?;
            }
            if buffer.len().is_multiple_of(100) {
                sync.progress(format!("deployments: {} read", buffer.len()));
            }
        }
        sync.write("deployments", vec![&mut buffer, &mut approvals], |c| {
            c.deployments = later(c.deployments, newest);
            c.production_environments = Some(tiers);
        })
    }

    /// Finished pipeline jobs whose name matches `--deploy-workflow`, on
    /// the default branch, that made no deployment of their own (a job
    /// without `environment:`): deployments `<repo>/jobs/<id>`. Jobs come
    /// newest first; the list is read back to a week before the newest job
    /// seen last time (a job created earlier that finished since is seen).
    pub(super) async fn sync_pipeline_jobs(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let Some(pattern) = sync.options().deploy_workflow.clone() else {
            return Ok(());
        };
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let branch = match sync.cursor.default_branch.clone() {
            Some(b) => b,
            None => {
                let project = self.project(&client, &repo).await?;
                sync.cursor.default_branch = project.default_branch.clone();
                project.default_branch.unwrap_or_else(|| "main".into())
            }
        };
        let environment = {
            let name = sync.options().workflow_environment.clone();
            sync.options().environment(&name, false)
        };
        let endpoint = api::projects::jobs::Jobs::builder()
            .project(repo.as_str())
            .scopes(
                [
                    api::projects::jobs::JobScope::Success,
                    api::projects::jobs::JobScope::Failed,
                    api::projects::jobs::JobScope::Canceled,
                ]
                .into_iter(),
            )
            .build()
            .map_err(|e| shape(&repo, "jobs", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let mut stream = std::pin::pin!(Self::all::<_, Job>(&client, &paged));
        let stop_before = sync
            .cursor
            .workflow_runs
            .map(|c| c - forge::COMMIT_OVERLAP.micros());
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut newest = None;
        while let Some(job) = stream.next().await {
            let job = job.map_err(|e| api_error(&repo, "jobs", e))?;
            let created = time(&repo, "created_at", &job.created_at)?;
            if stop_before.is_some_and(|s| created < s) {
                break;
            }
            newest = later(newest, Some(created));
            if !pattern.is_match(&job.name)
                || job.git_ref.as_deref() != Some(branch.as_str())
                || sync.deployment_jobs.contains(&job.id)
            {
                continue;
            }
            let status = match job.status.as_str() {
                "success" => "success",
                "failed" => "failure",
                "canceled" => "cancelled",
                _ => continue,
            };
            let Some(finished) = opt_time(&repo, "finished_at", job.finished_at.as_deref())? else {
                continue;
            };
            let Some(sha) = job.commit.as_ref().map(|c| c.id.clone()) else {
                continue;
            };
            let started = opt_time(&repo, "started_at", job.started_at.as_deref())?;
            forge::push_deployment(
                &mut buffer,
                sync,
                &format!("{repo}/jobs/{}", job.id),
                &environment,
                &sha,
                status,
                started,
                finished,
                None,
            );
        }
        sync.write("pipeline jobs", vec![&mut buffer], |c| {
            c.workflow_runs = later(c.workflow_runs, newest)
        })
    }
}
