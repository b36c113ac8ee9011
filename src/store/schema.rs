//! The canonical tables (docs/metrics.md section 1), defined once. The Arrow
//! schemas, the import parser, the natural keys and the user documentation
//! (`doralens tables`) are all derived from the column lists below.

use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Timestamps are stored as UTC with microsecond precision.
pub const TIMESTAMP_TZ: &str = "UTC";

/// Deployment statuses accepted on import (stored lower-case).
pub const DEPLOYMENT_STATUSES: [&str; 4] = ["success", "failure", "error", "cancelled"];

/// Flag kinds (Unleash's flag types; `sunset` is Unleash's newer one).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    Timestamp,
    /// A list of strings: `;`-separated in CSV, a JSON array in NDJSON.
    TextList,
    /// Text restricted to these values (stored lower-case), such as
    /// [`DEPLOYMENT_STATUSES`].
    OneOf(&'static [&'static str]),
}

impl ColumnKind {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnKind::Text | ColumnKind::OneOf(_) => DataType::Utf8,
            ColumnKind::Integer => DataType::Int64,
            ColumnKind::Timestamp => timestamp_type(),
            ColumnKind::TextList => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
        }
    }

    /// How a value of this kind is written, for error messages and docs.
    pub fn expected_form(self) -> String {
        match self {
            ColumnKind::Text => "text".into(),
            ColumnKind::Integer => "a whole number such as 42".into(),
            ColumnKind::Timestamp => {
                "an RFC 3339 timestamp such as 2026-01-05T09:30:00Z or 2026-01-05T10:30:00+01:00"
                    .into()
            }
            ColumnKind::TextList => "a list: `a;b;c` in CSV, [\"a\",\"b\"] in NDJSON".into(),
            ColumnKind::OneOf(values) => format!("one of {}", values.join(", ")),
        }
    }
}

pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIMESTAMP_TZ.into()))
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub nullable: bool,
    pub doc: &'static str,
}

const fn col(name: &'static str, kind: ColumnKind, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        nullable: false,
        doc,
    }
}

const fn opt(name: &'static str, kind: ColumnKind, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        nullable: true,
        doc,
    }
}

use ColumnKind::*;

const COMMITS: &[ColumnSpec] = &[
    col("repo", Text, "repository name, e.g. acme/api"),
    col("sha", Text, "commit id"),
    col("parents", TextList, "parent shas (two or more for a merge)"),
    opt("author", Text, "author name or login"),
    col("authored_at", Timestamp, "author date"),
    opt("committed_at", Timestamp, "committer date"),
    opt("message", Text, "first line of the commit message"),
];

const CHANGES: &[ColumnSpec] = &[
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

const CHANGE_COMMITS: &[ColumnSpec] = &[
    col("repo", Text, "repository name"),
    col("number", Integer, "pull/merge request number"),
    col(
        "sha",
        Text,
        "a commit of the change (its branch commits, as the forge lists them)",
    ),
];

const DEPLOYMENTS: &[ColumnSpec] = &[
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
];

const INCIDENTS: &[ColumnSpec] = &[
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
];

const ROLLBACKS: &[ColumnSpec] = &[
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

const TEAMS: &[ColumnSpec] = &[
    col("team", Text, "team name"),
    col(
        "service",
        Text,
        "a service the team owns (a service may have several teams)",
    ),
];

const FLAGS: &[ColumnSpec] = &[
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

const FLAG_EVENTS: &[ColumnSpec] = &[
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

/// One of the canonical tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Commits,
    Changes,
    Deployments,
    Incidents,
    Rollbacks,
    Teams,
    ChangeCommits,
    Flags,
    FlagEvents,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::Commits,
        Table::Changes,
        Table::Deployments,
        Table::Incidents,
        Table::Rollbacks,
        Table::Teams,
        Table::ChangeCommits,
        Table::Flags,
        Table::FlagEvents,
    ];

    /// Position in [`Table::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Commits => "commits",
            Table::Changes => "changes",
            Table::Deployments => "deployments",
            Table::Incidents => "incidents",
            Table::Rollbacks => "rollbacks",
            Table::Teams => "teams",
            Table::ChangeCommits => "change_commits",
            Table::Flags => "flags",
            Table::FlagEvents => "flag_events",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            Table::Commits => COMMITS,
            Table::Changes => CHANGES,
            Table::Deployments => DEPLOYMENTS,
            Table::Incidents => INCIDENTS,
            Table::Rollbacks => ROLLBACKS,
            Table::Teams => TEAMS,
            Table::ChangeCommits => CHANGE_COMMITS,
            Table::Flags => FLAGS,
            Table::FlagEvents => FLAG_EVENTS,
        }
    }

    /// Natural key columns: a row with an existing key replaces the old row.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::Commits => &["repo", "sha"],
            Table::Changes => &["repo", "number"],
            Table::Deployments | Table::Incidents | Table::Rollbacks | Table::FlagEvents => &["id"],
            Table::Flags => &["project", "key"],
            Table::Teams => &["team", "service"],
            Table::ChangeCommits => &["repo", "number", "sha"],
        }
    }

    pub fn key_indices(self) -> Vec<usize> {
        self.key()
            .iter()
            .map(|k| self.column_index(k).expect("key column exists"))
            .collect()
    }

    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL
                .iter()
                .map(|t| {
                    let fields: Vec<Field> = t
                        .columns()
                        .iter()
                        .map(|c| Field::new(c.name, c.kind.data_type(), c.nullable))
                        .collect();
                    Arc::new(Schema::new(fields))
                })
                .collect()
        });
        all[self as usize].clone()
    }

    pub fn names() -> String {
        Table::ALL.map(|t| t.name()).join(", ")
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Markdown documentation of every canonical table (used by `doralens tables`
/// README.md's summary of it is checked by a test below).
pub fn tables_markdown() -> String {
    let mut out = String::new();
    for t in Table::ALL {
        out.push_str(&format!(
            "### `{}` (key: {})\n\n",
            t.name(),
            t.key().join(", ")
        ));
        out.push_str("| column | type | required | meaning |\n|---|---|---|---|\n");
        for c in t.columns() {
            let ty = match c.kind {
                Text => "text",
                Integer => "integer",
                Timestamp => "timestamp (UTC, µs)",
                TextList => "list of text",
                OneOf(v) if *v == DEPLOYMENT_STATUSES[..] => "status",
                OneOf(_) => "one of the values named",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.name,
                ty,
                if c.nullable { "no" } else { "yes" },
                c.doc
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's "The canonical tables" lists every table with its key and
    /// columns as this file defines them (`?` nullable, `(list)` a list).
    #[test]
    fn readme_lists_every_table_as_defined() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let section = readme
            .split("## The canonical tables")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has the section");
        for t in Table::ALL {
            let key = match t.key() {
                [one] => one.to_string(),
                many => format!("({})", many.join(", ")),
            };
            let columns: Vec<String> = t
                .columns()
                .iter()
                .map(|c| match (c.kind, c.nullable) {
                    (TextList, _) => format!("{} (list)", c.name),
                    (_, true) => format!("{}?", c.name),
                    _ => c.name.to_string(),
                })
                .collect();
            let row = format!("| `{}` | {key} | {}", t.name(), columns.join(", "));
            assert!(
                section
                    .lines()
                    .any(|l| l.starts_with(&row) && l[row.len()..].starts_with([' ', ':'])),
                "README.md's table section lacks or misstates `{}`; expected a row starting \
                 with:\n{row}",
                t.name()
            );
        }
    }
}
