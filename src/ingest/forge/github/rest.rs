//! GitHub REST v3: the shapes doralens reads, their mapping to rows, the
//! pages of a list, a large pull request read whole, and deployments with
//! their statuses.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::base::time::parse_rfc3339;
use crate::error::Result;
use crate::ingest::forge::{self, RepoSync, later};
use crate::store::buffer::TableBuffer;
use crate::store::rows::{ChangeRow, CommitRow};
use crate::store::schema::{REVIEW_STATES, Table};

#[derive(Deserialize)]
pub(super) struct Repository {
    pub(super) default_branch: String,
    pub(super) html_url: Option<String>,
}

#[derive(Deserialize)]
pub struct User {
    pub login: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Sha {
    pub(super) sha: String,
}

#[derive(Deserialize)]
pub(super) struct Signature {
    pub(super) name: Option<String>,
    pub(super) date: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CommitDetail {
    pub(super) author: Option<Signature>,
    pub(super) committer: Option<Signature>,
    #[serde(default)]
    pub(super) message: String,
}

#[derive(Deserialize)]
pub(super) struct Commit {
    pub(super) sha: String,
    pub(super) commit: CommitDetail,
    pub(super) author: Option<User>,
    #[serde(default)]
    pub(super) parents: Vec<Sha>,
}

#[derive(Deserialize)]
pub(super) struct Label {
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct BaseRef {
    #[serde(rename = "ref")]
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Pull {
    pub(super) number: i64,
    pub(super) title: Option<String>,
    pub(super) user: Option<User>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) merged_at: Option<String>,
    pub(super) merge_commit_sha: Option<String>,
    pub(super) base: Option<BaseRef>,
    #[serde(default)]
    pub(super) labels: Vec<Label>,
}

#[derive(Deserialize)]
pub(super) struct Review {
    pub(super) user: Option<User>,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
    pub(super) state: Option<String>,
    pub(super) submitted_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Comment {
    pub(super) user: Option<User>,
    pub(super) created_at: String,
}

#[derive(Deserialize)]
pub(super) struct Deployment {
    pub(super) id: i64,
    /// The GraphQL id, to read its statuses in bulk.
    pub(super) node_id: Option<String>,
    pub(super) sha: String,
    pub(super) environment: String,
    #[serde(default)]
    pub(super) production_environment: Option<bool>,
    pub(super) created_at: String,
    /// Who created the deployment (REST reference, "Get a deployment").
    #[serde(default)]
    pub(super) creator: Option<User>,
}

#[derive(Deserialize)]
pub(super) struct DeploymentStatus {
    pub(super) state: String,
    pub(super) created_at: String,
}

#[derive(Deserialize)]
pub(super) struct Release {
    pub(super) tag_name: String,
    #[serde(default)]
    pub(super) draft: bool,
    #[serde(default)]
    pub(super) prerelease: bool,
    pub(super) published_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Tag {
    pub(super) name: String,
    pub(super) commit: Sha,
}

#[derive(Deserialize)]
pub(super) struct Issue {
    pub(super) number: i64,
    pub(super) title: Option<String>,
    pub(super) created_at: String,
    pub(super) closed_at: Option<String>,
    pub(super) updated_at: String,
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) labels: Vec<Label>,
    pub(super) pull_request: Option<serde::de::IgnoredAny>,
}

pub(super) fn time(what: &str, s: &str) -> Result<i64, String> {
    parse_rfc3339(s).ok_or_else(|| format!("{what}: `{s}` is not an RFC 3339 time"))
}

pub(super) fn opt_time(what: &str, s: Option<&str>) -> Result<Option<i64>, String> {
    s.map(|s| time(what, s)).transpose()
}

pub(super) fn push_commit(out: &mut TableBuffer, repo: &str, c: &Commit) -> Result<i64, String> {
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
pub(super) struct ChangeDetail {
    pub(super) first_commit_at: Option<i64>,
    pub(super) first_review_at: Option<i64>,
    /// Every submitted review: (reviewer, state, submitted at). A pending
    /// review (not submitted, seen only by its author) is left out.
    pub(super) reviews: Vec<(String, &'static str, i64)>,
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

pub(super) fn push_pull(
    out: &mut TableBuffer,
    repo: &str,
    p: &Pull,
    d: &ChangeDetail,
) -> Result<(), String> {
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

impl GitHub {
    /// First commit and first review times of a change, and its commits
    /// when it was merged, read with REST (three requests: for a change the
    /// GraphQL answer did not hold whole).
    pub(super) async fn change_detail(
        &self,
        repo: &str,
        pull: &Pull,
    ) -> Result<(ChangeDetail, Vec<Commit>)> {
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

    pub(super) async fn sync_deployments(&self, sync: &mut RepoSync<'_>) -> Result<()> {
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
                    d.creator.as_ref().map(|u| u.login.as_str()),
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
}

/// A change's first commit and first review (the earliest review or
/// comment by someone other than its author, bots excluded), and its
/// commits when it was merged.
pub(super) fn change_detail_of(
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
    detail.reviews = reviews
        .iter()
        .filter_map(|r| {
            let state = r.state.as_deref().map(str::to_ascii_uppercase)?;
            let state = REVIEW_STATES.iter().find(|s| **s == state)?;
            let at = r.submitted_at.as_deref().and_then(parse_rfc3339)?;
            let login = r.user.as_ref()?.login.clone();
            Some((login, *state, at))
        })
        .collect();
    let commits = if pull.merged_at.is_some() {
        pr_commits
    } else {
        Vec::new()
    };
    (detail, commits)
}

/// The pages of a list, following `Link: <…>; rel="next"` to the end.
pub(super) struct Pages<'g> {
    pub(super) github: &'g GitHub,
    pub(super) repo: String,
    pub(super) what: &'static str,
    pub(super) next: Option<String>,
}

impl Pages<'_> {
    /// The next page's body, or None after the last page.
    pub(super) async fn next_body(&mut self) -> Result<Option<bytes::Bytes>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let fetched = self.github.get(&self.repo, &url).await?;
        self.next = forge::next_link(fetched.header("link"));
        Ok(Some(fetched.body))
    }

    /// The next page, parsed.
    pub(super) async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<Vec<T>>> {
        match self.next_body().await? {
            Some(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| GitHub::shape_error(&self.repo, self.what, e)),
            None => Ok(None),
        }
    }
}

pub(super) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
