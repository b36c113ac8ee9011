//! GitHub (`doralens ingest github owner/repo`), through octocrab with the
//! token from `GITHUB_TOKEN`. `--api-url` points at GitHub Enterprise
//! (`https://ghe.example.com/api/v3`).
//!
//! What is read (REST v3, `per_page=100`, Link-header pagination):
//! - `GET /repos/{repo}`: the default branch;
//! - `GET /repos/{repo}/commits?sha=<default branch>&since=`: commits;
//! - `GET /repos/{repo}/pulls?state=all&sort=updated&direction=desc`, read
//!   until a change older than the cursor; per change its commits (first
//!   commit time; merged changes also add their commits), reviews and
//!   comments (first review: the earliest review or comment by someone
//!   other than the author and not a bot). `merge_commit_sha` is the merge
//!   or squash commit;
//! - `GET /repos/{repo}/deployments` (newest first) and each one's
//!   statuses: the newest of success/failure/error is its outcome
//!   (`inactive` only means a later deployment replaced it); deployments
//!   still pending are skipped and read again next time;
//! - with `--releases-as-deployments`, published releases (not drafts or
//!   prereleases) are production deployments of their tag's commit;
//! - `GET /repos/{repo}/issues?labels=<incident label>&state=all&since=`:
//!   incidents (pull requests excluded);
//! - with `--deploy-workflow`, `GET /repos/{repo}/actions/runs?branch=&created=A..B`
//!   in date ranges under the listing's 1,000-run cap ([`RUNS_PER_SEARCH`]).
//!
//! Pull requests come from GraphQL (one query per page with their commits,
//! reviews and comments); its rate limit, partial answers and timeouts are
//! handled by [`crate::ingest::client::http`] and [`GitHub::graphql_answer`]. README "Where
//! the APIs cap, truncate or rate-limit" lists every cap and its handling.
//!
//! The JSON is read into small structs holding only these fields, so a
//! field GitHub adds or drops elsewhere cannot break ingestion.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::base::time::parse_rfc3339;
use crate::error::{Error, Result};
use crate::ingest::client::http::{Fetched, GraphQlErrors, Http, Notify, RetryPolicy, fetched};
use crate::ingest::forge::{self, Forge, ForgeOptions, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::rows::{ChangeCommitRow, ChangeRow, CommitRow};
use crate::store::schema::Table;

pub const DEFAULT_API: &str = "https://api.github.com";
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";

#[derive(Deserialize)]
struct Repository {
    default_branch: String,
    html_url: Option<String>,
}

/// `GET /repos/{owner}/{repo}/actions/runs`: `{total_count, workflow_runs}`.
#[derive(Deserialize)]
struct WorkflowRuns {
    #[serde(default)]
    total_count: Option<u64>,
    workflow_runs: Vec<WorkflowRun>,
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
const ACTIONS_BEGAN: &str = "2018-10-01T00:00:00Z";

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
struct RunsPage {
    runs: Vec<SeenRun>,
    listed: u64,
    total: Option<u64>,
}

fn runs_page(
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

#[derive(Deserialize)]
pub struct User {
    pub login: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct Signature {
    name: Option<String>,
    date: Option<String>,
}

#[derive(Deserialize)]
struct CommitDetail {
    author: Option<Signature>,
    committer: Option<Signature>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Commit {
    sha: String,
    commit: CommitDetail,
    author: Option<User>,
    #[serde(default)]
    parents: Vec<Sha>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct BaseRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct Pull {
    number: i64,
    title: Option<String>,
    user: Option<User>,
    created_at: String,
    updated_at: String,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
    base: Option<BaseRef>,
    #[serde(default)]
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct Review {
    user: Option<User>,
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    user: Option<User>,
    created_at: String,
}

#[derive(Deserialize)]
struct Deployment {
    id: i64,
    /// The GraphQL id, to read its statuses in bulk.
    node_id: Option<String>,
    sha: String,
    environment: String,
    #[serde(default)]
    production_environment: Option<bool>,
    created_at: String,
}

#[derive(Deserialize)]
struct DeploymentStatus {
    state: String,
    created_at: String,
}

#[derive(Deserialize)]
struct Release {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<String>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    commit: Sha,
}

#[derive(Deserialize)]
struct Issue {
    number: i64,
    title: Option<String>,
    created_at: String,
    closed_at: Option<String>,
    updated_at: String,
    body: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    pull_request: Option<serde::de::IgnoredAny>,
}

fn time(what: &str, s: &str) -> Result<i64, String> {
    parse_rfc3339(s).ok_or_else(|| format!("{what}: `{s}` is not an RFC 3339 time"))
}

fn opt_time(what: &str, s: Option<&str>) -> Result<Option<i64>, String> {
    s.map(|s| time(what, s)).transpose()
}

fn push_commit(out: &mut TableBuffer, repo: &str, c: &Commit) -> Result<i64, String> {
    let authored = c
        .commit
        .author
        .as_ref()
        .and_then(|a| a.date.as_deref())
        .ok_or_else(|| format!("commit {}: no author date", c.sha))?;
    let authored = time("commit.author.date", authored)?;
    let committed = opt_time(
        "commit.committer.date",
        c.commit.committer.as_ref().and_then(|s| s.date.as_deref()),
    )?;
    let parents: Vec<String> = c.parents.iter().map(|p| p.sha.clone()).collect();
    let author = c
        .author
        .as_ref()
        .map(|u| u.login.as_str())
        .or_else(|| c.commit.author.as_ref().and_then(|a| a.name.as_deref()));
    let first_line = c.commit.message.lines().next().unwrap_or("");
    CommitRow {
        repo,
        sha: &c.sha,
        parents: &parents,
        author,
        authored_at: crate::base::time::Timestamp::from_micros(authored),
        committed_at: committed.map(crate::base::time::Timestamp::from_micros),
        message: Some(first_line),
    }
    .push(out);
    Ok(committed.unwrap_or(authored))
}

/// One page of `GET /repos/{repo}/commits` into `commits` rows; returns the
/// newest commit time on the page. (Public for the conversion benchmark.)
pub fn commits_page(repo: &str, body: &[u8], out: &mut TableBuffer) -> Result<Option<i64>, String> {
    let page: Vec<Commit> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut newest = None;
    for c in &page {
        newest = later(newest, Some(push_commit(out, repo, c)?));
    }
    Ok(newest)
}

/// What a change needs from its detail requests.
#[derive(Default)]
struct ChangeDetail {
    first_commit_at: Option<i64>,
    first_review_at: Option<i64>,
}

/// One page of `GET /repos/{repo}/pulls` into `changes` rows (details
/// empty). Returns (number, updated_at, merged) per pull. (Public for the
/// conversion benchmark.)
pub fn pulls_page(
    repo: &str,
    body: &[u8],
    out: &mut TableBuffer,
) -> Result<Vec<(i64, i64, bool)>, String> {
    let pulls: Vec<Pull> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut seen = Vec::with_capacity(pulls.len());
    for p in &pulls {
        push_pull(out, repo, p, &ChangeDetail::default())?;
        seen.push((
            p.number,
            time("updated_at", &p.updated_at)?,
            p.merged_at.is_some(),
        ));
    }
    Ok(seen)
}

fn push_pull(out: &mut TableBuffer, repo: &str, p: &Pull, d: &ChangeDetail) -> Result<(), String> {
    let labels: Vec<String> = p.labels.iter().map(|l| l.name.clone()).collect();
    let merged = opt_time("merged_at", p.merged_at.as_deref())?;
    ChangeRow {
        repo,
        number: p.number,
        title: p.title.as_deref(),
        author: p.user.as_ref().map(|u| u.login.as_str()),
        created_at: crate::base::time::Timestamp::from_micros(time("created_at", &p.created_at)?),
        first_commit_at: d
            .first_commit_at
            .map(crate::base::time::Timestamp::from_micros),
        first_review_at: d
            .first_review_at
            .map(crate::base::time::Timestamp::from_micros),
        merged_at: merged.map(crate::base::time::Timestamp::from_micros),
        // GitHub fills merge_commit_sha with a test merge while open.
        merge_sha: if merged.is_some() {
            p.merge_commit_sha.as_deref()
        } else {
            None
        },
        base_branch: p.base.as_ref().map(|b| b.name.as_str()),
        labels: &labels,
    }
    .push(out);
    Ok(())
}

// GraphQL (https://docs.github.com/en/graphql/reference): pull requests with
// their commits, reviews, comments and labels, 50 to a request, and the
// statuses of a page of deployments in one request. REST stays where
// GraphQL lacks the data (a deployment's `production_environment`).

/// The most commits `GET /repos/{o}/{r}/pulls/{n}/commits` lists, over
/// all its pages.
const PULL_COMMITS_CAP: usize = 250;

/// Pull requests asked for in one answer; halved (down to 1) while GitHub
/// answers that the query timed out or hit a resource limit.
const PULLS_PAGE: usize = 50;

/// The pull requests of a repository, most recently updated first.
const PULLS_QUERY: &str = "query PullRequests($owner: String!, $name: String!, $cursor: String, $first: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title createdAt updatedAt mergedAt baseRefName
        author { login __typename }
        mergeCommit { oid }
        labels(first: 100) { nodes { name } }
        commits(first: 100) {
          totalCount
          nodes { commit { oid message authoredDate committedDate
                           author { name user { login } }
                           parents(first: 5) { totalCount nodes { oid } } } }
        }
        reviews(first: 100) { pageInfo { hasNextPage endCursor } nodes { author { login __typename } submittedAt } }
        comments(first: 100) { pageInfo { hasNextPage endCursor } nodes { author { login __typename } createdAt } }
      }
    }
  }
}";

/// The statuses of up to 100 deployments, by GraphQL id.
const STATUSES_QUERY: &str = "query DeploymentStatuses($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Deployment { databaseId statuses(first: 100) { nodes { state createdAt } } }
  }
}";

/// A GraphQL answer's data, or the server's word that the query was too
/// big to answer in time (ask for a smaller page).
enum Gql<T> {
    Data(T),
    TooBig(String),
}

#[derive(Deserialize)]
struct GqlAnswer<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GqlError>,
}

#[derive(Deserialize)]
struct GqlError {
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    #[serde(default)]
    total_count: Option<usize>,
    page_info: Option<PageInfo>,
    #[serde(default = "Vec::new")]
    nodes: Vec<T>,
}

impl<T> Connection<T> {
    /// True when the connection has more nodes than this answer holds.
    fn truncated(&self) -> bool {
        self.page_info.as_ref().is_some_and(|p| p.has_next_page)
            || self.total_count.is_some_and(|n| n > self.nodes.len())
    }
}

#[derive(Deserialize)]
struct Actor {
    login: String,
    #[serde(rename = "__typename")]
    typename: Option<String>,
}

impl Actor {
    fn user(&self) -> User {
        User {
            login: self.login.clone(),
            kind: self.typename.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Oid {
    oid: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct GitActor {
    name: Option<String>,
    user: Option<Login>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlCommit {
    oid: String,
    #[serde(default)]
    message: String,
    authored_date: Option<String>,
    committed_date: Option<String>,
    author: Option<GitActor>,
    parents: Connection<Oid>,
}

#[derive(Deserialize)]
struct GqlPullCommit {
    commit: GqlCommit,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlReview {
    author: Option<Actor>,
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlComment {
    author: Option<Actor>,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlPull {
    number: i64,
    title: Option<String>,
    created_at: String,
    updated_at: String,
    merged_at: Option<String>,
    base_ref_name: Option<String>,
    author: Option<Actor>,
    merge_commit: Option<Oid>,
    labels: Connection<Label>,
    commits: Connection<GqlPullCommit>,
    reviews: Connection<GqlReview>,
    comments: Connection<GqlComment>,
}

impl GqlPull {
    /// The REST shapes the rest of this file maps (one mapping for both).
    fn into_rest(self) -> (Pull, Vec<Commit>, Vec<Review>, Vec<Comment>) {
        let pull = Pull {
            number: self.number,
            title: self.title,
            user: self.author.as_ref().map(Actor::user),
            created_at: self.created_at,
            updated_at: self.updated_at,
            merged_at: self.merged_at,
            merge_commit_sha: self.merge_commit.map(|m| m.oid),
            base: self.base_ref_name.map(|name| BaseRef { name }),
            labels: self.labels.nodes,
        };
        let commits = self
            .commits
            .nodes
            .into_iter()
            .map(|c| {
                let c = c.commit;
                let name = c.author.as_ref().and_then(|a| a.name.clone());
                Commit {
                    sha: c.oid,
                    commit: CommitDetail {
                        author: Some(Signature {
                            name: name.clone(),
                            date: c.authored_date,
                        }),
                        committer: Some(Signature {
                            name: None,
                            date: c.committed_date,
                        }),
                        message: c.message,
                    },
                    author: c.author.and_then(|a| a.user).map(|u| User {
                        login: u.login,
                        kind: None,
                    }),
                    parents: c
                        .parents
                        .nodes
                        .into_iter()
                        .map(|p| Sha { sha: p.oid })
                        .collect(),
                }
            })
            .collect();
        let reviews = self
            .reviews
            .nodes
            .into_iter()
            .map(|r| Review {
                user: r.author.as_ref().map(Actor::user),
                submitted_at: r.submitted_at,
            })
            .collect();
        let comments = self
            .comments
            .nodes
            .into_iter()
            .map(|c| Comment {
                user: c.author.as_ref().map(Actor::user),
                created_at: c.created_at,
            })
            .collect();
        (pull, commits, reviews, comments)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullsData {
    repository: Option<PullsRepository>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullsRepository {
    pull_requests: Connection<GqlPull>,
}

#[derive(Deserialize)]
struct StatusesData {
    #[serde(default)]
    nodes: Vec<Option<GqlDeployment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlDeployment {
    database_id: Option<i64>,
    statuses: Option<Connection<GqlStatus>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlStatus {
    state: String,
    created_at: String,
}

pub struct GitHub {
    api: String,
    /// `https://api.github.com/graphql`; a GitHub Enterprise Server's
    /// `https://host/api/graphql` beside its `https://host/api/v3`.
    graphql: String,
    client: octocrab::Octocrab,
    /// octocrab joins its base path to every request, so GraphQL (outside
    /// a GitHub Enterprise Server's `/api/v3`) has a client of its own,
    /// based at the GraphQL endpoint's parent.
    graphql_client: octocrab::Octocrab,
    http: Http,
}

impl GitHub {
    /// The token comes from `GITHUB_TOKEN`; without one only public
    /// repositories can be read, at 60 requests an hour.
    pub fn new(options: &ForgeOptions, notify: Notify) -> Result<Self> {
        let api = options
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_API)
            .trim_end_matches('/')
            .to_string();
        let bad_url = |e: &dyn std::fmt::Display| {
            Error::usage(
                "--api-url",
                format!("`{api}` is not a usable URL ({e}); e.g. https://ghe.example.com/api/v3"),
            )
        };
        url::Url::parse(&api).map_err(|e| bad_url(&e))?;
        let graphql = match api.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{api}/graphql"),
        };
        let token = crate::ingest::client::http::token_from_env("github", TOKEN_ENV)?;
        if token.is_none() {
            notify(&format!(
                "warning: {TOKEN_ENV} is not set: only public repositories can be read, \
                 and GitHub allows 60 unauthenticated requests an hour"
            ));
        }
        let build = |base: &str| -> Result<octocrab::Octocrab> {
            let mut builder = octocrab::OctocrabBuilder::new()
                .base_uri(base)
                .map_err(|e| bad_url(&e))?;
            if let Some(token) = &token {
                builder = builder.personal_token(token.clone());
            }
            builder.build().map_err(|e| Error::Forge {
                forge: "github",
                repo: String::new(),
                message: format!("cannot create the HTTP client: {e}"),
            })
        };
        let client = build(&api)?;
        let graphql_client = build(graphql.trim_end_matches("/graphql"))?;
        Ok(GitHub {
            api,
            graphql,
            client,
            graphql_client,
            http: Http::new("github", TOKEN_ENV, RetryPolicy::default(), notify),
        })
    }

    async fn get(&self, repo: &str, url: &str) -> Result<Fetched> {
        let what = url.strip_prefix(&self.api).unwrap_or(url);
        self.http
            .send(repo, what, || async {
                let response = self
                    .client
                    ._get(url)
                    .await
                    .map_err(|e| format!("request failed ({e})"))?;
                fetched(response).await
            })
            .await
    }

    /// A GraphQL query through the same retry and rate-limit policy; an
    /// answer with `errors` is an error naming the first.
    async fn graphql<T: DeserializeOwned>(
        &self,
        repo: &str,
        what: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T> {
        match self.graphql_answer(repo, what, query, variables).await? {
            Gql::Data(data) => Ok(data),
            Gql::TooBig(message) => Err(self.gql_error(repo, what, &message)),
        }
    }

    /// [`GitHub::graphql`], except that a timeout or resource-limit error
    /// comes back as [`Gql::TooBig`] for the caller to ask for less.
    async fn graphql_answer<T: DeserializeOwned>(
        &self,
        repo: &str,
        what: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<Gql<T>> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let fetched = self
            .http
            .send_graphql(repo, what, || async {
                let response = self
                    .graphql_client
                    ._post(self.graphql.as_str(), Some(&body))
                    .await
                    .map_err(|e| format!("request failed ({e})"))?;
                fetched(response).await
            })
            .await?;
        if let Some(message) = GraphQlErrors::of(&fetched.body).too_big {
            return Ok(Gql::TooBig(message));
        }
        let answer: GqlAnswer<T> =
            serde_json::from_slice(&fetched.body).map_err(|e| Self::shape_error(repo, what, e))?;
        if let Some(e) = answer.errors.first() {
            return Err(self.gql_error(repo, what, &e.message));
        }
        answer
            .data
            .map(Gql::Data)
            .ok_or_else(|| Self::shape_error(repo, what, "no `data` in the answer"))
    }

    fn gql_error(&self, repo: &str, what: &str, message: &str) -> Error {
        Error::Forge {
            forge: "github",
            repo: repo.to_string(),
            message: format!(
                "{what}: {}",
                crate::ingest::client::http::redact_secrets(message, TOKEN_ENV)
            ),
        }
    }

    /// The statuses of a page of deployments: one GraphQL request for all
    /// of them, REST for any it did not answer.
    async fn deployment_statuses(
        &self,
        repo: &str,
        page: &[(Deployment, i64)],
    ) -> Result<HashMap<i64, Vec<DeploymentStatus>>> {
        let mut out: HashMap<i64, Vec<DeploymentStatus>> = HashMap::new();
        let ids: Vec<&str> = page
            .iter()
            .filter_map(|(d, _)| d.node_id.as_deref())
            .collect();
        if !ids.is_empty() {
            let data: StatusesData = self
                .graphql(
                    repo,
                    "deployment statuses",
                    STATUSES_QUERY,
                    serde_json::json!({ "ids": ids }),
                )
                .await?;
            for node in data.nodes.into_iter().flatten() {
                let (Some(id), Some(statuses)) = (node.database_id, node.statuses) else {
                    continue;
                };
                if statuses.truncated() {
                    continue; // read with REST below
                }
                let list = statuses
                    .nodes
                    .into_iter()
                    .map(|s| DeploymentStatus {
                        state: s.state.to_ascii_lowercase(),
                        created_at: s.created_at,
                    })
                    .collect();
                out.insert(id, list);
            }
        }
        for (d, _) in page {
            if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(d.id) {
                let path = format!("/repos/{repo}/deployments/{}/statuses?per_page=100", d.id);
                slot.insert(self.all(repo, "deployment statuses", &path).await?);
            }
        }
        Ok(out)
    }

    fn shape_error(repo: &str, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Forge {
            forge: "github",
            repo: repo.to_string(),
            message: format!("{what}: the answer does not have the expected shape: {e}"),
        }
    }

    /// The pages of the list at `path` (under the API root).
    fn pages(&self, repo: &str, what: &'static str, path: &str) -> Pages<'_> {
        Pages {
            github: self,
            repo: repo.to_string(),
            what,
            next: Some(format!("{}{path}", self.api)),
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, repo: &str, path: &str) -> Result<T> {
        let url = format!("{}{path}", self.api);
        let fetched = self.get(repo, &url).await?;
        serde_json::from_slice(&fetched.body).map_err(|e| Self::shape_error(repo, path, e))
    }

    /// First commit and first review times of a change, and its commits
    /// when it was merged, read with REST (three requests: for a change the
    /// GraphQL answer did not hold whole).
    async fn change_detail(&self, repo: &str, pull: &Pull) -> Result<(ChangeDetail, Vec<Commit>)> {
        let n = pull.number;
        let commits_path = format!("/repos/{repo}/pulls/{n}/commits?per_page=100");
        let reviews_path = format!("/repos/{repo}/pulls/{n}/reviews?per_page=100");
        let comments_path = format!("/repos/{repo}/issues/{n}/comments?per_page=100");
        let (pr_commits, reviews, comments) = futures_util::try_join!(
            self.all::<Commit>(repo, "pull request commits", &commits_path),
            self.all::<Review>(repo, "pull request reviews", &reviews_path),
            self.all::<Comment>(repo, "pull request comments", &comments_path),
        )?;
        if pr_commits.len() >= PULL_COMMITS_CAP {
            // The list stops at 250 commits (REST reference, "List commits
            // on a pull request"): the change's first commit time may be
            // later than the real one. Said, never silent.
            self.http.notify(&format!(
                "warning: github {repo}: pull request #{n} has {PULL_COMMITS_CAP} or more commits; \
                 GitHub lists only the first {PULL_COMMITS_CAP}, so its later commits are not \
                 linked to it (they are still read from the branch)"
            ));
        }
        Ok(change_detail_of(pull, pr_commits, &reviews, &comments))
    }

    /// Every page of the list at `path`, in order.
    async fn all<T: DeserializeOwned>(
        &self,
        repo: &str,
        what: &'static str,
        path: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut pages = self.pages(repo, what, path);
        while let Some(page) = pages.next::<T>().await? {
            out.extend(page);
        }
        Ok(out)
    }
}

/// A change's first commit and first review (the earliest review or
/// comment by someone other than its author, bots excluded), and its
/// commits when it was merged.
fn change_detail_of(
    pull: &Pull,
    pr_commits: Vec<Commit>,
    reviews: &[Review],
    comments: &[Comment],
) -> (ChangeDetail, Vec<Commit>) {
    let author = pull.user.as_ref().map(|u| u.login.as_str());
    let mut detail = ChangeDetail::default();
    for c in &pr_commits {
        let authored = c.commit.author.as_ref().and_then(|a| a.date.as_deref());
        if let Some(t) = authored.and_then(parse_rfc3339) {
            detail.first_commit_at = Some(detail.first_commit_at.map_or(t, |f: i64| f.min(t)));
        }
    }
    let others = |user: &Option<User>| {
        user.as_ref().is_some_and(|u| {
            Some(u.login.as_str()) != author && !forge::is_bot(&u.login, u.kind.as_deref())
        })
    };
    let review_times = reviews
        .iter()
        .filter(|r| others(&r.user))
        .filter_map(|r| r.submitted_at.as_deref().and_then(parse_rfc3339));
    let comment_times = comments
        .iter()
        .filter(|c| others(&c.user))
        .filter_map(|c| parse_rfc3339(&c.created_at));
    detail.first_review_at = review_times.chain(comment_times).min();
    let commits = if pull.merged_at.is_some() {
        pr_commits
    } else {
        Vec::new()
    };
    (detail, commits)
}

/// The pages of a list, following `Link: <…>; rel="next"` to the end.
struct Pages<'g> {
    github: &'g GitHub,
    repo: String,
    what: &'static str,
    next: Option<String>,
}

impl Pages<'_> {
    /// The next page's body, or None after the last page.
    async fn next_body(&mut self) -> Result<Option<bytes::Bytes>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let fetched = self.github.get(&self.repo, &url).await?;
        self.next = forge::next_link(fetched.header("link"));
        Ok(Some(fetched.body))
    }

    /// The next page, parsed.
    async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Vec<T>>> {
        match self.next_body().await? {
            Some(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| GitHub::shape_error(&self.repo, self.what, e)),
            None => Ok(None),
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Forge for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn default_branch(&self, sync: &mut RepoSync<'_>) -> Result<String> {
        if sync.knows_repository() {
            return Ok(String::new());
        }
        let repo = &sync.repo;
        let info: Repository = self.get_json(repo, &format!("/repos/{repo}")).await?;
        sync.cursor.default_branch = Some(info.default_branch.clone());
        sync.cursor.links = info.html_url.map(|web| crate::store::links::WebLinks {
            repo: repo.clone(),
            commit: format!("{web}/commit/{{sha}}"),
            change: format!("{web}/pull/{{number}}"),
        });
        Ok(info.default_branch)
    }

    async fn commits(&self, sync: &mut RepoSync<'_>, branch: &str) -> Result<()> {
        let repo = sync.repo.clone();
        let since = sync
            .cursor
            .commits
            .map(|c| {
                format!(
                    "&since={}",
                    forge::format_time(c - forge::COMMIT_OVERLAP.micros())
                )
            })
            .unwrap_or_default();
        // No `sha`: the default branch.
        let sha = if branch.is_empty() {
            String::new()
        } else {
            format!("sha={}&", urlencode(branch))
        };
        let path = format!("/repos/{repo}/commits?{sha}per_page=100{since}");
        let mut buffer = TableBuffer::new(Table::Commits);
        let mut newest = None;
        let mut count = 0usize;
        let mut pages = self.pages(&repo, "commits", &path);
        while let Some(body) = pages.next_body().await? {
            newest = later(
                newest,
                commits_page(&repo, &body, &mut buffer)
                    .map_err(|e| Self::shape_error(&repo, "commits", e))?,
            );
            count += 1;
            sync.progress(format!("commits: {} read ({count} pages)", buffer.len()));
        }
        sync.write("commits", vec![&mut buffer], |c| {
            c.commits = later(c.commits, newest)
        })
    }

    async fn commits_from(&self, sync: &mut RepoSync<'_>, sha: &str) -> Result<()> {
        let repo = sync.repo.clone();
        let path = format!("/repos/{repo}/commits?sha={sha}&per_page=100");
        let mut buffer = TableBuffer::new(Table::Commits);
        let mut pages = self.pages(&repo, "commits", &path);
        if let Some(body) = pages.next_body().await? {
            commits_page(&repo, &body, &mut buffer)
                .map_err(|e| Self::shape_error(&repo, "commits", e))?;
        }
        sync.write("history", vec![&mut buffer], |_| {})
    }

    async fn changes(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let since = sync.cursor.changes;
        let mut changes = TableBuffer::new(Table::Changes);
        let mut commits = TableBuffer::new(Table::Commits);
        let mut members = TableBuffer::new(Table::ChangeCommits);
        let mut newest = None;
        let (owner, name) = repo.split_once('/').unwrap_or((repo.as_str(), ""));
        let mut after: Option<String> = None;
        let mut first = PULLS_PAGE;
        loop {
            let answer = self
                .graphql_answer(
                    &repo,
                    "pull requests",
                    PULLS_QUERY,
                    serde_json::json!({ "owner": owner, "name": name, "cursor": after, "first": first }),
                )
                .await?;
            let data: PullsData = match answer {
                Gql::Data(data) => data,
                Gql::TooBig(message) if first > 1 => {
                    first = (first / 2).max(1);
                    self.http.notify(&format!(
                        "github {repo} pull requests: GitHub could not answer in time \
                         ({message}); asking for {first} at a time"
                    ));
                    continue;
                }
                Gql::TooBig(message) => {
                    return Err(self.gql_error(
                        &repo,
                        "pull requests (even one at a time)",
                        &message,
                    ));
                }
            };
            let connection = data
                .repository
                .ok_or_else(|| Error::Forge {
                    forge: "github",
                    repo: repo.clone(),
                    message: "pull requests: the repository was not found; check the name and \
                              that the token can read it"
                        .into(),
                })?
                .pull_requests;
            let next = connection
                .page_info
                .as_ref()
                .filter(|p| p.has_next_page)
                .and_then(|p| p.end_cursor.clone());
            let mut older_seen = false;
            let mut fresh = Vec::new();
            for node in connection.nodes {
                let updated = time("updated_at", &node.updated_at)
                    .map_err(|e| Self::shape_error(&repo, "pull requests", e))?;
                if since.is_some_and(|s| updated < s) {
                    older_seen = true;
                    break;
                }
                newest = later(newest, Some(updated));
                // An octopus merge with more parents than asked for is
                // read with REST too.
                let whole = !(node.commits.truncated()
                    || node.reviews.truncated()
                    || node.comments.truncated()
                    || node
                        .commits
                        .nodes
                        .iter()
                        .any(|c| c.commit.parents.truncated()));
                let (pull, pr_commits, reviews, comments) = node.into_rest();
                let detail =
                    whole.then(|| change_detail_of(&pull, pr_commits, &reviews, &comments));
                fresh.push((pull, detail));
            }
            for (pull, detail) in fresh {
                // A change with more commits, reviews or comments than one
                // answer holds is read whole with REST.
                let (detail, pull_commits) = match detail {
                    Some(d) => d,
                    None => self.change_detail(&repo, &pull).await?,
                };
                push_pull(&mut changes, &repo, &pull, &detail)
                    .map_err(|e| Self::shape_error(&repo, "pulls", e))?;
                for c in &pull_commits {
                    push_commit(&mut commits, &repo, c)
                        .map_err(|e| Self::shape_error(&repo, "pull commits", e))?;
                    ChangeCommitRow {
                        repo: &repo,
                        number: pull.number,
                        sha: &c.sha,
                    }
                    .push(&mut members);
                }
            }
            sync.progress(format!("changes: {} read", changes.len()));
            match next {
                Some(cursor) if !older_seen => after = Some(cursor),
                _ => break,
            }
        }
        sync.write(
            "changes",
            vec![&mut commits, &mut changes, &mut members],
            |c| c.changes = later(c.changes, newest),
        )
    }

    async fn deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        // A status can be added after a success (a later `failure`), which
        // moves no date the list is sorted by: the newest page (the last
        // hundred deployments) is read again every run, whatever the
        // cursor; its statuses come in one request.
        let since = sync.cursor.deployments;
        let mut first_page = true;
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut newest: Option<i64> = None;
        let mut oldest_pending: Option<i64> = None;
        let recent = crate::base::time::Timestamp::now().micros() - forge::COMMIT_OVERLAP.micros();
        let path = format!("/repos/{repo}/deployments?per_page=100");
        let mut pages = self.pages(&repo, "deployments", &path);
        while let Some(page) = pages.next::<Deployment>().await? {
            let mut older_seen = false;
            let mut fresh = Vec::new();
            for d in page {
                let created = time("created_at", &d.created_at)
                    .map_err(|e| Self::shape_error(&repo, "deployments", e))?;
                if since.is_some_and(|s| created < s) {
                    older_seen = true;
                    if !first_page {
                        break;
                    }
                }
                newest = later(newest, Some(created));
                fresh.push((d, created));
            }
            first_page = false;
            let mut statuses = self.deployment_statuses(&repo, &fresh).await?;
            for (d, created) in &fresh {
                let statuses = statuses.remove(&d.id).unwrap_or_default();
                // The newest success, failure or error; `inactive` follows
                // a success when a later deployment replaced this one.
                let outcome = statuses
                    .iter()
                    .filter(|s| matches!(s.state.as_str(), "success" | "failure" | "error"))
                    .max_by_key(|s| parse_rfc3339(&s.created_at));
                let Some(outcome) = outcome else {
                    if *created >= recent {
                        oldest_pending = Some(oldest_pending.map_or(*created, |o| o.min(*created)));
                    }
                    continue;
                };
                let finished = time("statuses.created_at", &outcome.created_at)
                    .map_err(|e| Self::shape_error(&repo, "deployment statuses", e))?;
                let id = format!("{repo}/deployments/{}", d.id);
                let environment = sync
                    .options()
                    .environment(&d.environment, d.production_environment == Some(true));
                forge::push_deployment(
                    &mut buffer,
                    sync,
                    &id,
                    &environment,
                    &d.sha,
                    &outcome.state,
                    Some(*created),
                    finished,
                );
            }
            sync.progress(format!("deployments: {} read", buffer.len()));
            if older_seen {
                break;
            }
        }
        // Next time start at the oldest deployment still running (so its
        // outcome is read), else at the newest one seen.
        let mark = oldest_pending.or(newest);
        sync.write("deployments", vec![&mut buffer], |c| {
            c.deployments = match oldest_pending {
                Some(_) => mark,
                None => later(c.deployments, mark),
            }
        })
    }

    /// Completed runs of the deploying workflows on the default branch
    /// (README "GitHub Actions deployments"). The next run lists runs
    /// created since the oldest one still running (of the last week), else
    /// since the newest one seen.
    async fn ci_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
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
                match run.deployment {
                    None if run.running && run.created >= recent => {
                        oldest_running =
                            Some(oldest_running.map_or(run.created, |o| o.min(run.created)));
                    }
                    None => {}
                    Some(d) => forge::push_deployment(
                        &mut buffer,
                        sync,
                        &d.id,
                        &environment,
                        &d.sha,
                        d.status,
                        d.started,
                        d.finished,
                    ),
                }
            }
            sync.progress(format!(
                "workflow runs: {} deployments ({searches} date ranges)",
                buffer.len()
            ));
        }
        let mark = oldest_running.or(newest);
        sync.write("workflow runs", vec![&mut buffer], |c| {
            c.workflow_runs = match oldest_running {
                Some(_) => mark,
                None => later(c.workflow_runs, mark),
            }
        })
    }

    async fn releases(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let mut tags: HashMap<String, String> = HashMap::new();
        let mut pages = self.pages(&repo, "tags", &format!("/repos/{repo}/tags?per_page=100"));
        while let Some(page) = pages.next::<Tag>().await? {
            tags.extend(page.into_iter().map(|t| (t.name, t.commit.sha)));
        }
        // Every release is stored as it is now, on every run: promoting a
        // prerelease or moving a tag changes no date a cursor could see
        // (`published_at` stays), and the list is read to its end anyway.
        let mut buffer = TableBuffer::new(Table::Deployments);
        let mut newest = None;
        let path = format!("/repos/{repo}/releases?per_page=100");
        let mut pages = self.pages(&repo, "releases", &path);
        while let Some(page) = pages.next::<Release>().await? {
            for r in page.iter().filter(|r| !r.draft && !r.prerelease) {
                let Some(published) = r.published_at.as_deref().and_then(parse_rfc3339) else {
                    continue;
                };
                // A release whose tag is gone deploys nothing we can name.
                let Some(sha) = tags.get(&r.tag_name) else {
                    continue;
                };
                newest = later(newest, Some(published));
                forge::push_release(&mut buffer, sync, &r.tag_name, sha, published);
            }
        }
        sync.write("releases", vec![&mut buffer], |c| {
            c.releases = later(c.releases, newest)
        })
    }

    async fn incidents(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let wanted = sync.options().incident_label.clone();
        let label = urlencode(&wanted);
        let mut buffer = TableBuffer::new(Table::Incidents);
        let mut newest = None;
        // A full read lists the labelled issues; an incremental one lists
        // every issue updated since (one request when nothing changed), so
        // an issue whose label was removed is seen and its incident goes.
        let path = match sync.cursor.incidents {
            None => format!(
                "/repos/{repo}/issues?labels={label}&state=all&sort=updated&direction=asc&per_page=100"
            ),
            Some(c) => format!(
                "/repos/{repo}/issues?state=all&sort=updated&direction=asc&per_page=100&since={}",
                forge::format_time(c)
            ),
        };
        let prefix = format!("{repo}/deployments/");
        let mut links: Vec<(String, String)> = Vec::new();
        let mut listed: Vec<String> = Vec::new();
        let mut unlabelled: Vec<String> = Vec::new();
        let mut pages = self.pages(&repo, "issues", &path);
        while let Some(page) = pages.next::<Issue>().await? {
            for issue in page.iter().filter(|i| i.pull_request.is_none()) {
                let id = format!("{repo}#{}", issue.number);
                newest = later(newest, parse_rfc3339(&issue.updated_at));
                if !issue
                    .labels
                    .iter()
                    .any(|l| l.name.eq_ignore_ascii_case(&wanted))
                {
                    unlabelled.push(id);
                    continue;
                }
                listed.push(id);
                let shape = |e| Self::shape_error(&repo, "issues", e);
                let created = time("created_at", &issue.created_at).map_err(shape)?;
                let closed = opt_time("closed_at", issue.closed_at.as_deref()).map_err(shape)?;
                let severity = forge::severity_label(issue.labels.iter().map(|l| l.name.as_str()));
                links.extend(forge::push_incident(
                    &mut buffer,
                    sync,
                    issue.number,
                    issue.title.as_deref(),
                    severity,
                    created,
                    closed,
                    issue.body.as_deref(),
                    &prefix,
                ));
            }
            sync.progress(format!("incidents: {} read", buffer.len()));
        }
        match sync.cursor.incidents {
            Some(_) => sync.delete_incidents(&unlabelled)?,
            None => sync.delete_incidents_not_listed(&listed)?,
        }
        sync.warn_unknown_deployments(&links)?;
        sync.write("incidents", vec![&mut buffer], |c| {
            c.incidents = later(c.incidents, newest)
        })
    }
}
