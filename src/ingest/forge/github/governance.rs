//! Release governance data from GitHub (docs/metrics.md section 9), read
//! with `governance` on: the environment approvals of a deploying workflow
//! run, and a merged pull request's files with their line counts.

use serde::Deserialize;

use super::*;
use crate::store::rows::{ApprovalRow, ChangeFileRow};

/// The most files "List pull requests files" returns: "Responses include a
/// maximum of 3000 files" (REST reference, "Pull requests").
pub const PULL_FILES_CAP: usize = 3000;

/// One item of `GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals`
/// (REST reference, "Get the review history for a workflow run"): a
/// reviewer's decision on the run's environments. It carries no time.
#[derive(Deserialize)]
pub struct RunApproval {
    pub state: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub user: User,
}

/// One item of `GET /repos/{owner}/{repo}/pulls/{pull_number}/files`.
#[derive(Deserialize)]
pub struct PullFile {
    pub filename: String,
    pub additions: i64,
    pub deletions: i64,
}

/// The decisions on a run's deployment `deployment_id` as rows; states other
/// than approved and rejected (none are documented) are skipped.
pub(super) fn push_approvals(out: &mut TableBuffer, deployment_id: &str, items: &[RunApproval]) {
    for item in items {
        let state = match item.state.as_str() {
            "approved" => "approved",
            "rejected" => "rejected",
            _ => continue,
        };
        ApprovalRow {
            deployment_id: deployment_id.to_string(),
            approver: item.user.login.clone(),
            state,
            requested_at: None,
            decided_at: None,
            comment: item.comment.clone().filter(|c| !c.is_empty()),
        }
        .push(out);
    }
}

/// A pull request's files as rows.
pub(super) fn push_files(out: &mut TableBuffer, repo: &str, number: i64, files: &[PullFile]) {
    for f in files {
        ChangeFileRow {
            repo,
            number,
            path: &f.filename,
            additions: f.additions,
            deletions: f.deletions,
        }
        .push(out);
    }
}

impl GitHub {
    /// The approvals of workflow run `run_id` (one list, not paginated).
    pub(super) async fn run_approvals(&self, repo: &str, run_id: u64) -> Result<Vec<RunApproval>> {
        self.get_json(
            repo,
            &format!("/repos/{repo}/actions/runs/{run_id}/approvals"),
        )
        .await
    }

    /// Pull request `number`'s files, every page. None, with a warning,
    /// when GitHub's list stops at its cap: the change's size would be
    /// understated, so it gets no line data rather than a wrong one.
    pub(super) async fn pull_files(
        &self,
        repo: &str,
        number: i64,
    ) -> Result<Option<Vec<PullFile>>> {
        let path = format!("/repos/{repo}/pulls/{number}/files?per_page=100");
        let files: Vec<PullFile> = self.all(repo, "pull request files", &path).await?;
        if files.len() >= PULL_FILES_CAP {
            self.http.notify(&format!(
                "warning: github {repo}: pull request #{number} has {PULL_FILES_CAP} or more \
                 files; GitHub lists only the first {PULL_FILES_CAP}, so its size is not \
                 stored (it is left out of the batch size metrics)"
            ));
            return Ok(None);
        }
        Ok(Some(files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_keep_approved_and_rejected_with_their_comment() {
        let items: Vec<RunApproval> = serde_json::from_str(
            r#"[{"state":"approved","comment":"Ship it!","environments":[],"user":{"login":"ann","type":"User"}},
                {"state":"rejected","comment":"","environments":[],"user":{"login":"bob","type":"User"}}]"#,
        )
        .unwrap();
        let mut out = TableBuffer::new(Table::DeploymentApprovals);
        push_approvals(&mut out, "acme/api/actions/runs/1", &items);
        assert_eq!(out.len(), 2);
    }
}
