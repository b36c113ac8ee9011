//! The GitLab REST v4 shapes doralens reads, and their mapping to rows.

use chrono::{DateTime, Utc};

use serde::Deserialize;

use crate::base::time::parse_rfc3339;
use crate::error::Result;
use crate::ingest::forge::later;
use crate::store::buffer::TableBuffer;

use super::*;

#[derive(Deserialize)]
pub(super) struct Project {
    pub(super) default_branch: Option<String>,
    pub(super) web_url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Commit {
    pub(super) id: String,
    #[serde(default)]
    pub(super) parent_ids: Vec<String>,
    pub(super) author_name: Option<String>,
    pub(super) authored_date: String,
    pub(super) committed_date: Option<String>,
    pub(super) title: Option<String>,
}

/// A merge request's first commit and first review times, its commits
/// when it was merged, and its approvals (approver, approved at).
pub(super) type MrDetail = (Option<i64>, Option<i64>, Vec<Commit>, Vec<(String, i64)>);

/// `GET /projects/:id/merge_requests/:merge_request_iid/approvals`
/// (https://docs.gitlab.com/api/merge_request_approvals/): who approved
/// and when (`approved_at`, absent before GitLab added it).
#[derive(Deserialize)]
pub(super) struct MrApprovals {
    #[serde(default)]
    pub(super) approved_by: Vec<MrApproval>,
}

#[derive(Deserialize)]
pub(super) struct MrApproval {
    pub(super) user: UserRef,
    pub(super) approved_at: Option<String>,
}

impl UserRef {
    /// The login as the reviews table spells it: a bot user's gets
    /// GitHub's `[bot]` suffix, so one bot rule fits every forge.
    pub(super) fn reviewer(&self) -> String {
        if self.bot && !self.username.ends_with("[bot]") {
            format!("{}[bot]", self.username)
        } else {
            self.username.clone()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct UserRef {
    pub(super) username: String,
    #[serde(default)]
    pub(super) bot: bool,
}

#[derive(Deserialize)]
pub(super) struct MergeRequest {
    pub(super) iid: i64,
    pub(super) title: Option<String>,
    pub(super) author: Option<UserRef>,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) merged_at: Option<String>,
    pub(super) merge_commit_sha: Option<String>,
    pub(super) squash_commit_sha: Option<String>,
    pub(super) sha: Option<String>,
    pub(super) target_branch: Option<String>,
    #[serde(default)]
    pub(super) labels: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct Note {
    pub(super) author: Option<UserRef>,
    pub(super) created_at: String,
    #[serde(default)]
    pub(super) system: bool,
}

/// The environment embedded in a deployment (GitLab's `EnvironmentBasic`:
/// id, name, slug, external_url, created_at, updated_at; no tier).
#[derive(Deserialize)]
pub(super) struct EnvironmentBasic {
    pub(super) name: String,
}

/// An entry of `GET /projects/:id/environments`, where the tier is.
#[derive(Deserialize)]
pub(super) struct Environment {
    pub(super) name: String,
    pub(super) tier: Option<String>,
}

/// The job that ran a deployment (`deployable`, absent for deployments
/// created through the API).
#[derive(Deserialize)]
pub(super) struct Deployable {
    #[serde(default)]
    pub(super) id: Option<u64>,
    pub(super) finished_at: Option<String>,
}

/// The fields of a pipeline job doralens reads (`GET /projects/:id/jobs`).
#[derive(Deserialize)]
pub(super) struct Job {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) status: String,
    #[serde(rename = "ref", default)]
    pub(super) git_ref: Option<String>,
    pub(super) created_at: String,
    #[serde(default)]
    pub(super) started_at: Option<String>,
    #[serde(default)]
    pub(super) finished_at: Option<String>,
    #[serde(default)]
    pub(super) commit: Option<JobCommit>,
}

#[derive(Deserialize)]
pub(super) struct JobCommit {
    pub(super) id: String,
}

#[derive(Deserialize)]
pub(super) struct Deployment {
    /// The global id, for "Get a specific deployment".
    pub(super) id: u64,
    pub(super) iid: i64,
    /// Who started it.
    #[serde(default)]
    pub(super) user: Option<UserRef>,
    pub(super) sha: String,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    /// Not in GitLab's documented entity; read when a version sends it.
    pub(super) finished_at: Option<String>,
    pub(super) status: String,
    pub(super) environment: EnvironmentBasic,
    pub(super) deployable: Option<Deployable>,
}

#[derive(Deserialize)]
pub(super) struct Issue {
    pub(super) iid: i64,
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
    pub(super) created_at: String,
    pub(super) closed_at: Option<String>,
    pub(super) updated_at: String,
    pub(super) severity: Option<String>,
    /// `issue`, `incident`, `test_case`, `task`.
    pub(super) issue_type: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ReleaseCommit {
    pub(super) id: String,
}

#[derive(Deserialize)]
pub(super) struct Release {
    pub(super) tag_name: String,
    pub(super) released_at: Option<String>,
    pub(super) commit: Option<ReleaseCommit>,
    #[serde(default)]
    pub(super) upcoming_release: bool,
}

pub(super) fn time(repo: &str, what: &str, s: &str) -> Result<i64> {
    parse_rfc3339(s).ok_or_else(|| shape(repo, what, format!("`{s}` is not an RFC 3339 time")))
}

pub(super) fn opt_time(repo: &str, what: &str, s: Option<&str>) -> Result<Option<i64>> {
    s.map(|s| time(repo, what, s)).transpose()
}

pub(super) fn since(mark: Option<i64>) -> Option<DateTime<Utc>> {
    // One second back: `updated_after` is strict and times are truncated.
    mark.and_then(|m| DateTime::from_timestamp_micros(m - crate::base::time::MICROS_PER_SECOND))
}

pub(super) fn push_commit(out: &mut TableBuffer, repo: &str, c: &Commit) -> Result<i64> {
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
