//! Release governance data from GitLab (docs/metrics.md section 9), read
//! with `governance` on: a production deployment's approvals and a merged
//! merge request's files with their added and deleted lines.

use futures_util::StreamExt;
use gitlab::api::{self, Pagination};
use serde::Deserialize;

use super::*;
use crate::store::rows::{ApprovalRow, ChangeFileRow};

/// `GET /projects/:id/deployments/:deployment_id` ("Get a specific
/// deployment", https://docs.gitlab.com/api/deployments/#get-a-specific-deployment):
/// with deployment approvals (Premium), `approvals[{user, status,
/// created_at, comment}]`.
#[derive(Deserialize)]
pub(super) struct DeploymentDetail {
    #[serde(default)]
    pub(super) approvals: Vec<DeploymentApproval>,
}

#[derive(Deserialize)]
pub(super) struct DeploymentApproval {
    pub(super) user: UserRef,
    pub(super) status: String,
    pub(super) created_at: String,
    #[serde(default)]
    pub(super) comment: Option<String>,
}

/// One item of `GET /projects/:id/merge_requests/:iid/diffs` ("List merge
/// request diffs", https://docs.gitlab.com/api/merge_requests/#list-merge-request-diffs).
#[derive(Deserialize)]
pub(super) struct FileDiff {
    pub(super) new_path: String,
    #[serde(default)]
    pub(super) diff: String,
    /// Not in the documented item; a diff GitLab did not render.
    #[serde(default)]
    pub(super) too_large: Option<bool>,
}

/// Lines a unified diff adds and deletes (hunk headers and `\ No newline`
/// markers are neither).
pub(super) fn count_lines(diff: &str) -> (i64, i64) {
    let (mut added, mut deleted) = (0, 0);
    for line in diff.lines() {
        if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            deleted += 1;
        }
    }
    (added, deleted)
}

/// The decisions on deployment `deployment_id`, which began waiting at
/// `requested_at` (its creation); statuses other than approved and
/// rejected (none are documented) are skipped.
pub(super) fn push_approvals(
    out: &mut TableBuffer,
    repo: &str,
    deployment_id: &str,
    requested_at: i64,
    approvals: &[DeploymentApproval],
) -> Result<()> {
    for a in approvals {
        let state = match a.status.as_str() {
            "approved" => "approved",
            "rejected" => "rejected",
            _ => continue,
        };
        let decided = time(repo, "approvals.created_at", &a.created_at)?;
        ApprovalRow {
            deployment_id: deployment_id.to_string(),
            approver: a.user.username.clone(),
            state,
            requested_at: Some(crate::base::time::Timestamp::from_micros(requested_at)),
            decided_at: Some(crate::base::time::Timestamp::from_micros(decided)),
            comment: a.comment.clone().filter(|c| !c.is_empty()),
        }
        .push(out);
    }
    Ok(())
}

impl GitLab {
    /// The approvals of deployment `id` (its global id, not its iid).
    pub(super) async fn deployment_approvals(
        &self,
        repo: &str,
        id: u64,
    ) -> Result<Vec<DeploymentApproval>> {
        let client = ProjectClient { gitlab: self, repo };
        let endpoint = api::projects::deployments::Deployment::builder()
            .project(repo)
            .deployment_id(id)
            .build()
            .map_err(|e| shape(repo, "deployment", e))?;
        let detail: DeploymentDetail = api::AsyncQuery::query_async(&endpoint, &client)
            .await
            .map_err(|e| api_error(repo, "deployment", e))?;
        Ok(detail.approvals)
    }

    /// Merge request `iid`'s files as rows, every page. A diff GitLab did
    /// not render leaves the whole change without line data (and says so)
    /// rather than with a short count.
    pub(super) async fn push_mr_files(
        &self,
        out: &mut TableBuffer,
        repo: &str,
        iid: i64,
    ) -> Result<()> {
        let client = ProjectClient { gitlab: self, repo };
        let endpoint = api::projects::merge_requests::MergeRequestDiffs::builder()
            .project(repo)
            .merge_request(iid as u64)
            .build()
            .map_err(|e| shape(repo, "merge request diffs", e))?;
        let paged = api::paged(endpoint, Pagination::All);
        let diffs: Vec<FileDiff> = Self::all::<_, FileDiff>(&client, &paged)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| api_error(repo, "merge request diffs", e))?;
        if let Some(big) = diffs.iter().find(|d| d.too_large == Some(true)) {
            self.http.notify(&format!(
                "warning: gitlab {repo}: merge request !{iid}: GitLab did not render the diff \
                 of {}, so its size is not stored (it is left out of the batch size metrics)",
                big.new_path
            ));
            return Ok(());
        }
        for d in &diffs {
            let (additions, deletions) = count_lines(&d.diff);
            ChangeFileRow {
                repo,
                number: iid,
                path: &d.new_path,
                additions,
                deletions,
            }
            .push(out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_leave_out_hunk_headers_and_markers() {
        let diff = "@@ -1,3 +1,4 @@\n keep\n-old\n+new\n+more\n\\ No newline at end of file\n";
        assert_eq!(count_lines(diff), (2, 1));
    }
}
