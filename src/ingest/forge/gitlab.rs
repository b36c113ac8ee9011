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

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use gitlab::api::{self, ApiError, AsyncClient, Pagination, RestClient};
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::base::time::parse_rfc3339;
use crate::error::{Error, Result};
use crate::ingest::client::http::{Http, Notify, RetryPolicy};
use crate::ingest::forge::{self, Forge, ForgeOptions, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

pub const DEFAULT_API: &str = "https://gitlab.com";
pub const TOKEN_ENV: &str = "GITLAB_TOKEN";
const DETAIL_CONCURRENCY: usize = 4;

#[derive(Deserialize)]
struct Project {
    default_branch: Option<String>,
    web_url: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    id: String,
    #[serde(default)]
    parent_ids: Vec<String>,
    author_name: Option<String>,
    authored_date: String,
    committed_date: Option<String>,
    title: Option<String>,
}

/// A merge request's first commit and first review times, and its commits
/// when it was merged.
type MrDetail = (Option<i64>, Option<i64>, Vec<Commit>);

#[derive(Deserialize)]
struct UserRef {
    username: String,
    #[serde(default)]
    bot: bool,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: i64,
    title: Option<String>,
    author: Option<UserRef>,
    created_at: String,
    updated_at: String,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
    squash_commit_sha: Option<String>,
    sha: Option<String>,
    target_branch: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Deserialize)]
struct Note {
    author: Option<UserRef>,
    created_at: String,
    #[serde(default)]
    system: bool,
}

/// The environment embedded in a deployment (GitLab's `EnvironmentBasic`:
/// id, name, slug, external_url, created_at, updated_at; no tier).
#[derive(Deserialize)]
struct EnvironmentBasic {
    name: String,
}

/// An entry of `GET /projects/:id/environments`, where the tier is.
#[derive(Deserialize)]
struct Environment {
    name: String,
    tier: Option<String>,
}

/// The job that ran a deployment (`deployable`, absent for deployments
/// created through the API).
#[derive(Deserialize)]
struct Deployable {
    #[serde(default)]
    id: Option<u64>,
    finished_at: Option<String>,
}

/// The fields of a pipeline job doralens reads (`GET /projects/:id/jobs`).
#[derive(Deserialize)]
struct Job {
    id: u64,
    name: String,
    status: String,
    #[serde(rename = "ref", default)]
    git_ref: Option<String>,
    created_at: String,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    finished_at: Option<String>,
    #[serde(default)]
    commit: Option<JobCommit>,
}

#[derive(Deserialize)]
struct JobCommit {
    id: String,
}

#[derive(Deserialize)]
struct Deployment {
    iid: i64,
    sha: String,
    created_at: String,
    updated_at: String,
    /// Not in GitLab's documented entity; read when a version sends it.
    finished_at: Option<String>,
    status: String,
    environment: EnvironmentBasic,
    deployable: Option<Deployable>,
}

#[derive(Deserialize)]
struct Issue {
    iid: i64,
    title: Option<String>,
    description: Option<String>,
    created_at: String,
    closed_at: Option<String>,
    updated_at: String,
    severity: Option<String>,
    /// `issue`, `incident`, `test_case`, `task`.
    issue_type: Option<String>,
}

#[derive(Deserialize)]
struct ReleaseCommit {
    id: String,
}

#[derive(Deserialize)]
struct Release {
    tag_name: String,
    released_at: Option<String>,
    commit: Option<ReleaseCommit>,
    #[serde(default)]
    upcoming_release: bool,
}

/// A failure of our transport, carried through the gitlab crate's
/// `ApiError` and unwrapped again in [`api_error`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transport(Box<Error>);

type Hyper = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct GitLab {
    /// `<api url>/api/v4/`
    base: url::Url,
    api: String,
    /// Never printed: GitLab has no Debug here and messages carry paths only.
    token: Option<String>,
    client: Hyper,
    http: Arc<Http>,
}

/// The client the gitlab crate's endpoints run on, for one repository
/// (so messages name it).
struct ProjectClient<'a> {
    gitlab: &'a GitLab,
    repo: &'a str,
}

impl RestClient for ProjectClient<'_> {
    type Error = Transport;

    fn rest_endpoint(&self, endpoint: &str) -> Result<url::Url, ApiError<Self::Error>> {
        self.gitlab.base.join(endpoint).map_err(|e| {
            ApiError::client(Transport(Box::new(Error::usage(
                "--api-url",
                e.to_string(),
            ))))
        })
    }
}

#[async_trait]
impl AsyncClient for ProjectClient<'_> {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        let gitlab = self.gitlab;
        let (parts, ()) = request
            .body(())
            .map_err(|e| ApiError::client(Transport(Box::new(self.error(e)))))?
            .into_parts();
        let what = parts
            .uri
            .to_string()
            .strip_prefix(&gitlab.api)
            .map(str::to_string)
            .unwrap_or_else(|| parts.uri.path().to_string());
        let body = Bytes::from(body);
        let fetched = gitlab
            .http
            .send(self.repo, &what, || {
                let mut request = http::Request::from_parts(parts.clone(), Full::new(body.clone()));
                if let Some(token) = &gitlab.token
                    && let Ok(value) = http::HeaderValue::from_str(token)
                {
                    let mut value = value;
                    value.set_sensitive(true);
                    request.headers_mut().insert("PRIVATE-TOKEN", value);
                }
                let sent = gitlab.client.request(request);
                async move {
                    let response = sent.await.map_err(|e| format!("request failed ({e})"))?;
                    crate::ingest::client::http::fetched(response).await
                }
            })
            .await
            .map_err(|e| ApiError::client(Transport(Box::new(e))))?;
        let mut response = http::Response::builder().status(fetched.status);
        if let Some(headers) = response.headers_mut() {
            *headers = fetched.headers;
        }
        response
            .body(fetched.body)
            .map_err(|e| ApiError::client(Transport(Box::new(self.error(e)))))
    }
}

impl ProjectClient<'_> {
    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Forge {
            forge: "gitlab",
            repo: self.repo.to_string(),
            message: e.to_string(),
        }
    }
}

fn api_error(repo: &str, what: &str, e: ApiError<Transport>) -> Error {
    match e {
        ApiError::Client { source } => *source.0,
        other => Error::Forge {
            forge: "gitlab",
            repo: repo.to_string(),
            message: format!("{what}: {other}"),
        },
    }
}

fn shape(repo: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Forge {
        forge: "gitlab",
        repo: repo.to_string(),
        message: format!("{what}: the answer does not have the expected shape: {e}"),
    }
}

fn time(repo: &str, what: &str, s: &str) -> Result<i64> {
    parse_rfc3339(s).ok_or_else(|| shape(repo, what, format!("`{s}` is not an RFC 3339 time")))
}

fn opt_time(repo: &str, what: &str, s: Option<&str>) -> Result<Option<i64>> {
    s.map(|s| time(repo, what, s)).transpose()
}

fn since(mark: Option<i64>) -> Option<DateTime<Utc>> {
    // One second back: `updated_after` is strict and times are truncated.
    mark.and_then(|m| DateTime::from_timestamp_micros(m - crate::base::time::MICROS_PER_SECOND))
}

fn push_commit(out: &mut TableBuffer, repo: &str, c: &Commit) -> Result<i64> {
    let authored = time(repo, "authored_date", &c.authored_date)?;
    let committed = opt_time(repo, "committed_date", c.committed_date.as_deref())?;
    crate::store::rows::CommitRow {
        repo,
        sha: &c.id,
        parents: &c.parent_ids,
        author: c.author_name.as_deref(),
        authored_at: crate::base::time::Timestamp::from_micros(authored),
        committed_at: committed.map(crate::base::time::Timestamp::from_micros),
        message: c.title.as_deref(),
    }
    .push(out);
    Ok(committed.unwrap_or(authored))
}

/// One page of `GET /projects/:id/repository/commits` into `commits` rows;
/// returns the newest commit time. (Public for the conversion benchmark.)
pub fn commits_page(repo: &str, body: &[u8], out: &mut TableBuffer) -> Result<Option<i64>> {
    let page: Vec<Commit> = serde_json::from_slice(body).map_err(|e| shape(repo, "commits", e))?;
    let mut newest = None;
    for c in &page {
        newest = later(newest, Some(push_commit(out, repo, c)?));
    }
    Ok(newest)
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
        let commits_paged = api::paged(commits_ep, Pagination::All);
        let notes_paged = api::paged(notes_ep, Pagination::All);
        let (commits, notes) = futures_util::join!(
            Self::all::<_, Commit>(&client, &commits_paged).collect::<Vec<_>>(),
            Self::all::<_, Note>(&client, &notes_paged).collect::<Vec<_>>(),
        );
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
        Ok((first_commit, first_review, commits))
    }
}

/// The deployments list is paginated like every list, but this version of
/// the gitlab crate does not mark its endpoint `Pageable`.
struct PagedDeployments<'a>(api::projects::deployments::Deployments<'a>);

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
        let mut newest = None;
        for (mr, detail) in mrs.iter().zip(details) {
            let (first_commit, first_review, mr_commits) = detail?;
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
        sync.write(
            "changes",
            vec![&mut commits, &mut changes, &mut members],
            |c| c.changes = later(c.changes, newest),
        )
    }

    /// Finished pipeline jobs whose name matches `--deploy-workflow`, on
    /// the default branch, that made no deployment of their own (a job
    /// without `environment:`): deployments `<repo>/jobs/<id>`. Jobs come
    /// newest first; the list is read back to a week before the newest job
    /// seen last time (a job created earlier that finished since is seen).
    async fn ci_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
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
            );
        }
        sync.write("pipeline jobs", vec![&mut buffer], |c| {
            c.workflow_runs = later(c.workflow_runs, newest)
        })
    }

    async fn deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
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
            );
            if buffer.len().is_multiple_of(100) {
                sync.progress(format!("deployments: {} read", buffer.len()));
            }
        }
        sync.write("deployments", vec![&mut buffer], |c| {
            c.deployments = later(c.deployments, newest);
            c.production_environments = Some(tiers);
        })
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
}
