//! The metric SQL, kept as files in `queries/` and embedded at build time.
//!
//! Files use `{{name}}` placeholders for options. Values are substituted
//! only as SQL literals built here (quoted strings, numbers, timestamps), so
//! a user's option can never change a query's structure.

use std::collections::HashMap;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct QueryFile {
    pub path: &'static str,
    pub sql: &'static str,
}

/// A file of `queries/`, embedded (from any module: the path is the
/// crate's, not the caller's).
macro_rules! query_file {
    ($path:literal) => {
        QueryFile {
            path: $path,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/queries/", $path)),
        }
    };
}
pub(crate) use query_file;

pub const PRODUCTION_DEPLOYMENTS: QueryFile = query_file!("production_deployments.sql");
pub const GROUPS_ORGANISATION: QueryFile = query_file!("groups/organisation.sql");
pub const GROUPS_TEAM: QueryFile = query_file!("groups/team.sql");
pub const GROUPS_SERVICE: QueryFile = query_file!("groups/service.sql");
pub const GROUPS_REPO: QueryFile = query_file!("groups/repo.sql");
/// Narrows the grouping views to `--team/--service/--repo` (`metrics::scope`).
pub const GROUPS_SCOPE: QueryFile = query_file!("groups/scope.sql");

/// Every group's production deployments in the window, read by the metric
/// views (each metric's own file is named in `src/metrics/catalogue.rs`,
/// which registers them in order: `catalogue::views`).
pub const GROUPED_DEPLOYMENTS: QueryFile = query_file!("grouped_deployments.sql");
/// The lead-time breakdown (docs/metrics.md section 7), after the metric views.
pub const CHANGE_LEAD_TIME: QueryFile = query_file!("change_lead_time.sql");

/// The weekly report's queries over the week's metric views
/// (`src/report/build.rs`), with `week_start` and `week_end` parameters.
pub const REPORT_FAILED_DEPLOYMENTS: QueryFile = query_file!("report/failed_deployments.sql");
pub const SLOWEST_CHANGES: QueryFile = query_file!("slowest_changes.sql");
pub const REPORT_DATA_QUALITY: QueryFile = query_file!("report/data_quality.sql");
/// The production changes without a second pair of eyes, with a `limit`
/// parameter: the report's audit table and `serve`'s list.
pub const UNREVIEWED_CHANGES: QueryFile = query_file!("report/unreviewed_changes.sql");
/// The production flag changes without a change request, with a `limit`
/// parameter: the report's governance section.
pub const DIRECT_FLAG_CHANGES: QueryFile = query_file!("report/direct_flag_changes.sql");
/// The flags stale at the week's end, oldest first, with a `limit`
/// parameter: the report's releases and flags section.
pub const REPORT_STALE_FLAGS: QueryFile = query_file!("report/stale_flags.sql");

/// `doralens explain deployment|incident|change`: several statements each,
/// with an `id` parameter (a change: `repo` and `number`; `src/explain.rs`).
pub const EXPLAIN_DEPLOYMENT: QueryFile = query_file!("explain/deployment.sql");
pub const EXPLAIN_INCIDENT: QueryFile = query_file!("explain/incident.sql");
pub const EXPLAIN_CHANGE: QueryFile = query_file!("explain/change.sql");
/// `doralens explain flag-changes`: four-eyes on production flag changes
/// over a window (no parameter but the metric views').
pub const EXPLAIN_FLAG_CHANGES: QueryFile = query_file!("explain/flag_changes.sql");

/// `serve`'s drill-down lists over the window's metric views
/// (`src/serve/lists.rs`).
pub const DASHBOARD_DEPLOYMENTS: QueryFile = query_file!("dashboard/deployments.sql");
pub const DASHBOARD_INCIDENTS: QueryFile = query_file!("dashboard/incidents.sql");

/// Joins the metric views into the docs/metrics.md section 6 rows.
pub const METRICS: QueryFile = query_file!("metrics.sql");

/// Quotes a string as a SQL literal.
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A UTC timestamp literal.
pub fn timestamp_literal(t: crate::base::time::Timestamp) -> String {
    let micros = t.micros();
    format!("arrow_cast({micros}, 'Timestamp(Microsecond, Some(\"UTC\"))')")
}

/// Substitutes every `{{name}}`; an unknown name is a bug in a query file.
pub fn render(file: &QueryFile, params: &HashMap<&str, String>) -> Result<String> {
    let mut out = String::with_capacity(file.sql.len());
    let mut rest = file.sql;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| Error::BundledQuery {
            file: file.path,
            message: "unclosed `{{`".into(),
        })?;
        let name = after[..end].trim();
        let value = params.get(name).ok_or_else(|| Error::BundledQuery {
            file: file.path,
            message: format!("unknown parameter `{name}`"),
        })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A bundled file's statements with its parameters, comment-only pieces
/// left out; a `CREATE VIEW` becomes `CREATE OR REPLACE VIEW`, so a file
/// registers again when options change.
pub fn bundled_statement_list(
    file: &QueryFile,
    params: &HashMap<&str, String>,
) -> Result<Vec<String>> {
    Ok(statements(&render(file, params)?)
        .into_iter()
        .filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
        .map(|s| s.replacen("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
        .collect())
}

/// Splits a file into statements at `;` outside quotes and comments.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            current.push(c);
            if c == '\'' {
                in_string = false;
            }
            continue;
        }
        match c {
            '\'' => {
                in_string = true;
                current.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            ';' => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_strings_and_comments() {
        let s = statements("-- a; comment\nSELECT 'x;y';\nSELECT 2 -- c;\n;");
        assert_eq!(s, vec!["SELECT 'x;y'", "SELECT 2"]);
    }

    #[test]
    fn string_literals_escape_quotes() {
        assert_eq!(string_literal("o'neil"), "'o''neil'");
    }

    #[test]
    fn render_rejects_unknown_parameters() {
        let f = QueryFile {
            path: "t.sql",
            sql: "SELECT {{a}}, {{b}}",
        };
        let mut p = HashMap::new();
        p.insert("a", "1".to_string());
        assert!(render(&f, &p).is_err());
        p.insert("b", "2".to_string());
        assert_eq!(render(&f, &p).unwrap(), "SELECT 1, 2");
    }
}
