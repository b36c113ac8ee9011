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

use serde::de::DeserializeOwned;

use crate::base::time::parse_rfc3339;
use crate::error::{Error, Result};
use crate::ingest::client::http::{Fetched, GraphQlErrors, Http, Notify, RetryPolicy, fetched};
use crate::ingest::forge::{self, Forge, ForgeOptions, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

mod actions;
mod governance;
mod graphql;
mod rest;

pub use actions::{
    CiDeployment, RUNS_PER_SEARCH, SeenRun, WorkflowRun, run_status, workflow_runs_page,
};
use graphql::*;
use rest::*;
pub use rest::{User, commits_page, pulls_page};

pub const DEFAULT_API: &str = "https://api.github.com";
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";

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

    async fn changes(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        self.sync_changes(sync).await
    }

    async fn deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        self.sync_deployments(sync).await
    }

    async fn ci_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        self.sync_workflow_runs(sync).await
    }
}
