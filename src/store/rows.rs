//! Typed rows of the canonical tables: an ingestor fills a struct by field
//! name, and the row's one `push` turns it into the table's cells in column
//! order, so no ingestor handles positional cells. The high-volume ones
//! (commits, changes, change commits) borrow their text, so a page of API
//! answers converts without copying strings twice.

use super::buffer::{Cell, TableBuffer};
use super::schema::Table;
use crate::base::time::Timestamp;

/// One row of `incidents` (docs/metrics.md section 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: String,
    pub service: Option<String>,
    pub title: Option<String>,
    pub severity: Option<String>,
    pub created_at: Timestamp,
    /// None while open.
    pub resolved_at: Option<Timestamp>,
    /// An explicit link to the deployment that caused it.
    pub deployment_id: Option<String>,
    /// An explicit link to the root-cause commit.
    pub sha: Option<String>,
    /// The key of the feature flag whose toggle recovered it, when known
    /// (docs/metrics.md section 4.4: recovery by flag).
    pub recovery_flag: Option<String>,
}

/// One row of `deployments`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentRow {
    pub id: String,
    pub repo: String,
    pub service: String,
    pub environment: String,
    pub sha: String,
    /// success, failure, error or cancelled.
    pub status: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    /// Who started it, when the source says (compared with approvers).
    pub triggered_by: Option<String>,
}

/// One row of `deployment_approvals`: one person's decision on a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalRow {
    pub deployment_id: String,
    pub approver: String,
    /// approved or rejected.
    pub state: &'static str,
    pub requested_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    pub comment: Option<String>,
}

impl ApprovalRow {
    pub const TABLE: Table = Table::DeploymentApprovals;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.deployment_id),
            Cell::Text(&self.approver),
            Cell::Text(self.state),
            time(self.requested_at),
            time(self.decided_at),
            self.comment.as_deref().into(),
        ]);
    }
}

/// One row of `change_files`: the lines one change adds and deletes in a file.
#[derive(Debug, Clone, Copy)]
pub struct ChangeFileRow<'a> {
    pub repo: &'a str,
    pub number: i64,
    pub path: &'a str,
    pub additions: i64,
    pub deletions: i64,
}

impl ChangeFileRow<'_> {
    pub const TABLE: Table = Table::ChangeFiles;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(self.repo),
            Cell::Int(self.number),
            Cell::Text(self.path),
            Cell::Int(self.additions),
            Cell::Int(self.deletions),
        ]);
    }
}

/// One row of `rollbacks`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackRow {
    pub id: String,
    /// The deployment rolled back.
    pub deployment_id: String,
    /// The deployment that rolled it back.
    pub rollback_deployment_id: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
}

/// One row of `commits`.
#[derive(Debug, Clone, Copy)]
pub struct CommitRow<'a> {
    pub repo: &'a str,
    pub sha: &'a str,
    pub parents: &'a [String],
    pub author: Option<&'a str>,
    pub authored_at: Timestamp,
    pub committed_at: Option<Timestamp>,
    /// The first line of the message.
    pub message: Option<&'a str>,
}

impl CommitRow<'_> {
    pub const TABLE: Table = Table::Commits;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(self.repo),
            Cell::Text(self.sha),
            Cell::List(self.parents),
            self.author.into(),
            Cell::Time(self.authored_at.micros()),
            time(self.committed_at),
            self.message.into(),
        ]);
    }
}

/// One row of `changes` (a pull or merge request).
#[derive(Debug, Clone, Copy)]
pub struct ChangeRow<'a> {
    pub repo: &'a str,
    pub number: i64,
    pub title: Option<&'a str>,
    pub author: Option<&'a str>,
    pub created_at: Timestamp,
    pub first_commit_at: Option<Timestamp>,
    pub first_review_at: Option<Timestamp>,
    pub merged_at: Option<Timestamp>,
    pub merge_sha: Option<&'a str>,
    pub base_branch: Option<&'a str>,
    pub labels: &'a [String],
}

impl ChangeRow<'_> {
    pub const TABLE: Table = Table::Changes;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(self.repo),
            Cell::Int(self.number),
            self.title.into(),
            self.author.into(),
            Cell::Time(self.created_at.micros()),
            time(self.first_commit_at),
            time(self.first_review_at),
            time(self.merged_at),
            self.merge_sha.into(),
            self.base_branch.into(),
            Cell::List(self.labels),
        ]);
    }
}

/// One row of `change_commits`: a commit a change lists.
#[derive(Debug, Clone, Copy)]
pub struct ChangeCommitRow<'a> {
    pub repo: &'a str,
    pub number: i64,
    pub sha: &'a str,
}

impl ChangeCommitRow<'_> {
    pub const TABLE: Table = Table::ChangeCommits;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(self.repo),
            Cell::Int(self.number),
            Cell::Text(self.sha),
        ]);
    }
}

/// One row of `reviews`: a review (or a GitLab approval) of a change.
#[derive(Debug, Clone, Copy)]
pub struct ReviewRow<'a> {
    pub repo: &'a str,
    pub number: i64,
    /// A bot as `name[bot]`, whatever the source's spelling.
    pub reviewer: &'a str,
    /// One of [`super::schema::REVIEW_STATES`].
    pub state: &'a str,
    pub submitted_at: Timestamp,
}

impl ReviewRow<'_> {
    pub const TABLE: Table = Table::Reviews;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        debug_assert!(super::schema::REVIEW_STATES.contains(&self.state));
        buffer.push(&[
            Cell::Text(self.repo),
            Cell::Int(self.number),
            Cell::Text(self.reviewer),
            Cell::Text(self.state),
            Cell::Time(self.submitted_at.micros()),
        ]);
    }
}

/// One row of `teams`: a service a team owns.
#[derive(Debug, Clone, Copy)]
pub struct TeamRow<'a> {
    pub team: &'a str,
    pub service: &'a str,
}

impl TeamRow<'_> {
    pub const TABLE: Table = Table::Teams;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[Cell::Text(self.team), Cell::Text(self.service)]);
    }
}

/// One row of `flags`: a feature flag as its platform describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagRow {
    pub key: String,
    pub project: String,
    /// release, experiment, operational, kill-switch, permission or sunset.
    pub kind: Option<String>,
    pub created_at: Option<Timestamp>,
    pub created_by: Option<String>,
    pub owner: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub stale: Option<bool>,
    pub lifecycle_stage: Option<String>,
    /// None: never potentially stale.
    pub expected_lifetime_days: Option<i64>,
    pub service: Option<String>,
}

impl FlagRow {
    pub const TABLE: Table = Table::Flags;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.key),
            Cell::Text(&self.project),
            self.kind.as_deref().into(),
            time(self.created_at),
            self.created_by.as_deref().into(),
            self.owner.as_deref().into(),
            time(self.archived_at),
            int(self.stale.map(i64::from)),
            self.lifecycle_stage.as_deref().into(),
            int(self.expected_lifetime_days),
            self.service.as_deref().into(),
        ]);
    }
}

/// One row of `flag_events`: a change to a flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagEventRow {
    /// Unique across the warehouse (`unleash:<event id>`).
    pub id: String,
    pub flag_key: String,
    pub project: String,
    pub environment: Option<String>,
    pub at: Timestamp,
    pub actor: Option<String>,
    /// enabled, disabled, rollout-changed, strategy-changed or archived.
    pub kind: String,
    pub rollout_percentage: Option<i64>,
    /// The change request's group id, when the change went through one.
    pub change_request: Option<String>,
}

impl FlagEventRow {
    pub const TABLE: Table = Table::FlagEvents;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.id),
            Cell::Text(&self.flag_key),
            Cell::Text(&self.project),
            self.environment.as_deref().into(),
            Cell::Time(self.at.micros()),
            self.actor.as_deref().into(),
            Cell::Text(&self.kind),
            int(self.rollout_percentage),
            self.change_request.as_deref().into(),
        ]);
    }
}

/// One row of `flag_references`: where a repository's code first
/// referenced a flag and, once every reference is gone, the commit that
/// removed the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagReferenceRow {
    pub repo: String,
    pub flag_key: String,
    pub first_sha: String,
    pub first_at: Timestamp,
    /// None while the flag is still referenced at the scanned tip.
    pub removed_sha: Option<String>,
    pub removed_at: Option<Timestamp>,
    pub tip_references: Option<i64>,
}

impl FlagReferenceRow {
    pub const TABLE: Table = Table::FlagReferences;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.repo),
            Cell::Text(&self.flag_key),
            Cell::Text(&self.first_sha),
            Cell::Time(self.first_at.micros()),
            self.removed_sha.as_deref().into(),
            time(self.removed_at),
            int(self.tip_references),
        ]);
    }
}

fn int(v: Option<i64>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::Int)
}

fn time(t: Option<Timestamp>) -> Cell<'static> {
    t.map_or(Cell::Null, |t| Cell::Time(t.micros()))
}

impl IncidentRow {
    pub const TABLE: Table = Table::Incidents;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.id),
            self.service.as_deref().into(),
            self.title.as_deref().into(),
            self.severity.as_deref().into(),
            Cell::Time(self.created_at.micros()),
            time(self.resolved_at),
            self.deployment_id.as_deref().into(),
            self.sha.as_deref().into(),
            self.recovery_flag.as_deref().into(),
        ]);
    }
}

impl RollbackRow {
    pub const TABLE: Table = Table::Rollbacks;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.id),
            Cell::Text(&self.deployment_id),
            self.rollback_deployment_id.as_deref().into(),
            time(self.started_at),
            Cell::Time(self.finished_at.micros()),
        ]);
    }
}

impl DeploymentRow {
    pub const TABLE: Table = Table::Deployments;

    pub fn push(&self, buffer: &mut TableBuffer) {
        debug_assert_eq!(buffer.table(), Self::TABLE);
        buffer.push(&[
            Cell::Text(&self.id),
            Cell::Text(&self.repo),
            Cell::Text(&self.service),
            Cell::Text(&self.environment),
            Cell::Text(&self.sha),
            Cell::Text(&self.status),
            time(self.started_at),
            Cell::Time(self.finished_at.micros()),
            self.triggered_by.as_deref().into(),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::TimestampMicrosecondType;

    #[test]
    fn typed_rows_land_in_their_named_columns() {
        let t = Timestamp::from_micros(1_000_000);
        let mut incidents = TableBuffer::new(Table::Incidents);
        IncidentRow {
            id: "PD-1".into(),
            service: Some("api".into()),
            severity: Some("P1".into()),
            created_at: t,
            sha: Some("abc1234".into()),
            ..Default::default()
        }
        .push(&mut incidents);
        let batch = incidents.finish().unwrap();
        let text = |name: &str| {
            let c = batch.column_by_name(name).unwrap().as_string::<i32>();
            (!c.is_null(0)).then(|| c.value(0).to_string())
        };
        assert_eq!(text("id").as_deref(), Some("PD-1"));
        assert_eq!(text("service").as_deref(), Some("api"));
        assert_eq!(text("severity").as_deref(), Some("P1"));
        assert_eq!(text("title"), None);
        assert_eq!(text("sha").as_deref(), Some("abc1234"));
        assert_eq!(text("deployment_id"), None);
        assert_eq!(text("recovery_flag"), None);
        let created = batch.column_by_name("created_at").unwrap();
        assert_eq!(
            created.as_primitive::<TimestampMicrosecondType>().value(0),
            1_000_000
        );
        assert!(batch.column_by_name("resolved_at").unwrap().is_null(0));

        let mut deployments = TableBuffer::new(Table::Deployments);
        DeploymentRow {
            id: "d1".into(),
            repo: "acme/api".into(),
            service: "api".into(),
            environment: "production".into(),
            sha: "f00".into(),
            status: "success".into(),
            started_at: None,
            finished_at: t,
            triggered_by: None,
        }
        .push(&mut deployments);
        let batch = deployments.finish().unwrap();
        let env = batch
            .column_by_name("environment")
            .unwrap()
            .as_string::<i32>();
        assert_eq!(env.value(0), "production");
        let status = batch.column_by_name("status").unwrap().as_string::<i32>();
        assert_eq!(status.value(0), "success");

        let mut teams = TableBuffer::new(Table::Teams);
        TeamRow {
            team: "payments",
            service: "payments-api",
        }
        .push(&mut teams);
        let batch = teams.finish().unwrap();
        let column = |name: &str| {
            let c = batch.column_by_name(name).unwrap().as_string::<i32>();
            c.value(0).to_string()
        };
        assert_eq!(column("team"), "payments");
        assert_eq!(column("service"), "payments-api");
    }
}
