//! GitLab (`doralens ingest gitlab group/project`): the `gitlab` crate's
//! endpoint builders and pagination, over our own client (hyper + rustls)
//! so every request goes through the shared retry and rate-limit policy of
//! [`crate::ingest::client::http`]. The token comes from `GITLAB_TOKEN` (sent as
//! `PRIVATE-TOKEN`); `--api-url` points at a self-hosted instance
//! (`https://gitlab.example.com`).
//!
//! What is read (REST v4, 100 per page):
//! - the project (default branch), then its commits on it (`since`);
//! - merge requests updated after the cursor, with their commits (first
//!   commit time; merged ones add their commits) and notes (first review:
//!   the earliest non-system note by someone other than the author, not a
//!   bot). The merge sha is `merge_commit_sha`, else `squash_commit_sha`,
//!   else (fast-forward) the head `sha`;
//! - deployments updated after the cursor: `success`, `failed` (failure)
//!   and `canceled` (cancelled) are stored; running ones come back when
//!   they finish (their update time moves). Production is the environment
//!   tier `production` or the name pattern;
//! - with `--releases-as-deployments`, releases (not upcoming ones) as
//!   production deployments of their commit at `released_at`;
//! - incidents: issues with `issue_type=incident`, updated after the
//!   cursor, with GitLab's severity.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use gitlab::api::{self, ApiError, Pagination};
use hyper_util::client::legacy::Client as HyperClient;

use serde::de::DeserializeOwned;

use crate::base::time::parse_rfc3339;
use crate::error::{Error, Result};
use crate::ingest::client::http::{Http, Notify, RetryPolicy};
use crate::ingest::forge::{self, Forge, ForgeOptions, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

mod deliveries;
mod governance;
mod shapes;
mod transport;

pub use shapes::commits_page;
use shapes::*;
pub use transport::Transport;
use transport::*;

pub const DEFAULT_API: &str = "https://gitlab.com";
pub const TOKEN_ENV: &str = "GITLAB_TOKEN";
const DETAIL_CONCURRENCY: usize = 4;

pub struct GitLab {
    /// `<api url>/api/v4/`
    base: url::Url,
    api: String,
    /// Never printed: GitLab has no Debug here and messages carry paths only.
    token: Option<String>,
    client: Hyper,
    http: Arc<Http>,
}

impl GitLab {
    pub fn new(options: &ForgeOptions, notify: Notify) -> Result<Self> {
        let api = options
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_API)
            .trim_end_matches('/')
            .trim_end_matches("/api/v4")
            .to_string();
        let base = url::Url::parse(&format!("{api}/api/v4/")).map_err(|e| {
            Error::usage(
                "--api-url",
                format!("`{api}` is not a usable URL ({e}); e.g. https://gitlab.example.com"),
            )
        })?;
        let token = match crate::ingest::client::http::token_from_env("gitlab", TOKEN_ENV)? {
            Some(t) => Some(t),
            None => {
                notify(&format!(
                    "warning: {TOKEN_ENV} is not set: only public projects can be read"
                ));
                None
            }
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = HyperClient::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(GitLab {
            api: format!("{api}/api/v4"),
            base,
            token,
            client,
            http: Arc::new(Http::new(
                "gitlab",
                TOKEN_ENV,
                RetryPolicy::default(),
                notify,
            )),
        })
    }

    fn all<'a, E, T>(
        client: &'a ProjectClient<'a>,
        endpoint: &'a api::Paged<E>,
    ) -> impl Stream<Item = Result<T, ApiError<Transport>>> + 'a
    where
        E: api::Pageable + api::Endpoint + Sync,
        T: DeserializeOwned + 'static,
    {
        endpoint.iter_async(client)
    }

    async fn mr_detail(&self, repo: &str, mr: &MergeRequest) -> Result<MrDetail> {
        let client = ProjectClient { gitlab: self, repo };
        let iid = mr.iid as u64;
        let commits_ep = api::projects::merge_requests::MergeRequestCommits::builder()
            .project(repo)
            .merge_request(iid)
            .build()
            .map_err(|e| shape(repo, "merge request commits", e))?;
        let notes_ep = api::projects::merge_requests::notes::MergeRequestNotes::builder()
            .project(repo)
            .merge_request(iid)
            .order_by(api::projects::merge_requests::notes::NoteOrderBy::CreatedAt)
            .sort(api::common::SortOrder::Ascending)
            .build()
            .map_err(|e| shape(repo, "merge request notes", e))?;
        let approvals_ep =
            api::projects::merge_requests::approvals::MergeRequestApprovals::builder()
                .project(repo)
                .merge_request(iid)
                .build()
                .map_err(|e| shape(repo, "merge request approvals", e))?;
        let commits_paged = api::paged(commits_ep, Pagination::All);
        let notes_paged = api::paged(notes_ep, Pagination::All);
        let (commits, notes, approvals) = futures_util::join!(
            Self::all::<_, Commit>(&client, &commits_paged).collect::<Vec<_>>(),
            Self::all::<_, Note>(&client, &notes_paged).collect::<Vec<_>>(),
            api::AsyncQuery::<MrApprovals, _>::query_async(&approvals_ep, &client),
        );
        let approvals = approvals.map_err(|e| api_error(repo, "merge request approvals", e))?;
        let mut approved = Vec::new();
        for a in &approvals.approved_by {
            match a.approved_at.as_deref().and_then(parse_rfc3339) {
                Some(at) => approved.push((a.user.reviewer(), at)),
                // Said, never silent: without a time the approval cannot
                // be placed before or after the merge.
                None => self.http.notify(&format!(
                    "warning: gitlab {repo}: merge request !{iid}: {}'s approval has no \
                     approved_at (a GitLab older than the field), so it is not stored",
                    a.user.username
                )),
            }
        }
        let commits: Vec<Commit> = commits
            .into_iter()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| api_error(repo, "merge request commits", e))?;
        let notes: Vec<Note> = notes
            .into_iter()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| api_error(repo, "merge request notes", e))?;
        let first_commit = commits
            .iter()
            .filter_map(|c| parse_rfc3339(&c.authored_date))
            .min();
        let author = mr.author.as_ref().map(|a| a.username.as_str());
        let first_review = notes
            .iter()
            .filter(|n| !n.system)
            .filter(|n| {
                n.author.as_ref().is_some_and(|a| {
                    Some(a.username.as_str()) != author
                        && !a.bot
                        && !forge::is_bot(&a.username, None)
                })
            })
            .filter_map(|n| parse_rfc3339(&n.created_at))
            .min();
        let commits = if mr.merged_at.is_some() {
            commits
        } else {
            Vec::new()
        };
        Ok((first_commit, first_review, commits, approved))
    }
}

impl GitLab {
    /// `GET /projects/:id`: its default branch and web address.
    async fn project(&self, client: &ProjectClient<'_>, repo: &str) -> Result<Project> {
        let endpoint = api::projects::Project::builder()
            .project(repo)
            .build()
            .map_err(|e| shape(repo, "project", e))?;
        api::AsyncQuery::query_async(&endpoint, client)
            .await
            .map_err(|e| api_error(repo, "project", e))
    }
}

impl Forge for GitLab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    async fn default_branch(&self, sync: &mut RepoSync<'_>) -> Result<String> {
        if sync.knows_repository() {
            return Ok(String::new());
        }
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let project = self.project(&client, &repo).await?;
        sync.cursor.default_branch = project.default_branch.clone();
        sync.cursor.links = project.web_url.map(|web| crate::store::links::WebLinks {
            repo: repo.clone(),
            commit: format!("{web}/-/commit/{{sha}}"),
            change: format!("{web}/-/merge_requests/{{number}}"),
        });
        project.default_branch.ok_or_else(|| Error::Forge {
            forge: "gitlab",
            repo,
            message: "the project has no default branch (an empty repository?)".into(),
        })
    }

    async fn commits(&self, sync: &mut RepoSync<'_>, branch: &str) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let mut builder = api::projects::repository::commits::Commits::builder();
        builder.project(repo.as_str());
        if !branch.is_empty() {
            builder.ref_name(branch); // else the default branch
        }
        if let Some(s) = sync.cursor.commits {
            builder.since(since(Some(s - forge::COMMIT_OVERLAP.micros())).unwrap_or_default());
        }
        let endpoint = builder.build().map_err(|e| shape(&repo, "commits", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let mut stream = std::pin::pin!(Self::all::<_, Commit>(&client, &paged));
        let mut buffer = TableBuffer::new(Table::Commits);
        let mut newest = None;
        while let Some(c) = stream.next().await {
            let c = c.map_err(|e| api_error(&repo, "commits", e))?;
            newest = later(newest, Some(push_commit(&mut buffer, &repo, &c)?));
            if buffer.len().is_multiple_of(100) {
                sync.progress(format!("commits: {} read", buffer.len()));
            }
        }
        sync.write("commits", vec![&mut buffer], |c| {
            c.commits = later(c.commits, newest)
        })
    }

    async fn commits_from(&self, sync: &mut RepoSync<'_>, sha: &str) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let endpoint = api::projects::repository::commits::Commits::builder()
            .project(repo.as_str())
            .ref_name(sha)
            .build()
            .map_err(|e| shape(&repo, "commits", e))?;
        let paged = api::paged(endpoint, Pagination::Limit(100));
        let mut stream = std::pin::pin!(Self::all::<_, Commit>(&client, &paged));
        let mut buffer = TableBuffer::new(Table::Commits);
        while let Some(c) = stream.next().await {
            let c = c.map_err(|e| api_error(&repo, "commits", e))?;
            push_commit(&mut buffer, &repo, &c)?;
        }
        sync.write("history", vec![&mut buffer], |_| {})
    }

    async fn changes(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let mut builder = api::projects::merge_requests::MergeRequests::builder();
        builder
            .project(repo.as_str())
            .order_by(api::merge_requests::MergeRequestOrderBy::UpdatedAt)
            .sort(api::common::SortOrder::Ascending);
        if let Some(after) = since(sync.cursor.changes) {
            builder.updated_after(after);
        }
        let endpoint = builder
            .build()
            .map_err(|e| shape(&repo, "merge requests", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let mut mrs: Vec<MergeRequest> = Self::all::<_, MergeRequest>(&client, &paged)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| api_error(&repo, "merge requests", e))?;
        // `updated_after` is asked a second early (it takes whole seconds);
        // a merge request not updated after the cursor (GitLab's times
        // carry milliseconds) is the state already stored: no details again.
        if let Some(cursor) = sync.cursor.changes {
            mrs.retain(|mr| parse_rfc3339(&mr.updated_at).is_none_or(|t| t > cursor));
        }
        sync.progress(format!(
            "changes: {} merge requests, reading details",
            mrs.len()
        ));
        let details: Vec<Result<MrDetail>> = futures_util::stream::iter(mrs.iter())
            .map(|mr| self.mr_detail(&repo, mr))
            .buffered(DETAIL_CONCURRENCY)
            .collect()
            .await;
        let mut changes = TableBuffer::new(Table::Changes);
        let mut commits = TableBuffer::new(Table::Commits);
        let mut members = TableBuffer::new(Table::ChangeCommits);
        let mut reviews = TableBuffer::new(Table::Reviews);
        let mut files = TableBuffer::new(Table::ChangeFiles);
        let mut newest = None;
        // Each merge request read has its approvals read whole: a stored
        // approval it no longer lists was revoked (or reset by a push).
        let mut current: Vec<(i64, Vec<(String, i64)>)> = Vec::new();
        for (mr, detail) in mrs.iter().zip(details) {
            if sync.options().governance && mr.merged_at.is_some() {
                self.push_mr_files(&mut files, &repo, mr.iid).await?;
            }
            let (first_commit, first_review, mr_commits, approvals) = detail?;
            for (reviewer, at) in &approvals {
                crate::store::rows::ReviewRow {
                    repo: &repo,
                    number: mr.iid,
                    reviewer,
                    state: "APPROVED",
                    submitted_at: crate::base::time::Timestamp::from_micros(*at),
                }
                .push(&mut reviews);
            }
            current.push((mr.iid, approvals));
            for c in &mr_commits {
                push_commit(&mut commits, &repo, c)?;
                crate::store::rows::ChangeCommitRow {
                    repo: &repo,
                    number: mr.iid,
                    sha: &c.id,
                }
                .push(&mut members);
            }
            newest = later(newest, parse_rfc3339(&mr.updated_at));
            let merged = opt_time(&repo, "merged_at", mr.merged_at.as_deref())?;
            let merge_sha = merged.and(
                mr.merge_commit_sha
                    .as_deref()
                    .or(mr.squash_commit_sha.as_deref())
                    .or(mr.sha.as_deref()),
            );
            crate::store::rows::ChangeRow {
                repo: &repo,
                number: mr.iid,
                title: mr.title.as_deref(),
                author: mr.author.as_ref().map(|a| a.username.as_str()),
                created_at: crate::base::time::Timestamp::from_micros(time(
                    &repo,
                    "created_at",
                    &mr.created_at,
                )?),
                first_commit_at: first_commit.map(crate::base::time::Timestamp::from_micros),
                first_review_at: first_review.map(crate::base::time::Timestamp::from_micros),
                merged_at: merged.map(crate::base::time::Timestamp::from_micros),
                merge_sha,
                base_branch: mr.target_branch.as_deref(),
                labels: &mr.labels,
            }
            .push(&mut changes);
        }
        sync.delete_reviews_not_listed(&current)?;
        sync.write(
            "changes",
            vec![
                &mut commits,
                &mut changes,
                &mut members,
                &mut reviews,
                &mut files,
            ],
            |c| c.changes = later(c.changes, newest),
        )
    }

    async fn releases(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let endpoint = api::projects::releases::ProjectReleases::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| shape(&repo, "releases", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let mut stream = std::pin::pin!(Self::all::<_, Release>(&client, &paged));
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut newest = None;
        // Every release as it is now, on every run (see the GitHub releases:
        // an upcoming release that comes out keeps its `released_at`).
        while let Some(r) = stream.next().await {
            let r = r.map_err(|e| api_error(&repo, "releases", e))?;
            let (Some(released), Some(commit)) = (
                r.released_at.as_deref().and_then(parse_rfc3339),
                r.commit.as_ref(),
            ) else {
                continue;
            };
            if r.upcoming_release {
                continue;
            }
            newest = later(newest, Some(released));
            forge::push_release(&mut buffer, sync, &r.tag_name, &commit.id, released);
        }
        sync.write("releases", vec![&mut buffer], |c| {
            c.releases = later(c.releases, newest)
        })
    }

    async fn incidents(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let client = ProjectClient {
            gitlab: self,
            repo: &repo,
        };
        let mut builder = api::issues::ProjectIssues::builder();
        builder
            .project(repo.as_str())
            .order_by(api::issues::IssueOrderBy::UpdatedAt)
            .sort(api::common::SortOrder::Ascending);
        // A full read lists the incidents; an incremental one every issue
        // updated since (one request when nothing changed), so an issue no
        // longer of type incident is seen and its incident goes.
        match since(sync.cursor.incidents) {
            None => {
                builder.issue_type(api::issues::IssueType::Incident);
            }
            Some(after) => {
                builder.updated_after(after);
            }
        }
        let endpoint = builder.build().map_err(|e| shape(&repo, "incidents", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let mut stream = std::pin::pin!(Self::all::<_, Issue>(&client, &paged));
        let mut buffer = TableBuffer::new(Table::Incidents);
        let mut newest = None;
        let prefix = format!("{repo}/deployments/");
        let mut links: Vec<(String, String)> = Vec::new();
        let (mut listed, mut not_incidents) = (Vec::new(), Vec::new());
        while let Some(issue) = stream.next().await {
            let issue = issue.map_err(|e| api_error(&repo, "incidents", e))?;
            newest = later(newest, parse_rfc3339(&issue.updated_at));
            let id = format!("{repo}#{}", issue.iid);
            if issue.issue_type.as_deref() != Some("incident") {
                not_incidents.push(id);
                continue;
            }
            listed.push(id);
            let created = time(&repo, "created_at", &issue.created_at)?;
            let closed = opt_time(&repo, "closed_at", issue.closed_at.as_deref())?;
            let severity = issue.severity.as_deref().filter(|s| *s != "UNKNOWN");
            links.extend(forge::push_incident(
                &mut buffer,
                sync,
                issue.iid,
                issue.title.as_deref(),
                severity,
                created,
                closed,
                issue.description.as_deref(),
                &prefix,
            ));
        }
        match sync.cursor.incidents {
            Some(_) => sync.delete_incidents(&not_incidents)?,
            None => sync.delete_incidents_not_listed(&listed)?,
        }
        sync.warn_unknown_deployments(&links)?;
        sync.write("incidents", vec![&mut buffer], |c| {
            c.incidents = later(c.incidents, newest)
        })
    }

    async fn deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        self.sync_deployments(sync).await
    }

    async fn ci_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        self.sync_pipeline_jobs(sync).await
    }
}
