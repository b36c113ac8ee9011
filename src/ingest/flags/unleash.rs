//! `doralens ingest unleash`: flags and their history from Unleash's Admin
//! API (v8; `fixtures/unleash/README.md` cites the pages).
//!
//! - **Flags**: `GET /api/admin/search/features`, paged by `offset` and
//!   `limit` until `total` is reached (a limit over Unleash's maximum
//!   falls back to its default, so the offset advances by what came back).
//!   Archived flags are listed only with `archived=IS:true`, which doralens
//!   asks for only with `--archived`. Each active flag is then read from
//!   `GET /api/admin/projects/:project/features/:name` for its creator,
//!   lifecycle stage and archive time (archived flags answer 404 there, so
//!   they keep what the search gave). Every run lists all flags: an Unleash
//!   instance has hundreds, not millions.
//! - **Expected lifetime** per flag type, as Unleash defines it (migration
//!   20200805091409 and the `sunset` type): release 40 days, experiment 40,
//!   operational 7, sunset 90, kill-switch and permission none (never
//!   potentially stale).
//! - **Events**: `GET /api/admin/search/events` (`from=IS:yyyy-MM-dd`,
//!   `offset`, `limit`, `project=IS:<p>` per scope) walked to the end of
//!   `total`; a page that ends early or overshoots `total` fails the sync.
//!   Mapping: `feature-environment-enabled` → enabled, `-disabled` →
//!   disabled, `feature-strategy-add/-update` → rollout-changed when the
//!   strategy's `rollout` parameter changed (with the new percentage), else
//!   strategy-changed, `feature-strategy-remove` → strategy-changed,
//!   `feature-archived` → archived; other types are skipped. A change
//!   applied through a change request keeps its `groupId`.
//! - **Incremental**: a cursor per scope (a project, or every project)
//!   holds the day of the newest event stored; the next run reads from
//!   that day (events are upserted by id, so the day read twice is
//!   harmless).
//! - **Services**: `[unleash.services]` maps a tag (`type:value` or
//!   `value`) or the project to a service; unmapped flags keep the project.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};
use crate::store::rows::{FlagEventRow, FlagRow};

pub const TOKEN_ENV: &str = "UNLEASH_TOKEN";
const NAME: &str = "unleash";
/// Unleash's default page; a larger limit than its maximum falls back to it.
const PAGE: usize = 50;
/// The scope syncing every project.
const ALL: &str = "all-projects";

#[derive(Debug, Clone)]
pub struct UnleashOptions {
    /// The Unleash root, e.g. https://unleash.example.com (no `/api`).
    pub api_url: String,
    /// Projects to sync, each its own scope; empty: every project.
    pub projects: Vec<String>,
    /// Also list archived flags.
    pub archived: bool,
    /// Tag or project → doralens service.
    pub services: Vec<(String, String)>,
    /// Events from this day on, on a first or full run.
    pub since: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnleashCursor {
    /// The day (yyyy-MM-dd) of the newest event stored.
    pub events_from: Option<String>,
}

/// Expected lifetime in days of a flag type (None: never potentially stale).
pub fn expected_lifetime(kind: &str) -> Option<i64> {
    match kind {
        "release" | "experiment" => Some(40),
        "operational" => Some(7),
        "sunset" => Some(90),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
struct FeaturePage {
    #[serde(default)]
    features: Vec<Feature>,
    total: Option<usize>,
}

/// A flag, from the search or the single-flag endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feature {
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub stale: Option<bool>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub archived_at: Option<String>,
    /// A user object (`{id, name}`) or a name.
    #[serde(default)]
    pub created_by: Option<Value>,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
pub struct Lifecycle {
    #[serde(default)]
    pub stage: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
struct EventPage {
    #[serde(default)]
    events: Vec<Event>,
    total: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: i64,
    pub created_at: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub feature_name: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub pre_data: Option<Value>,
    #[serde(default)]
    pub group_type: Option<String>,
    #[serde(default)]
    pub group_id: Option<Value>,
}

fn user_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("username"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// A strategy's `rollout` parameter (a string such as "50") as 0-100.
fn rollout(strategy: Option<&Value>) -> Option<i64> {
    let v = strategy?.get("parameters")?.get("rollout")?;
    let n = match v {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    (0.0..=100.0).contains(&n).then(|| n.round() as i64)
}

impl Feature {
    /// The flag as a row; `detail` is its single-flag answer when read.
    pub fn row(&self, detail: Option<&Feature>, services: &ServiceMap) -> Result<FlagRow> {
        let project = self
            .project
            .clone()
            .or_else(|| detail.and_then(|d| d.project.clone()))
            .unwrap_or_else(|| "default".into());
        let time = |field: &str, v: Option<&str>| -> Result<Option<Timestamp>> {
            match v {
                None => Ok(None),
                Some(s) => Timestamp::parse_rfc3339(s)
                    .map(Some)
                    .ok_or_else(|| Error::Forge {
                        forge: NAME,
                        repo: project.clone(),
                        message: format!(
                            "flag {}: `{field}` {s:?} is not an RFC 3339 time",
                            self.name
                        ),
                    }),
            }
        };
        let pick = |f: fn(&Feature) -> Option<&str>| detail.and_then(f).or_else(|| f(self));
        let kind = pick(|f| f.kind.as_deref()).map(str::to_ascii_lowercase);
        let tags: Vec<String> = self
            .tags
            .iter()
            .flat_map(|t| [format!("{}:{}", t.kind, t.value), t.value.clone()])
            .collect();
        let mut keys: Vec<&str> = tags.iter().map(String::as_str).collect();
        keys.push(&project);
        let known = kind
            .as_deref()
            .filter(|k| crate::store::schema::FLAG_KINDS.contains(k));
        Ok(FlagRow {
            key: self.name.clone(),
            project: project.clone(),
            kind: known.map(str::to_string),
            created_at: time("createdAt", pick(|f| f.created_at.as_deref()))?,
            created_by: detail
                .and_then(|d| d.created_by.as_ref())
                .or(self.created_by.as_ref())
                .and_then(user_name),
            owner: None,
            archived_at: time("archivedAt", pick(|f| f.archived_at.as_deref()))?,
            stale: detail.and_then(|d| d.stale).or(self.stale),
            lifecycle_stage: pick(|f| f.lifecycle.as_ref()?.stage.as_deref()).map(str::to_string),
            expected_lifetime_days: known.and_then(expected_lifetime),
            service: services.map(&keys),
        })
    }
}

impl Event {
    /// The event as a row, or None for a type doralens does not keep.
    pub fn row(&self) -> Result<Option<FlagEventRow>> {
        let rollout_now = rollout(self.data.as_ref());
        let kind = match self.kind.as_str() {
            "feature-environment-enabled" => "enabled",
            "feature-environment-disabled" => "disabled",
            "feature-strategy-add" | "feature-strategy-update"
                if rollout_now.is_some() && rollout_now != rollout(self.pre_data.as_ref()) =>
            {
                "rollout-changed"
            }
            "feature-strategy-add" | "feature-strategy-update" | "feature-strategy-remove" => {
                "strategy-changed"
            }
            "feature-archived" => "archived",
            _ => return Ok(None),
        };
        let Some(flag) = self.feature_name.clone().filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let at = Timestamp::parse_rfc3339(&self.created_at).ok_or_else(|| Error::Forge {
            forge: NAME,
            repo: self.project.clone().unwrap_or_default(),
            message: format!("event {}: `createdAt` is not an RFC 3339 time", self.id),
        })?;
        let change_request = (self.group_type.as_deref() == Some("change-request"))
            .then(|| match self.group_id.as_ref()? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .flatten();
        Ok(Some(FlagEventRow {
            id: format!("unleash:{}", self.id),
            flag_key: flag,
            project: self.project.clone().unwrap_or_else(|| "default".into()),
            environment: self.environment.clone().filter(|e| !e.is_empty()),
            at,
            actor: self.created_by.clone().filter(|a| !a.is_empty()),
            kind: kind.into(),
            rollout_percentage: (kind == "rollout-changed").then_some(rollout_now).flatten(),
            change_request,
        }))
    }
}

pub struct Unleash {
    client: ApiClient,
    options: UnleashOptions,
    services: ServiceMap,
}

impl Unleash {
    pub fn new(options: UnleashOptions, notify: Notify) -> Result<Self> {
        let token =
            crate::ingest::client::http::token_from_env(NAME, TOKEN_ENV)?.ok_or_else(|| {
                Error::Token {
                    forge: NAME,
                    message: format!(
                        "{TOKEN_ENV} is not set: create an admin or personal access token \
                     (Admin → API access, or your profile) and export it as {TOKEN_ENV}"
                    ),
                }
            })?;
        let client = ApiClient::new(
            NAME,
            TOKEN_ENV,
            options.api_url.trim_end_matches('/'),
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value: token,
            }),
            notify,
        )?;
        Ok(Unleash {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services.report(NAME, "unleash.services", notify);
    }

    fn bad(scope: &str, what: &str, message: String) -> Error {
        Error::Forge {
            forge: NAME,
            repo: scope.into(),
            message: format!("{what}: {message}"),
        }
    }

    /// Every flag of the scope (archived ones when `archived`).
    async fn features(&self, scope: &str, archived: bool) -> Result<Vec<Feature>> {
        const PATH: &str = "/api/admin/search/features";
        let mut out = Vec::new();
        loop {
            let mut query = vec![
                ("offset", out.len().to_string()),
                ("limit", PAGE.to_string()),
            ];
            if scope != ALL {
                query.push(("project", format!("IS:{scope}")));
            }
            if archived {
                query.push(("archived", "IS:true".into()));
            }
            let answer = self.client.get_json(scope, PATH, &query).await?;
            let page: FeaturePage = serde_json::from_value(answer)
                .map_err(|e| Self::bad(scope, PATH, format!("not a page of flags ({e})")))?;
            let got = page.features.len();
            out.extend(page.features);
            let total = page
                .total
                .ok_or_else(|| Self::bad(scope, PATH, "the answer has no `total`".into()))?;
            check_paging(scope, PATH, out.len(), got, total)?;
            if out.len() == total {
                return Ok(out);
            }
        }
    }

    /// The single-flag answer (None for 404: archived meanwhile).
    async fn detail(&self, project: &str, name: &str) -> Result<Option<Feature>> {
        let path = format!(
            "/api/admin/projects/{}/features/{}",
            super::encode(project),
            super::encode(name)
        );
        match self.client.get_json(project, &path, &[]).await {
            Ok(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| Self::bad(project, &path, format!("not a flag ({e})"))),
            Err(Error::Forge { message, .. }) if message.contains("HTTP 404") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// [`super::check_paging`] on `total`: the list ends when it is reached.
fn check_paging(scope: &str, path: &str, seen: usize, got: usize, total: usize) -> Result<()> {
    super::check_paging("total", seen, got, total, seen >= total)
        .map_err(|m| Unleash::bad(scope, path, m))
}

impl Source for Unleash {
    type Cursor = UnleashCursor;

    fn name(&self) -> &'static str {
        NAME
    }

    fn scopes(&self) -> Vec<String> {
        if self.options.projects.is_empty() {
            vec![ALL.to_string()]
        } else {
            self.options.projects.clone()
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["flags", "flag_events"]
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, UnleashCursor>) -> Result<()> {
        let scope = sync.scope.clone();
        // Flags: the whole list every run.
        let mut rows = Vec::new();
        for feature in self.features(&scope, false).await? {
            let project = feature.project.clone().unwrap_or_else(|| "default".into());
            let detail = self.detail(&project, &feature.name).await?;
            rows.push(feature.row(detail.as_ref(), &self.services)?);
        }
        if self.options.archived {
            for feature in self.features(&scope, true).await? {
                rows.push(feature.row(None, &self.services)?);
            }
        }
        sync.write_flags(&rows, &[], |_| {})?;
        // Events: from the cursor's day (or `since`) to the end.
        const PATH: &str = "/api/admin/search/events";
        let from = sync
            .cursor
            .events_from
            .clone()
            .unwrap_or_else(|| self.options.since.date());
        let mut seen = 0;
        let mut skipped = 0;
        let mut newest = sync.cursor.events_from.clone();
        loop {
            let mut query = vec![
                ("from", format!("IS:{from}")),
                ("offset", seen.to_string()),
                ("limit", PAGE.to_string()),
            ];
            if scope != ALL {
                query.push(("project", format!("IS:{scope}")));
            }
            let answer = self.client.get_json(&scope, PATH, &query).await?;
            let page: EventPage = serde_json::from_value(answer)
                .map_err(|e| Self::bad(&scope, PATH, format!("not a page of events ({e})")))?;
            let got = page.events.len();
            seen += got;
            let total = page
                .total
                .ok_or_else(|| Self::bad(&scope, PATH, "the answer has no `total`".into()))?;
            check_paging(&scope, PATH, seen, got, total)?;
            let mut events = Vec::new();
            for event in &page.events {
                match event.row()? {
                    Some(row) => {
                        let day = row.at.date();
                        if newest.as_ref().is_none_or(|n| *n < day) {
                            newest = Some(day);
                        }
                        events.push(row);
                    }
                    None => skipped += 1,
                }
            }
            let cursor = newest.clone();
            let done = seen == total;
            // The cursor moves only once the walk is complete: events come
            // newest first, so an interrupted walk must start again.
            sync.write_flags(&[], &events, |c| {
                if done {
                    c.events_from = cursor;
                }
            })?;
            if done {
                break;
            }
        }
        sync.skipped(skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/unleash")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn lifetimes_follow_unleash_flag_types() {
        assert_eq!(expected_lifetime("release"), Some(40));
        assert_eq!(expected_lifetime("experiment"), Some(40));
        assert_eq!(expected_lifetime("operational"), Some(7));
        assert_eq!(expected_lifetime("sunset"), Some(90));
        assert_eq!(expected_lifetime("kill-switch"), None);
        assert_eq!(expected_lifetime("permission"), None);
    }

    #[test]
    fn events_map_to_flag_event_kinds_with_rollout_and_change_request() {
        let page: EventPage = serde_json::from_value(fixture("events.json")).unwrap();
        let rows: Vec<FlagEventRow> = page
            .events
            .iter()
            .filter_map(|e| e.row().unwrap())
            .collect();
        let kinds: Vec<(&str, &str, Option<i64>, Option<&str>)> = rows
            .iter()
            .map(|r| {
                (
                    r.id.as_str(),
                    r.kind.as_str(),
                    r.rollout_percentage,
                    r.change_request.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("unleash:106", "archived", None, None),
                ("unleash:105", "disabled", None, None),
                ("unleash:104", "rollout-changed", Some(100), Some("42")),
                ("unleash:103", "enabled", None, None),
                ("unleash:102", "rollout-changed", Some(10), None),
            ]
        );
        assert_eq!(rows[1].environment.as_deref(), Some("production"));
        assert_eq!(rows[1].actor.as_deref(), Some("ada@acme.example"));
    }

    #[test]
    fn flags_take_the_detail_and_map_tags_or_project_to_services() {
        let page: FeaturePage = serde_json::from_value(fixture("features.json")).unwrap();
        let detail: Feature = serde_json::from_value(fixture("feature-new-checkout.json")).unwrap();
        let services = ServiceMap::new([("service:checkout".to_string(), "api".to_string())]);
        let row = page.features[0].row(Some(&detail), &services).unwrap();
        assert_eq!(row.key, "new-checkout");
        assert_eq!(row.kind.as_deref(), Some("release"));
        assert_eq!(row.lifecycle_stage.as_deref(), Some("live"));
        assert_eq!(row.created_by.as_deref(), Some("Ada Lovelace"));
        assert_eq!(row.expected_lifetime_days, Some(40));
        assert_eq!(row.service.as_deref(), Some("api"));
        assert_eq!(row.stale, Some(false));
        let kill = page.features[1].row(None, &services).unwrap();
        assert_eq!(kill.kind.as_deref(), Some("kill-switch"));
        assert_eq!(kill.expected_lifetime_days, None);
        assert_eq!(kill.service.as_deref(), Some("payments"));
    }
}
