//! GitHub GraphQL: pull requests with their commits, reviews and comments
//! in one query per page (smaller pages when GitHub times out), and the
//! statuses of a page of deployments in one request.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::error::{Error, Result};
use crate::ingest::forge::{RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::rows::{ChangeCommitRow, ReviewRow};
use crate::store::schema::Table;

// GraphQL (https://docs.github.com/en/graphql/reference): pull requests with
// their commits, reviews, comments and labels, 50 to a request, and the
// statuses of a page of deployments in one request. REST stays where
// GraphQL lacks the data (a deployment's `production_environment`).

/// The most commits `GET /repos/{o}/{r}/pulls/{n}/commits` lists, over
/// all its pages.
pub(super) const PULL_COMMITS_CAP: usize = 250;

/// Pull requests asked for in one answer; halved (down to 1) while GitHub
/// answers that the query timed out or hit a resource limit.
pub(super) const PULLS_PAGE: usize = 50;

/// The pull requests of a repository, most recently updated first.
pub(super) const PULLS_QUERY: &str = "query PullRequests($owner: String!, $name: String!, $cursor: String, $first: Int!) {
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
        reviews(first: 100) { pageInfo { hasNextPage endCursor } nodes { author { login __typename } state submittedAt } }
        comments(first: 100) { pageInfo { hasNextPage endCursor } nodes { author { login __typename } createdAt } }
      }
    }
  }
}";

/// The statuses of up to 100 deployments, by GraphQL id.
pub(super) const STATUSES_QUERY: &str = "query DeploymentStatuses($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Deployment { databaseId statuses(first: 100) { nodes { state createdAt } } }
  }
}";

/// A GraphQL answer's data, or the server's word that the query was too
/// big to answer in time (ask for a smaller page).
pub(super) enum Gql<T> {
    Data(T),
    TooBig(String),
}

#[derive(Deserialize)]
pub(super) struct GqlAnswer<T> {
    pub(super) data: Option<T>,
    #[serde(default)]
    pub(super) errors: Vec<GqlError>,
}

#[derive(Deserialize)]
pub(super) struct GqlError {
    pub(super) message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageInfo {
    pub(super) has_next_page: bool,
    pub(super) end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Connection<T> {
    #[serde(default)]
    pub(super) total_count: Option<usize>,
    pub(super) page_info: Option<PageInfo>,
    #[serde(default = "Vec::new")]
    pub(super) nodes: Vec<T>,
}

impl<T> Connection<T> {
    /// True when the connection has more nodes than this answer holds.
    pub(super) fn truncated(&self) -> bool {
        self.page_info.as_ref().is_some_and(|p| p.has_next_page)
            || self.total_count.is_some_and(|n| n > self.nodes.len())
    }
}

#[derive(Deserialize)]
pub(super) struct Actor {
    pub(super) login: String,
    #[serde(rename = "__typename")]
    pub(super) typename: Option<String>,
}

impl Actor {
    /// The REST user: a bot's login gets REST's `[bot]` suffix, which
    /// GraphQL leaves out, so one bot rule (`*[bot]`) fits both paths.
    pub(super) fn user(&self) -> User {
        let bot = self.typename.as_deref() == Some("Bot");
        User {
            login: if bot && !self.login.ends_with("[bot]") {
                format!("{}[bot]", self.login)
            } else {
                self.login.clone()
            },
            kind: self.typename.clone(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Oid {
    pub(super) oid: String,
}

#[derive(Deserialize)]
pub(super) struct Login {
    pub(super) login: String,
}

#[derive(Deserialize)]
pub(super) struct GitActor {
    pub(super) name: Option<String>,
    pub(super) user: Option<Login>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlCommit {
    pub(super) oid: String,
    #[serde(default)]
    pub(super) message: String,
    pub(super) authored_date: Option<String>,
    pub(super) committed_date: Option<String>,
    pub(super) author: Option<GitActor>,
    pub(super) parents: Connection<Oid>,
}

#[derive(Deserialize)]
pub(super) struct GqlPullCommit {
    pub(super) commit: GqlCommit,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlReview {
    pub(super) author: Option<Actor>,
    /// PENDING, COMMENTED, APPROVED, CHANGES_REQUESTED or DISMISSED
    /// (`PullRequestReviewState`).
    pub(super) state: Option<String>,
    pub(super) submitted_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlComment {
    pub(super) author: Option<Actor>,
    pub(super) created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlPull {
    pub(super) number: i64,
    pub(super) title: Option<String>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) merged_at: Option<String>,
    pub(super) base_ref_name: Option<String>,
    pub(super) author: Option<Actor>,
    pub(super) merge_commit: Option<Oid>,
    pub(super) labels: Connection<Label>,
    pub(super) commits: Connection<GqlPullCommit>,
    pub(super) reviews: Connection<GqlReview>,
    pub(super) comments: Connection<GqlComment>,
}

impl GqlPull {
    /// The REST shapes the rest of this file maps (one mapping for both).
    pub(super) fn into_rest(self) -> (Pull, Vec<Commit>, Vec<Review>, Vec<Comment>) {
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
                state: r.state,
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
pub(super) struct PullsData {
    pub(super) repository: Option<PullsRepository>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PullsRepository {
    pub(super) pull_requests: Connection<GqlPull>,
}

#[derive(Deserialize)]
pub(super) struct StatusesData {
    #[serde(default)]
    pub(super) nodes: Vec<Option<GqlDeployment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlDeployment {
    pub(super) database_id: Option<i64>,
    pub(super) statuses: Option<Connection<GqlStatus>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GqlStatus {
    pub(super) state: String,
    pub(super) created_at: String,
}

impl GitHub {
    /// A GraphQL query through the same retry and rate-limit policy; an
    /// answer with `errors` is an error naming the first.
    pub(super) async fn graphql<T: DeserializeOwned>(
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
    pub(super) async fn graphql_answer<T: DeserializeOwned>(
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

    pub(super) fn gql_error(&self, repo: &str, what: &str, message: &str) -> Error {
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
    pub(super) async fn deployment_statuses(
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

    pub(super) async fn sync_changes(&self, sync: &mut RepoSync<'_>) -> Result<()> {
        let repo = sync.repo.clone();
        let since = sync.cursor.changes;
        let mut changes = TableBuffer::new(Table::Changes);
        let mut commits = TableBuffer::new(Table::Commits);
        let mut members = TableBuffer::new(Table::ChangeCommits);
        let mut review_rows = TableBuffer::new(Table::Reviews);
        let mut files = TableBuffer::new(Table::ChangeFiles);
        let governance = sync.options().governance;
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
                for (reviewer, state, at) in &detail.reviews {
                    ReviewRow {
                        repo: &repo,
                        number: pull.number,
                        reviewer,
                        state,
                        submitted_at: crate::base::time::Timestamp::from_micros(*at),
                    }
                    .push(&mut review_rows);
                }
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
                if governance
                    && pull.merged_at.is_some()
                    && let Some(list) = self.pull_files(&repo, pull.number).await?
                {
                    super::governance::push_files(&mut files, &repo, pull.number, &list);
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
            vec![
                &mut commits,
                &mut changes,
                &mut members,
                &mut review_rows,
                &mut files,
            ],
            |c| c.changes = later(c.changes, newest),
        )
    }
}
