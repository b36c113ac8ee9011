//! The column lists of the canonical tables and the value lists their
//! `OneOf` columns accept: the data from which `super` derives schemas,
//! validation, keys and the tables' documentation.

use super::ColumnKind::*;
use super::{ColumnSpec, col, opt};

/// Deployment statuses accepted on import (stored lower-case).
pub const DEPLOYMENT_STATUSES: [&str; 4] = ["success", "failure", "error", "cancelled"];

/// Review states accepted on import (stored upper-case, as GitHub spells
/// them; a GitLab approval is `APPROVED`).
pub const REVIEW_STATES: [&str; 4] = ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"];
/// Deployment approval states accepted on import (stored lower-case).
pub const APPROVAL_STATES: [&str; 2] = ["approved", "rejected"];
/// Flag kinds (Unleash's flag types; `sunset` is Unleash's newer one;
/// Flagsmith's STANDARD features are stored as release, MULTIVARIATE as
/// experiment).
pub const FLAG_KINDS: [&str; 6] = [
    "release",
    "experiment",
    "operational",
    "kill-switch",
    "permission",
    "sunset",
];

/// What a flag event did.
pub const FLAG_EVENT_KINDS: [&str; 5] = [
    "enabled",
    "disabled",
    "rollout-changed",
    "strategy-changed",
    "archived",
];

pub(super) const COMMITS: &[ColumnSpec] = &[
    col("repo", Text, "repository name, e.g. acme/api"),
    col("sha", Text, "commit id"),
    col("parents", TextList, "parent shas (two or more for a merge)"),
    opt("author", Text, "author name or login"),
    col("authored_at", Timestamp, "author date"),
    opt("committed_at", Timestamp, "committer date"),
    opt("message", Text, "first line of the commit message"),
];

pub(super) const CHANGES: &[ColumnSpec] = &[
    col("repo", Text, "repository name"),
    col("number", Integer, "pull/merge request number"),
    opt("title", Text, "title"),
    opt("author", Text, "author login"),
    col("created_at", Timestamp, "opened at"),
    opt(
        "first_commit_at",
        Timestamp,
        "author date of the first commit",
    ),
    opt(
        "first_review_at",
        Timestamp,
        "first review or comment by someone else",
    ),
    opt("merged_at", Timestamp, "merged at (null when not merged)"),
    opt(
        "merge_sha",
        Text,
        "merge or squash commit on the base branch",
    ),
    opt("base_branch", Text, "target branch"),
    col("labels", TextList, "labels, e.g. hotfix;bug"),
];

pub(super) const CHANGE_COMMITS: &[ColumnSpec] = &[
    col("repo", Text, "repository name"),
    col("number", Integer, "pull/merge request number"),
    col(
        "sha",
        Text,
        "a commit of the change (its branch commits, as the forge lists them)",
    ),
];

pub(super) const REVIEWS: &[ColumnSpec] = &[
    col("repo", Text, "repository name"),
    col("number", Integer, "pull/merge request number"),
    col(
        "reviewer",
        Text,
        "reviewer login; bots as `name[bot]` (GitHub's REST spelling)",
    ),
    col(
        "state",
        OneOf(&REVIEW_STATES),
        "APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED (an approval later dismissed)",
    ),
    col("submitted_at", Timestamp, "submitted (GitLab: approved) at"),
];

pub(super) const DEPLOYMENTS: &[ColumnSpec] = &[
    col("id", Text, "deployment id, unique across the warehouse"),
    col("repo", Text, "repository the sha belongs to"),
    col("service", Text, "deployed service"),
    col("environment", Text, "environment name, e.g. production"),
    col("sha", Text, "deployed commit"),
    col(
        "status",
        OneOf(&DEPLOYMENT_STATUSES),
        "success, failure, error or cancelled",
    ),
    opt("started_at", Timestamp, "start time"),
    col("finished_at", Timestamp, "finish time; buckets use this"),
    opt(
        "triggered_by",
        Text,
        "login of the person who started it (GitHub: the deployment's creator or the run's triggering actor; GitLab: the deployment's user); an approval by this person is a self-approval",
    ),
];

pub(super) const DEPLOYMENT_APPROVALS: &[ColumnSpec] = &[
    col(
        "deployment_id",
        Text,
        "the deployment (`deployments.id`) the decision is about",
    ),
    col("approver", Text, "login of the person who decided"),
    col("state", OneOf(&APPROVAL_STATES), "approved or rejected"),
    opt(
        "requested_at",
        Timestamp,
        "when the deployment started waiting for approval (GitLab: the deployment's creation; null from GitHub, whose API gives no such time)",
    ),
    opt(
        "decided_at",
        Timestamp,
        "when the approver decided (GitLab: the approval's created_at; null from GitHub, whose API gives no such time)",
    ),
    opt("comment", Text, "the approver's comment"),
];

pub(super) const CHANGE_FILES: &[ColumnSpec] = &[
    col("repo", Text, "repository name"),
    col("number", Integer, "pull/merge request number"),
    col(
        "path",
        Text,
        "a file the change touches (its new path when renamed)",
    ),
    col("additions", Integer, "lines added to the file"),
    col("deletions", Integer, "lines deleted from the file"),
];

pub(super) const INCIDENTS: &[ColumnSpec] = &[
    col("id", Text, "incident id, e.g. acme/api#12 or PD-123"),
    opt("service", Text, "affected service"),
    opt("title", Text, "title"),
    opt("severity", Text, "severity as the source names it"),
    col("created_at", Timestamp, "opened at"),
    opt("resolved_at", Timestamp, "resolved at (null while open)"),
    opt(
        "deployment_id",
        Text,
        "deployment that caused it, when known",
    ),
    opt("sha", Text, "root-cause commit, when known"),
    opt(
        "recovery_flag",
        Text,
        "key of the feature flag whose toggle recovered it, when known",
    ),
];

pub(super) const ROLLBACKS: &[ColumnSpec] = &[
    col("id", Text, "rollback id"),
    col("deployment_id", Text, "the deployment rolled back"),
    opt(
        "rollback_deployment_id",
        Text,
        "the deployment that performed the rollback",
    ),
    opt("started_at", Timestamp, "start time"),
    col("finished_at", Timestamp, "finish time (recovery ends here)"),
];

/// The `syncs` table: one row per ingest, import, push or generate run
/// (see `store::provenance`). Written by doralens only, never imported.
pub(super) const SYNCS: &[ColumnSpec] = &[
    col(
        "id",
        Text,
        "sync id: `<UTC start, yyyymmddThhmmssZ>-<warehouse sequence>`",
    ),
    col(
        "source",
        Text,
        "ingest source (git, github, pagerduty...), import, push, generate, demo or config",
    ),
    col(
        "scopes",
        TextList,
        "what the run covered: repositories (github:acme/api), files, tracker scopes",
    ),
    col("started_at", Timestamp, "when the run started"),
    col(
        "finished_at",
        Timestamp,
        "when the run ended (ok or failed)",
    ),
    col("rows", Integer, "rows upserted, all tables"),
    opt(
        "rows_by_table",
        Text,
        "rows upserted per table, JSON: {\"commits\": 9, ...}",
    ),
    opt(
        "cursor_before",
        Text,
        "the sync cursors the run replaced, JSON {state name: cursor}",
    ),
    opt(
        "cursor_after",
        Text,
        "the sync cursors the run wrote, JSON {state name: cursor}",
    ),
    col("outcome", Text, "ok or failed"),
    opt("message", Text, "the error of a failed run"),
];

/// Provenance columns, appended to every canonical table but `syncs` when
/// stored (never part of the import format: their names start with `_`).
/// Filled where rows enter the warehouse (`Warehouse::upsert`).
pub const PROVENANCE: &[ColumnSpec] = &[
    opt(
        "_source",
        Text,
        "where the row came from: git, github, gitlab, pagerduty, jira, incident_io, import, push, generate, config",
    ),
    opt(
        "_scope",
        Text,
        "the source's scope: github:acme/api, git:acme/api, pagerduty:PX1, an imported file's path",
    ),
    opt(
        "_fetched_at",
        Timestamp,
        "when the row was written by its run",
    ),
    opt("_sync", Text, "the run that wrote it: `syncs.id`"),
    opt(
        "_origin",
        Text,
        "the file:line, API requests (method and path) or repository path the row was built from",
    ),
];

pub(super) const TEAMS: &[ColumnSpec] = &[
    col("team", Text, "team name"),
    col(
        "service",
        Text,
        "a service the team owns (a service may have several teams)",
    ),
];

pub(super) const FLAGS: &[ColumnSpec] = &[
    col(
        "key",
        Text,
        "flag key (its name in the code and the platform)",
    ),
    col("project", Text, "platform project holding the flag"),
    opt(
        "kind",
        OneOf(&FLAG_KINDS),
        "release, experiment, operational, kill-switch, permission or sunset",
    ),
    opt("created_at", Timestamp, "created at"),
    opt("created_by", Text, "who created it"),
    opt("owner", Text, "owner, when the platform names one"),
    opt("archived_at", Timestamp, "archived at (null while active)"),
    opt(
        "stale",
        Integer,
        "1 when the platform marks the flag stale, else 0",
    ),
    opt(
        "lifecycle_stage",
        Text,
        "lifecycle stage as the platform names it, e.g. live",
    ),
    opt(
        "expected_lifetime_days",
        Integer,
        "days after which a flag of its kind is potentially stale (null: never)",
    ),
    opt("service", Text, "service the flag belongs to"),
];

pub(super) const FLAG_EVENTS: &[ColumnSpec] = &[
    col(
        "id",
        Text,
        "event id, unique across the warehouse, e.g. unleash:1234",
    ),
    col("flag_key", Text, "the flag changed"),
    col("project", Text, "its project"),
    opt(
        "environment",
        Text,
        "environment, e.g. production (null: all)",
    ),
    col("at", Timestamp, "when the change happened"),
    opt("actor", Text, "who made the change"),
    col(
        "kind",
        OneOf(&FLAG_EVENT_KINDS),
        "enabled, disabled, rollout-changed, strategy-changed or archived",
    ),
    opt(
        "rollout_percentage",
        Integer,
        "the new rollout percentage (0-100), when the change set one",
    ),
    opt(
        "change_request",
        Text,
        "the change request's group id when the change went through one",
    ),
];

pub(super) const FLAG_REFERENCES: &[ColumnSpec] = &[
    col("repo", Text, "repository whose code references the flag"),
    col("flag_key", Text, "the flag key as the platform spells it"),
    col(
        "first_sha",
        Text,
        "the first commit of the branch's first-parent line that referenced the flag (a merge brings its branch's references)",
    ),
    col("first_at", Timestamp, "that commit's committer date"),
    opt(
        "removed_sha",
        Text,
        "the commit that removed the last reference (null while referenced, and again once referenced after a removal)",
    ),
    opt("removed_at", Timestamp, "that commit's committer date"),
    opt(
        "tip_references",
        Integer,
        "lines referencing the flag at the scanned branch tip (0 once removed)",
    ),
];
