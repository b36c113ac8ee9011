//! `doralens ingest jira`: incidents tracked as Jira issues (Jira Cloud
//! REST API v3).
//!
//! - `GET /rest/api/3/search/jql` (the enhanced search; the old `/search`
//!   is gone from Jira Cloud) with an explicit `fields` list and
//!   `maxResults`, paged by `nextPageToken` until `isLast`. Issues are asked
//!   for in `updated` order, so the cursor can follow each page.
//! - **Authentication**: `JIRA_EMAIL` + `JIRA_TOKEN` (an Atlassian API
//!   token) as Basic auth; `JIRA_TOKEN` alone is sent as a bearer token (a
//!   personal access token).
//! - **Scopes** are project keys (`project = "OPS" AND issuetype =
//!   "Incident"`), each with its own cursor; or one scope `jql` running the
//!   configured JQL as given.
//! - **Mapping** (README "Jira"): id = the issue key (`OPS-12`); title =
//!   `summary`; severity = the priority's name; `created`; `resolved_at` =
//!   `resolutiondate` (null while unresolved); the service from the first
//!   component (or a configured field), mapped through `[jira.services]`;
//!   a configured field naming a deployment id or a commit sets the
//!   explicit link.
//! - **Incremental**: the next run asks for issues `updated` since the
//!   cursor less a day (JQL dates are in the user's time zone), of any
//!   type, so an issue that stopped being an incident is seen and deleted.
//!   A full run deletes the project's incidents it stored and no longer
//!   lists; only ids this source stored (kept in its cursor) are deleted.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base::time::{Span, Timestamp};
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};
use crate::store::rows::IncidentRow;

pub const TOKEN_ENV: &str = "JIRA_TOKEN";
pub const EMAIL_ENV: &str = "JIRA_EMAIL";
const PAGE: usize = 100;
const OVERLAP: Span = Span::days(1);
/// The scope of a configured JQL query.
pub const JQL_SCOPE: &str = "jql";

#[derive(Debug, Clone)]
pub struct JiraOptions {
    /// The site, e.g. `https://acme.atlassian.net`.
    pub url: String,
    /// Project keys, each a scope.
    pub projects: Vec<String>,
    /// Instead of projects: this JQL selects the incidents.
    pub jql: Option<String>,
    pub issue_type: String,
    /// `components` (default) or a field id such as `customfield_10040`.
    pub service_field: String,
    /// A field holding the id of the deployment that caused the incident.
    pub deployment_field: Option<String>,
    /// A field holding the root-cause commit.
    pub commit_field: Option<String>,
    /// A field holding either: a stored deployment's id, else a commit
    /// sha (see [`crate::ingest::tracker::link_field`]).
    pub link_field: Option<String>,
    /// Where a first (or `--full`) sync starts.
    pub since: Timestamp,
    /// Jira component or field value → doralens service.
    pub services: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct JiraCursor {
    /// The newest `updated` seen (µs).
    pub updated: Option<i64>,
    /// The query the rows answer: another query reads from `since` again.
    #[serde(default)]
    pub query: String,
    /// The incidents this source stored for the scope: only these are ever
    /// deleted (never an incident another source wrote with a like key).
    #[serde(default)]
    pub ids: Vec<String>,
}

pub struct Jira {
    client: ApiClient,
    options: JiraOptions,
    services: ServiceMap,
}

/// Jira's `2026-11-10T10:00:00.000+0000` (also RFC 3339).
pub fn parse_jira_time(s: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(s).or_else(|| {
        chrono::DateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f%z")
            .ok()
            .map(|t| Timestamp::from_micros(t.timestamp_micros()))
    })
}

/// Base64 (standard alphabet, padded) for the Basic header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A field's text: a string, a number, or an option/user/version object's
/// `value` or `name`.
fn field_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o
            .get("value")
            .or_else(|| o.get("name"))
            .and_then(field_text),
        Value::Array(items) => items.iter().find_map(field_text),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    issues: Vec<Issue>,
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(default, rename = "isLast")]
    is_last: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Issue {
    pub key: String,
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,
}

impl Issue {
    /// The stored row, or None when the issue is not an incident (its type
    /// is not the configured one, on a project scope).
    pub fn row(
        &self,
        options: &JiraOptions,
        services: &ServiceMap,
        check_type: bool,
    ) -> Result<Option<IncidentRow>> {
        let text = |name: &str| self.fields.get(name).and_then(field_text);
        if check_type {
            let kind = self
                .fields
                .get("issuetype")
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !kind.eq_ignore_ascii_case(&options.issue_type) {
                return Ok(None);
            }
        }
        let time = |name: &str| -> Result<Option<Timestamp>> {
            match self.fields.get(name).and_then(Value::as_str) {
                None => Ok(None),
                Some(s) => parse_jira_time(s).map(Some).ok_or_else(|| Error::Forge {
                    forge: "jira",
                    repo: self.key.clone(),
                    message: format!("`{name}` is not a date and time: {s}"),
                }),
            }
        };
        let created_at = time("created")?.ok_or_else(|| Error::Forge {
            forge: "jira",
            repo: self.key.clone(),
            message: "the issue has no `created` field; keep `created` in the requested fields"
                .into(),
        })?;
        let service =
            text(&options.service_field).and_then(|value| services.map(&[value.as_str()]));
        let sha = options
            .commit_field
            .as_deref()
            .and_then(text)
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| crate::ingest::tracker::link_field::is_sha(s));
        Ok(Some(IncidentRow {
            id: self.key.clone(),
            service,
            title: text("summary"),
            severity: self
                .fields
                .get("priority")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            created_at,
            resolved_at: time("resolutiondate")?,
            deployment_id: options.deployment_field.as_deref().and_then(text),
            sha,
            recovery_flag: None,
        }))
    }
}

fn jql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn jql_time(t: Timestamp) -> String {
    // JQL's "yyyy-MM-dd HH:mm" (minutes; read in the user's time zone,
    // which the day of overlap absorbs).
    let s = t.to_string();
    format!("\"{} {}\"", &s[..10], &s[11..16])
}

impl Jira {
    pub fn new(options: JiraOptions, notify: Notify) -> Result<Self> {
        let token = crate::ingest::client::http::token_from_env("jira", TOKEN_ENV)?.ok_or_else(|| Error::Token {
            forge: "jira",
            message: format!(
                "{TOKEN_ENV} is not set: create an API token (id.atlassian.com → Security → API \
                 tokens) and export it as {TOKEN_ENV}, with your account's email as {EMAIL_ENV}"
            ),
        })?;
        let value = match crate::ingest::client::http::token_from_env("jira", EMAIL_ENV)? {
            Some(email) => format!("Basic {}", base64(format!("{email}:{token}").as_bytes())),
            None => format!("Bearer {token}"),
        };
        let client = ApiClient::new(
            "jira",
            TOKEN_ENV,
            &options.url,
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value,
            }),
            notify,
        )?;
        Ok(Jira {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services.report("jira", "jira.services", notify);
    }

    fn fields(&self) -> String {
        let mut fields = vec![
            "summary",
            "created",
            "updated",
            "resolutiondate",
            "priority",
            "issuetype",
            self.options.service_field.as_str(),
        ];
        fields.extend(self.options.deployment_field.as_deref());
        fields.extend(self.options.commit_field.as_deref());
        fields.extend(self.options.link_field.as_deref());
        fields.dedup();
        fields.join(",")
    }

    /// The JQL for a scope: (full) the incidents created since `since`, or
    /// (incremental) every issue updated since `after`.
    fn jql(&self, scope: &str, after: Option<Timestamp>) -> String {
        let selection = if scope == JQL_SCOPE {
            format!("({})", self.options.jql.clone().unwrap_or_default())
        } else {
            match after {
                Some(_) => format!("project = {}", jql_string(scope)),
                None => format!(
                    "project = {} AND issuetype = {}",
                    jql_string(scope),
                    jql_string(&self.options.issue_type)
                ),
            }
        };
        let since = match after {
            Some(t) => format!("updated >= {}", jql_time(t)),
            None => format!("created >= {}", jql_time(self.options.since)),
        };
        format!("{selection} AND {since} ORDER BY updated ASC")
    }
}

impl Source for Jira {
    type Cursor = JiraCursor;

    fn name(&self) -> &'static str {
        "jira"
    }

    fn scopes(&self) -> Vec<String> {
        if self.options.jql.is_some() {
            vec![JQL_SCOPE.to_string()]
        } else {
            self.options.projects.clone()
        }
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, JiraCursor>) -> Result<()> {
        // Read before this run's pages overwrite it (a full run starts from
        // an empty cursor).
        let stored_before: HashSet<String> = sync
            .previous()?
            .map(|c| c.ids.into_iter().collect())
            .unwrap_or_default();
        let query = format!(
            "{} type={} fields={}",
            self.options.jql.clone().unwrap_or_default(),
            self.options.issue_type,
            self.fields()
        );
        let after = match sync.cursor.updated {
            Some(u) if sync.incremental() && sync.cursor.query == query => {
                Some(Timestamp::from_micros(u) - OVERLAP)
            }
            _ => None,
        };
        sync.cursor.query = query;
        let scope = sync.scope.clone();
        let jql = self.jql(&scope, after);
        let fields = self.fields();
        let check_type = scope != JQL_SCOPE;
        let mut token: Option<String> = None;
        let mut listed: HashSet<String> = HashSet::new();
        let mut gone: Vec<String> = Vec::new();
        loop {
            let mut query = vec![
                ("jql", jql.clone()),
                ("fields", fields.clone()),
                ("maxResults", PAGE.to_string()),
            ];
            if let Some(t) = &token {
                query.push(("nextPageToken", t.clone()));
            }
            let answer = self
                .client
                .get_json(&scope, "/rest/api/3/search/jql", &query)
                .await?;
            let page: SearchPage = serde_json::from_value(answer).map_err(|e| Error::Forge {
                forge: "jira",
                repo: scope.clone(),
                message: format!(
                    "/rest/api/3/search/jql: the answer is not a page of issues ({e})"
                ),
            })?;
            let mut rows = Vec::new();
            let mut newest = sync.cursor.updated;
            for issue in &page.issues {
                if let Some(u) = issue
                    .fields
                    .get("updated")
                    .and_then(Value::as_str)
                    .and_then(parse_jira_time)
                {
                    newest = Some(newest.map_or(u.micros(), |n| n.max(u.micros())));
                }
                match issue.row(&self.options, &self.services, check_type)? {
                    Some(mut row) => {
                        let link = self
                            .options
                            .link_field
                            .as_deref()
                            .and_then(|f| issue.fields.get(f).and_then(field_text));
                        sync.link(&mut row, link.as_deref())?;
                        listed.insert(row.id.clone());
                        rows.push(row);
                    }
                    None => gone.push(issue.key.clone()),
                }
            }
            sync.write(&rows, &[], |c| c.updated = newest)?;
            token = page.next_page_token.filter(|t| !t.is_empty());
            if page.is_last.unwrap_or(token.is_none()) || token.is_none() || page.issues.is_empty()
            {
                break;
            }
        }
        // Issues that are no longer incidents; on a full run of a project,
        // also the ones it stored before and no longer lists.
        let mut stale: HashSet<String> = HashSet::new();
        if check_type {
            stale.extend(gone);
            if after.is_none() {
                stale.extend(
                    stored_before
                        .iter()
                        .filter(|id| !listed.contains(*id))
                        .cloned(),
                );
            }
        }
        let stale: Vec<String> = stale
            .into_iter()
            .filter(|id| stored_before.contains(id))
            .collect();
        sync.delete_incidents(&stale)?;
        let mut ids: Vec<String> = stored_before
            .into_iter()
            .chain(listed)
            .filter(|id| !stale.contains(id))
            .collect();
        ids.sort();
        ids.dedup();
        sync.write(&[], &[], |c| c.ids = ids)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> JiraOptions {
        JiraOptions {
            url: "https://acme.atlassian.net".into(),
            projects: vec!["OPS".into()],
            jql: None,
            issue_type: "Incident".into(),
            service_field: "components".into(),
            deployment_field: Some("customfield_10050".into()),
            commit_field: Some("customfield_10051".into()),
            link_field: None,
            since: Timestamp::EPOCH,
            services: vec![],
        }
    }

    #[test]
    fn jira_times_and_basic_auth() {
        assert_eq!(
            parse_jira_time("2026-11-10T10:00:00.000+0100")
                .unwrap()
                .to_string(),
            "2026-11-10T09:00:00Z"
        );
        assert_eq!(base64(b"a@b.c:tok"), "YUBiLmM6dG9r");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn issues_map_to_incidents() {
        let issue: Issue = serde_json::from_value(json!({
            "key": "OPS-12",
            "fields": {
                "summary": "Checkout down",
                "created": "2026-11-10T10:00:00.000+0000",
                "resolutiondate": "2026-11-10T12:30:00.000+0000",
                "priority": {"name": "Highest", "id": "1"},
                "issuetype": {"name": "Incident"},
                "components": [{"id": "10000", "name": "Checkout API"}],
                "customfield_10050": "acme/api/deployments/7",
                "customfield_10051": "ABCDEF1"
            }
        }))
        .unwrap();
        let row = issue
            .row(&options(), &ServiceMap::default(), true)
            .unwrap()
            .unwrap();
        assert_eq!(row.id, "OPS-12");
        assert_eq!(row.service.as_deref(), Some("Checkout API"));
        assert_eq!(row.severity.as_deref(), Some("Highest"));
        assert_eq!(row.resolved_at.unwrap().to_string(), "2026-11-10T12:30:00Z");
        assert_eq!(row.deployment_id.as_deref(), Some("acme/api/deployments/7"));
        assert_eq!(row.sha.as_deref(), Some("abcdef1"));
        let mut task = issue;
        task.fields
            .insert("issuetype".into(), json!({"name": "Task"}));
        assert_eq!(
            task.row(&options(), &ServiceMap::default(), true).unwrap(),
            None
        );
    }
}
