//! The canonical tables (docs/metrics.md section 1), defined once. The Arrow
//! schemas, the import parser, the natural keys and the user documentation
//! (`doralens tables`) are all derived from the column lists in
//! `schema/columns.rs`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Timestamps are stored as UTC with microsecond precision.
pub const TIMESTAMP_TZ: &str = "UTC";

mod columns;

use ColumnKind::*;
use columns::*;
pub use columns::{
    APPROVAL_STATES, DEPLOYMENT_STATUSES, FLAG_EVENT_KINDS, FLAG_KINDS, PROVENANCE, REVIEW_STATES,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    Timestamp,
    /// A list of strings: `;`-separated in CSV, a JSON array in NDJSON.
    TextList,
    /// Text restricted to these values, such as [`DEPLOYMENT_STATUSES`]:
    /// accepted in any case, stored as the list spells them.
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

    /// What a value of a restricted column is called in an error.
    pub fn noun(self) -> &'static str {
        match self {
            ColumnKind::OneOf(v) if *v == DEPLOYMENT_STATUSES[..] => "status",
            ColumnKind::OneOf(v) if *v == REVIEW_STATES[..] => "review state",
            ColumnKind::OneOf(v) if *v == APPROVAL_STATES[..] => "state",
            _ => "value",
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
            ColumnKind::OneOf(values) => format!("one of {} (any case)", values.join(", ")),
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
    Reviews,
    DeploymentApprovals,
    ChangeFiles,
    Syncs,
    Flags,
    FlagEvents,
    FlagReferences,
}

impl Table {
    pub const ALL: [Table; 14] = [
        Table::Commits,
        Table::Changes,
        Table::Deployments,
        Table::Incidents,
        Table::Rollbacks,
        Table::Teams,
        Table::ChangeCommits,
        Table::Reviews,
        Table::DeploymentApprovals,
        Table::ChangeFiles,
        Table::Syncs,
        Table::Flags,
        Table::FlagEvents,
        Table::FlagReferences,
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
            Table::Reviews => "reviews",
            Table::DeploymentApprovals => "deployment_approvals",
            Table::ChangeFiles => "change_files",
            Table::Syncs => "syncs",
            Table::Flags => "flags",
            Table::FlagEvents => "flag_events",
            Table::FlagReferences => "flag_references",
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
            Table::Reviews => REVIEWS,
            Table::DeploymentApprovals => DEPLOYMENT_APPROVALS,
            Table::ChangeFiles => CHANGE_FILES,
            Table::Syncs => SYNCS,
            Table::Flags => FLAGS,
            Table::FlagEvents => FLAG_EVENTS,
            Table::FlagReferences => FLAG_REFERENCES,
        }
    }

    /// Natural key columns: a row with an existing key replaces the old row.
    /// A review's state is not in its key: GitHub keeps a dismissed
    /// review's `submitted_at` and changes its state, so the re-synced row
    /// replaces the approval it was.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::Commits => &["repo", "sha"],
            Table::Changes => &["repo", "number"],
            Table::Deployments
            | Table::Incidents
            | Table::Rollbacks
            | Table::Syncs
            | Table::FlagEvents => &["id"],
            Table::Flags => &["project", "key"],
            Table::FlagReferences => &["repo", "flag_key"],
            Table::Teams => &["team", "service"],
            Table::ChangeCommits => &["repo", "number", "sha"],
            Table::Reviews => &["repo", "number", "reviewer", "submitted_at"],
            Table::DeploymentApprovals => &["deployment_id", "approver", "state"],
            Table::ChangeFiles => &["repo", "number", "path"],
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

    /// The table's own columns: what an import file holds and what
    /// [`TableBuffer`](super::buffer::TableBuffer)s build.
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL
                .iter()
                .map(|t| fields_schema(t.columns()))
                .collect()
        });
        all[self as usize].clone()
    }

    /// What the warehouse stores and SQL sees: [`Table::schema`] followed
    /// by the [`PROVENANCE`] columns (for the tables that have them).
    pub fn stored_schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL
                .iter()
                .map(|t| fields_schema(t.stored_columns()))
                .collect()
        });
        all[self as usize].clone()
    }

    /// Whether rows carry the [`PROVENANCE`] columns: every table but
    /// `syncs`, which is the provenance log itself.
    pub fn has_provenance(self) -> bool {
        self != Table::Syncs
    }

    /// Whether `import` and the push endpoint accept rows for it: not
    /// `syncs`, which only doralens writes.
    pub fn importable(self) -> bool {
        self != Table::Syncs
    }

    /// [`Table::columns`] then, for tables with provenance, [`PROVENANCE`].
    pub fn stored_columns(self) -> &'static [ColumnSpec] {
        static COLUMNS: OnceLock<Vec<Vec<ColumnSpec>>> = OnceLock::new();
        let all = COLUMNS.get_or_init(|| {
            Table::ALL
                .iter()
                .map(|t| {
                    let mut c = t.columns().to_vec();
                    if t.has_provenance() {
                        c.extend_from_slice(PROVENANCE);
                    }
                    c
                })
                .collect()
        });
        &all[self as usize]
    }

    pub fn names() -> String {
        Table::ALL.map(|t| t.name()).join(", ")
    }
}

fn fields_schema(columns: &[ColumnSpec]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.name, c.kind.data_type(), c.nullable))
        .collect();
    Arc::new(Schema::new(fields))
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
        if !t.importable() {
            out.push_str("Written by doralens for every run; not importable.\n\n");
        }
        columns_markdown(&mut out, t.columns());
    }
    out.push_str(
        "### Provenance columns (every table but `syncs`)\n\n\
         Stored after each table's columns and seen by `doralens sql`; never part of an \
         import file (doralens fills them: an imported row's `_origin` is its file and line). \
         Null for rows written before doralens recorded provenance.\n\n",
    );
    columns_markdown(&mut out, PROVENANCE);
    out
}

fn columns_markdown(out: &mut String, columns: &[ColumnSpec]) {
    out.push_str("| column | type | required | meaning |\n|---|---|---|---|\n");
    for c in columns {
        let ty = match c.kind {
            Text => "text",
            Integer => "integer",
            Timestamp => "timestamp (UTC, µs)",
            TextList => "list of text",
            OneOf(v) if *v == DEPLOYMENT_STATUSES[..] => "status",
            OneOf(v) if *v == REVIEW_STATES[..] => "review state",
            OneOf(v) if *v == APPROVAL_STATES[..] => "approval state",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// README's "The canonical tables" lists every table, and names every
    /// provenance column, as `doralens tables` does.
    #[test]
    fn readme_names_every_provenance_column() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## The canonical tables")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has the tables section");
        for t in Table::ALL {
            assert!(
                section.contains(&format!("| `{}` |", t.name())),
                "README's tables section lacks `{t}`"
            );
        }
        for c in PROVENANCE {
            assert!(section.contains(&format!("`{}`", c.name)), "{}", c.name);
            assert!(tables_markdown().contains(&format!("| {} |", c.name)));
        }
    }

    #[test]
    fn provenance_is_appended_after_every_table_but_syncs() {
        for t in Table::ALL {
            let stored = t.stored_columns();
            let names = |c: &[ColumnSpec]| c.iter().map(|c| c.name).collect::<Vec<_>>();
            assert_eq!(
                names(&stored[..t.columns().len()]),
                names(t.columns()),
                "{t}"
            );
            let extra = if t.has_provenance() {
                PROVENANCE.len()
            } else {
                0
            };
            assert_eq!(stored.len(), t.columns().len() + extra, "{t}");
        }
    }

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
