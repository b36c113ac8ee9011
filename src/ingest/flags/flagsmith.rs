//! `doralens ingest flagsmith`: flags and their history from Flagsmith's
//! Admin API (`fixtures/flagsmith/README.md` cites the pages).
//!
//! - **Flags**: `GET /api/v1/projects/{id}/features/`, every feature of the
//!   project (archived ones included), paged as Django REST framework pages
//!   (`{count, next, previous, results}`, at most 999 a page): `next` is
//!   followed to the end and the items must add up to `count`.
//! - **Kinds**: Flagsmith has no flag kinds, only STANDARD and MULTIVARIATE
//!   features: STANDARD is stored as `release`, MULTIVARIATE (variants) as
//!   `experiment`. No expected lifetime (Flagsmith defines none), no stale
//!   mark and no lifecycle stage (Flagsmith computes those per environment
//!   only when a list is asked for one).
//! - **Archived**: a feature only says `is_archived`. `archived_at` is the
//!   time of its archive entry in the audit log when one was read, else the
//!   time of the first sync that saw it archived (both kept in the cursor
//!   and carried over a full run, so they do not move).
//! - **Events**: the project's audit log
//!   `GET /api/v1/projects/{id}/audit/`, newest first, walked back to the
//!   cursor (or `since`). The list does not say what changed, so the detail
//!   `GET /api/v1/projects/{id}/audit/{audit_id}/` (`change_details`,
//!   `change_type`) is read for feature-state entries and feature updates
//!   only. Mapping: an environment's own feature state whose `enabled` went
//!   false → true is `enabled`, true → false `disabled`; any other change
//!   of a feature state (values, segment overrides) is `strategy-changed`;
//!   a feature whose `is_archived` went false → true is `archived`.
//!   Identity overrides (one user), creations and deletions are skipped.
//!   The `is_system_event` filter is never sent: Flagsmith keeps only
//!   system events once it is given at all.
//! - **Incremental**: a cursor per project holds the newest entry's time;
//!   the next run stops at the first entry older than it (entries are
//!   upserted by id, so an entry read twice is harmless).
//! - **Auth**: `Authorization: Api-Key <key>` (an Organisation API key),
//!   or `FLAGSMITH_TOKEN` as it is when it names its scheme.
//! - **Requests** per project: one per 999 features, one per 999 audit
//!   entries read, one per detail read.
//! - **Services**: `[flagsmith.services]` maps a tag (`tag:<id>`) or the
//!   project id to a service; unmapped flags keep the project id.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};
use crate::store::rows::{FlagEventRow, FlagRow};

pub const TOKEN_ENV: &str = "FLAGSMITH_TOKEN";
pub const DEFAULT_API_URL: &str = "https://api.flagsmith.com";
const NAME: &str = "flagsmith";
/// Flagsmith's largest page (`max_page_size`).
const PAGE: usize = 999;

#[derive(Debug, Clone)]
pub struct FlagsmithOptions {
    /// The API root, e.g. https://api.flagsmith.com (no `/api/v1`).
    pub api_url: String,
    /// Project ids, each its own scope.
    pub projects: Vec<String>,
    /// Tag (`tag:<id>`) or project id → doralens service.
    pub services: Vec<(String, String)>,
    /// Audit entries from this instant on, on a first or full run.
    pub since: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlagsmithCursor {
    /// The time (RFC 3339) of the newest audit entry read.
    pub newest: Option<String>,
    /// Feature name → the time of its newest archive entry (RFC 3339).
    #[serde(default)]
    pub archived: BTreeMap<String, String>,
    /// Archived feature name → the first sync that saw it archived, for
    /// those whose archive entry was never read.
    #[serde(default)]
    pub archived_seen: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    count: Option<usize>,
    next: Option<String>,
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct Feature {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub created_date: Option<String>,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub owners: Vec<User>,
    /// Tag ids.
    #[serde(default)]
    pub tags: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Environment {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ChangeDetail {
    pub field: String,
    #[serde(default)]
    pub old: Value,
    #[serde(default)]
    pub new: Value,
}

/// An audit log entry; the detail view adds `change_details` and
/// `change_type`.
#[derive(Debug, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub created_date: String,
    #[serde(default)]
    pub log: String,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub environment: Option<Environment>,
    #[serde(default)]
    pub related_object_id: Option<i64>,
    #[serde(default)]
    pub related_object_type: Option<String>,
    #[serde(default)]
    pub change_details: Vec<ChangeDetail>,
    #[serde(default)]
    pub change_type: Option<String>,
}

/// A flag kind for a Flagsmith feature type.
pub fn kind(feature_type: &str) -> Option<&'static str> {
    match feature_type {
        "STANDARD" => Some("release"),
        "MULTIVARIATE" => Some("experiment"),
        _ => None,
    }
}

fn bad(scope: &str, what: &str, message: String) -> Error {
    Error::Forge {
        forge: NAME,
        repo: scope.into(),
        message: format!("{what}: {message}"),
    }
}

fn time(scope: &str, what: &str, s: &str) -> Result<Timestamp> {
    Timestamp::parse_rfc3339(s)
        .ok_or_else(|| bad(scope, what, format!("{s:?} is not an RFC 3339 time")))
}

impl Feature {
    /// The flag as a row; `archived_at` from the audit log or the cursor.
    pub fn row(
        &self,
        project: &str,
        archived_at: Option<Timestamp>,
        services: &ServiceMap,
    ) -> Result<FlagRow> {
        let what = format!("feature {}", self.name);
        let created_at = match self.created_date.as_deref() {
            Some(s) => Some(time(project, &what, s)?),
            None => None,
        };
        let tags: Vec<String> = self.tags.iter().map(|t| format!("tag:{t}")).collect();
        let mut keys: Vec<&str> = tags.iter().map(String::as_str).collect();
        keys.push(project);
        Ok(FlagRow {
            key: self.name.clone(),
            project: project.to_string(),
            kind: self.kind.as_deref().and_then(kind).map(str::to_string),
            created_at,
            created_by: None,
            owner: self
                .owners
                .first()
                .and_then(|o| o.email.clone())
                .filter(|e| !e.is_empty()),
            archived_at: if self.is_archived { archived_at } else { None },
            stale: None,
            lifecycle_stage: None,
            expected_lifetime_days: None,
            service: services.map(&keys),
        })
    }
}

/// What an audit entry needs before it can be mapped.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing doralens keeps.
    Skip,
    /// Its detail view (`change_details`).
    Detail,
}

/// The feature a feature-state entry's message names: `...for feature: X`
/// (optionally followed by ` by Change Request: ...` or ` by Release
/// pipeline: ...`) or `...for feature 'X' and segment 'Y'`.
fn feature_in_log(log: &str) -> Option<String> {
    if let Some((_, rest)) = log.split_once("for feature: ") {
        let name = [" by Change Request: ", " by Release pipeline: "]
            .iter()
            .filter_map(|sep| rest.split_once(sep).map(|(n, _)| n))
            .next()
            .unwrap_or(rest);
        return Some(name.trim().to_string()).filter(|n| !n.is_empty());
    }
    let (_, rest) = log.split_once("feature '")?;
    let (name, _) = rest.split_once("' and ")?;
    Some(name.to_string()).filter(|n| !n.is_empty())
}

fn is_identity_override(log: &str) -> bool {
    log.contains("' and identity '")
}

fn is_segment_override(log: &str) -> bool {
    log.contains("' and segment '")
}

impl Entry {
    /// Whether the list entry is worth its detail view.
    pub fn need(&self) -> Need {
        match self.related_object_type.as_deref() {
            Some("FEATURE_STATE") if !is_identity_override(&self.log) => Need::Detail,
            Some("FEATURE") if self.log.starts_with("Flag / Remote Config updated") => Need::Detail,
            _ => Need::Skip,
        }
    }

    fn changed(&self, field: &str) -> Option<(&Value, &Value)> {
        self.change_details
            .iter()
            .find(|c| c.field == field)
            .map(|c| (&c.old, &c.new))
            .filter(|(old, new)| old != new)
    }

    /// The detail entry as a row, or None for a change doralens does not
    /// keep. `features`: feature id → name.
    pub fn row(
        &self,
        project: &str,
        features: &HashMap<i64, String>,
    ) -> Result<Option<FlagEventRow>> {
        let (flag, kind, environment) = match self.related_object_type.as_deref() {
            Some("FEATURE") => {
                if self.changed("is_archived") != Some((&Value::Bool(false), &Value::Bool(true))) {
                    return Ok(None);
                }
                let flag = self
                    .related_object_id
                    .and_then(|id| features.get(&id).cloned())
                    .or_else(|| self.log.split_once(": ").map(|(_, n)| n.trim().to_string()));
                (flag, "archived", None)
            }
            Some("FEATURE_STATE") if !is_identity_override(&self.log) => {
                if self.change_type.as_deref() != Some("UPDATE")
                    && !(self.change_type.as_deref() == Some("CREATE")
                        && is_segment_override(&self.log))
                {
                    return Ok(None);
                }
                let kind = match self.changed("enabled") {
                    Some((Value::Bool(false), Value::Bool(true)))
                        if !is_segment_override(&self.log) =>
                    {
                        "enabled"
                    }
                    Some((Value::Bool(true), Value::Bool(false)))
                        if !is_segment_override(&self.log) =>
                    {
                        "disabled"
                    }
                    _ => "strategy-changed",
                };
                let environment = self.environment.as_ref().and_then(|e| e.name.clone());
                (feature_in_log(&self.log), kind, environment)
            }
            _ => return Ok(None),
        };
        let Some(flag) = flag.filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let at = time(
            project,
            &format!("audit entry {}: `created_date`", self.id),
            &self.created_date,
        )?;
        Ok(Some(FlagEventRow {
            id: format!("flagsmith:{}", self.id),
            flag_key: flag,
            project: project.to_string(),
            environment: environment.filter(|e| !e.is_empty()),
            at,
            actor: self
                .author
                .as_ref()
                .and_then(|a| a.email.clone())
                .filter(|e| !e.is_empty()),
            kind: kind.into(),
            rollout_percentage: None,
            change_request: None,
        }))
    }
}

pub struct Flagsmith {
    client: ApiClient,
    options: FlagsmithOptions,
    services: ServiceMap,
}

/// The query of a page's `next` link (its host may be the server's own
/// view of itself, so only the query is kept).
fn next_query(next: &str) -> Option<Vec<(String, String)>> {
    let url = url::Url::parse(next).ok()?;
    Some(url.query_pairs().into_owned().collect())
}

/// The `Authorization` value: an Organisation API key as documented
/// (`Api-Key <key>`), or the variable as it is when it already names a
/// scheme (`Token <user token>`, `Bearer <OIDC access token>`).
fn authorization(token: &str) -> String {
    let token = token.trim();
    match token.split_once(' ') {
        Some((scheme, _)) if ["Api-Key", "Token", "Bearer"].contains(&scheme) => token.to_string(),
        _ => format!("Api-Key {token}"),
    }
}

impl Flagsmith {
    pub fn new(options: FlagsmithOptions, notify: Notify) -> Result<Self> {
        let token =
            crate::ingest::client::http::token_from_env(NAME, TOKEN_ENV)?.ok_or_else(|| {
                Error::Token {
                    forge: NAME,
                    message: format!(
                        "{TOKEN_ENV} is not set: create an API key (Organisation \
                         settings → API Access) and export it as {TOKEN_ENV}"
                    ),
                }
            })?;
        let client = ApiClient::new(
            NAME,
            TOKEN_ENV,
            options.api_url.trim_end_matches('/'),
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value: authorization(&token),
            }),
            notify,
        )?;
        Ok(Flagsmith {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services.report(NAME, "flagsmith.services", notify);
    }

    fn features_path(project: &str) -> String {
        format!("/api/v1/projects/{}/features/", encode(project))
    }

    fn audit_path(project: &str) -> String {
        format!("/api/v1/projects/{}/audit/", encode(project))
    }

    /// One page: the first from `first`, the next ones from `next`.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        scope: &str,
        path: &str,
        next: Option<&str>,
    ) -> Result<Page<T>> {
        let query: Vec<(String, String)> = match next {
            None => vec![("page_size".into(), PAGE.to_string())],
            Some(n) => next_query(n)
                .ok_or_else(|| bad(scope, path, format!("`next` {n:?} is not a URL")))?,
        };
        let query: Vec<(&str, String)> =
            query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let answer = self.client.get_json(scope, path, &query).await?;
        serde_json::from_value(answer).map_err(|e| bad(scope, path, format!("not a page ({e})")))
    }

    /// Every feature of the project, archived ones included.
    async fn features(&self, scope: &str) -> Result<Vec<Feature>> {
        let path = Self::features_path(scope);
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page: Page<Feature> = self.page(scope, &path, next.as_deref()).await?;
            let got = page.results.len();
            out.extend(page.results);
            let count = page
                .count
                .ok_or_else(|| bad(scope, &path, "the answer has no `count`".into()))?;
            check_paging(scope, &path, out.len(), got, count, page.next.is_none())?;
            match page.next {
                Some(n) => next = Some(n),
                None => return Ok(out),
            }
        }
    }

    async fn detail(&self, scope: &str, id: i64) -> Result<Entry> {
        let path = format!("{}{id}/", Self::audit_path(scope));
        let answer = self.client.get_json(scope, &path, &[]).await?;
        serde_json::from_value(answer)
            .map_err(|e| bad(scope, &path, format!("not an audit log entry ({e})")))
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Fails when the pages and `count` disagree: an empty page before the
/// end, more items than `count`, or the last page short of it.
fn check_paging(
    scope: &str,
    path: &str,
    seen: usize,
    got: usize,
    count: usize,
    last: bool,
) -> Result<()> {
    if seen > count || (got == 0 && !last) || (last && seen != count) {
        return Err(bad(
            scope,
            path,
            format!(
                "the pages hold {seen} items but `count` says {count}; the list changed while \
                 it was read or the server pages differently: run the sync again"
            ),
        ));
    }
    Ok(())
}

impl Source for Flagsmith {
    type Cursor = FlagsmithCursor;

    fn name(&self) -> &'static str {
        NAME
    }

    fn scopes(&self) -> Vec<String> {
        self.options.projects.clone()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["flags", "flag_events"]
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, FlagsmithCursor>) -> Result<()> {
        let scope = sync.scope.clone();
        let features = self.features(&scope).await?;
        let names: HashMap<i64, String> = features.iter().map(|f| (f.id, f.name.clone())).collect();
        // Events: newest first, back to the cursor (or `since`).
        let path = Self::audit_path(&scope);
        let stop = match sync.cursor.newest.as_deref() {
            Some(n) => time(&scope, "the cursor", n)?,
            None => self.options.since,
        };
        let mut newest = sync
            .cursor
            .newest
            .as_deref()
            .and_then(Timestamp::parse_rfc3339);
        // Archive times survive a full run (its cursor starts empty).
        let kept: FlagsmithCursor = sync.previous()?.unwrap_or_default();
        let mut archived = kept.archived;
        let mut next: Option<String> = None;
        let mut seen = 0;
        let mut skipped = 0;
        loop {
            let page: Page<Entry> = self.page(&scope, &path, next.as_deref()).await?;
            let got = page.results.len();
            seen += got;
            let count = page
                .count
                .ok_or_else(|| bad(&scope, &path, "the answer has no `count`".into()))?;
            let mut reached = false;
            let mut events = Vec::new();
            for entry in &page.results {
                let at = time(
                    &scope,
                    &format!("audit entry {}: `created_date`", entry.id),
                    &entry.created_date,
                )?;
                if at < stop {
                    reached = true;
                    break;
                }
                if newest.is_none_or(|n| n < at) {
                    newest = Some(at);
                }
                let row = match entry.need() {
                    Need::Skip => None,
                    Need::Detail => self.detail(&scope, entry.id).await?.row(&scope, &names)?,
                };
                match row {
                    Some(row) => {
                        if row.kind == "archived" {
                            let known = archived.get(&row.flag_key);
                            if known.is_none_or(|k| Timestamp::parse_rfc3339(k) < Some(row.at)) {
                                archived.insert(row.flag_key.clone(), row.at.to_string());
                            }
                        }
                        events.push(row);
                    }
                    None => skipped += 1,
                }
            }
            if !reached {
                check_paging(&scope, &path, seen, got, count, page.next.is_none())?;
            }
            let done = reached || page.next.is_none();
            // The cursor moves only once the walk is complete: entries come
            // newest first, so an interrupted walk must start again.
            let cursor = newest.map(|n| n.to_string());
            sync.write_flags(&[], &events, |c| {
                if done {
                    c.newest = cursor;
                }
            })?;
            if done {
                break;
            }
            next = page.next;
        }
        if seen == 0 && sync.cursor.newest.is_none() && !features.is_empty() {
            sync.notify(&format!(
                "note: flagsmith {scope}: the audit log is empty: Flagsmith shows it only on \
                 plans that include it, and only as many days back as the plan allows"
            ));
        }
        // Flags, with the archive times known so far: the archive entry's,
        // else the first sync that saw the feature archived.
        let now = Timestamp::now().to_string();
        let mut first_seen = BTreeMap::new();
        let mut rows = Vec::new();
        for feature in &features {
            let at = if feature.is_archived {
                let seen = kept
                    .archived_seen
                    .get(&feature.name)
                    .cloned()
                    .unwrap_or_else(|| now.clone());
                let at = archived.get(&feature.name).cloned().unwrap_or_else(|| {
                    first_seen.insert(feature.name.clone(), seen.clone());
                    seen
                });
                Timestamp::parse_rfc3339(&at)
            } else {
                None
            };
            rows.push(feature.row(&scope, at, &self.services)?);
        }
        sync.write_flags(&rows, &[], |c| {
            c.archived = archived;
            c.archived_seen = first_seen;
        })?;
        sync.skipped(skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/flagsmith")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_key_is_sent_as_an_api_key_unless_it_names_its_scheme() {
        assert_eq!(authorization("ser.abc"), "Api-Key ser.abc");
        assert_eq!(authorization("Token 0123"), "Token 0123");
        assert_eq!(authorization("Bearer eyJ"), "Bearer eyJ");
    }

    #[test]
    fn feature_types_map_to_release_and_experiment() {
        assert_eq!(kind("STANDARD"), Some("release"));
        assert_eq!(kind("MULTIVARIATE"), Some("experiment"));
        assert_eq!(kind("OTHER"), None);
    }

    #[test]
    fn the_feature_is_read_from_the_log_message() {
        assert_eq!(
            feature_in_log("Flag state updated for feature: new-checkout").as_deref(),
            Some("new-checkout")
        );
        assert_eq!(
            feature_in_log(
                "Flag state / Remote config updated for feature: a-b by Change Request: Go live"
            )
            .as_deref(),
            Some("a-b")
        );
        assert_eq!(
            feature_in_log("Segment override created for feature 'x' and segment 'beta'")
                .as_deref(),
            Some("x")
        );
        assert_eq!(feature_in_log("Segment updated: beta"), None);
    }

    #[test]
    fn audit_details_map_to_flag_event_kinds() {
        let list: Page<Entry> = serde_json::from_value(fixture("audit.json")).unwrap();
        let needs: Vec<(i64, Need)> = list.results.iter().map(|e| (e.id, e.need())).collect();
        let wanted: Vec<i64> = needs
            .iter()
            .filter(|(_, n)| *n == Need::Detail)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(wanted, [509, 508, 507, 506, 505, 501]);
        let details: Vec<Entry> = serde_json::from_value(fixture("audit-details.json")).unwrap();
        let names = HashMap::from([(103, "old-banner".to_string())]);
        let rows: Vec<(String, String, Option<String>)> = details
            .iter()
            .filter(|d| wanted.contains(&d.id))
            .filter_map(|d| d.row("12", &names).unwrap())
            .map(|r| (r.id, r.kind, r.environment))
            .collect();
        let env = |s: &str| Some(s.to_string());
        assert_eq!(
            rows,
            vec![
                ("flagsmith:509".into(), "archived".into(), None),
                ("flagsmith:508".into(), "disabled".into(), env("production")),
                (
                    "flagsmith:507".into(),
                    "strategy-changed".into(),
                    env("production")
                ),
                (
                    "flagsmith:506".into(),
                    "strategy-changed".into(),
                    env("production")
                ),
                ("flagsmith:505".into(), "enabled".into(), env("production")),
                ("flagsmith:501".into(), "enabled".into(), env("development")),
            ]
        );
    }

    #[test]
    fn features_map_owner_kind_and_services() {
        let page: Page<Feature> = serde_json::from_value(fixture("features.json")).unwrap();
        let services = ServiceMap::new([("tag:7".to_string(), "api".to_string())]);
        let row = page.results[0].row("12", None, &services).unwrap();
        assert_eq!(row.key, "new-checkout");
        assert_eq!(row.kind.as_deref(), Some("release"));
        assert_eq!(row.owner.as_deref(), Some("ada@acme.example"));
        assert_eq!(row.service.as_deref(), Some("api"));
        assert_eq!(row.expected_lifetime_days, None);
        let test = page.results[1].row("12", None, &services).unwrap();
        assert_eq!(test.kind.as_deref(), Some("experiment"));
        assert_eq!(test.owner, None);
        assert_eq!(test.service.as_deref(), Some("12"));
        let at = Timestamp::parse_rfc3339("2026-11-18T16:00:00Z");
        let old = page.results[2].row("12", at, &services).unwrap();
        assert_eq!(old.archived_at, at);
        assert_eq!(
            page.results[0]
                .row("12", at, &services)
                .unwrap()
                .archived_at,
            None
        );
    }
}
