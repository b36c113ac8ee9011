//! `doralens ingest pagerduty`: incidents from PagerDuty's REST API v2.
//!
//! - `GET /incidents` (API reference "List incidents"), authenticated with
//!   `Authorization: Token token=<PAGERDUTY_TOKEN>` and the v2 `Accept`
//!   header; paged by `limit`/`offset` until `more` is false. `since` and
//!   `until` select by creation time and may span at most six months, so
//!   the range is walked in windows of [`WINDOW_DAYS`]; a window that
//!   reaches the API's offset ceiling ([`MAX_OFFSET`]) is split in two and
//!   read again. Every status is read (`triggered`, `acknowledged`,
//!   `resolved`): an open incident counts as an open failure.
//! - **Scopes** are the configured service ids (`service_ids[]`), one
//!   cursor each, or the whole account (`account`). `team_ids[]` and
//!   `urgencies[]` narrow the listing.
//! - **Mapping** (README "PagerDuty"): id `PD-<incident_number>`; service
//!   from `[pagerduty.services]` (by PagerDuty service id, then name), else
//!   the service's name; title; severity = the priority's name (`P1`), else
//!   the urgency; `created_at`; `resolved_at` is the incident's own
//!   `resolved_at` (when it was resolved, not `updated_at`, which later
//!   notes and merges move), or the last status change of a resolved
//!   incident that lacks it.
//! - **Filters**: `min_priority = "P2"` keeps incidents whose priority
//!   number is at most 2 (incidents without a priority are left out);
//!   `urgency = "high"` keeps high-urgency ones. Stored incidents that a
//!   filter now leaves out (a priority lowered after the fact) are deleted.
//! - **Explicit links** from `GET /incidents/{id}/related_change_events`:
//!   the latest change event at or before the incident that names a
//!   deployment (`custom_details.deployment_id` or `deployment`) or a
//!   commit (`custom_details.sha`, `commit`, `commit_sha`, `git_sha`,
//!   `revision`, or a link to `.../commit/<sha>`) sets the incident's
//!   `deployment_id` / `sha`.
//! - **Incremental**: the cursor keeps where to re-read from: the creation
//!   of the oldest incident still open at the last run, or else the newest
//!   one's, less [`RECHECK`] (30 days). Everything about an incident open at
//!   the last run, or created within 30 days before that point, is seen
//!   again; a change to an incident resolved and older than that is seen by
//!   `--full`. Changing a filter re-reads from `since`.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::base::time::{Span, Timestamp};
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};
use crate::store::rows::IncidentRow;

pub const TOKEN_ENV: &str = "PAGERDUTY_TOKEN";
pub const DEFAULT_API: &str = "https://api.pagerduty.com";
/// `since`..`until` may span at most six months; stay inside.
pub const WINDOW_DAYS: i64 = 179;
/// Classic pagination stops at an offset of 10 000.
pub const MAX_OFFSET: usize = 10_000;
const PAGE: usize = 100;
/// Incremental runs re-read this far behind the cursor: incidents resolved
/// in that time are listed again, so a priority, title or service changed
/// after the resolution is seen too.
pub const RECHECK: Span = Span::days(30);

#[derive(Debug, Clone)]
pub struct PagerDutyOptions {
    pub api_url: Option<String>,
    /// Scopes: one sync (and cursor) per service id; empty is the account.
    pub service_ids: Vec<String>,
    pub team_ids: Vec<String>,
    /// `high` or `low`.
    pub urgency: Option<String>,
    /// Keep priorities up to this number (`P2` keeps P1 and P2).
    pub min_priority: Option<u32>,
    /// Where a first (or `--full`) sync starts.
    pub since: Timestamp,
    /// PagerDuty service id or name → doralens service.
    pub services: Vec<(String, String)>,
    /// Read each incident's related change events for explicit links.
    pub change_events: bool,
    /// A change event's `custom_details` key holding a deployment id or a
    /// commit (see [`crate::ingest::tracker::link_field`]).
    pub link_field: Option<String>,
}

/// `P2` → 2; what `--min-priority` takes.
pub fn parse_priority(option: &str, s: &str) -> Result<u32> {
    priority_number(s).ok_or_else(|| {
        Error::usage(
            option,
            format!("`{s}` is not a priority; write it as PagerDuty names them, e.g. P2"),
        )
    })
}

fn priority_number(name: &str) -> Option<u32> {
    let digits: String = name
        .trim()
        .trim_start_matches(['P', 'p'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PagerDutyCursor {
    /// The next run lists incidents created from here (µs), less RECHECK.
    pub resume_from: Option<i64>,
    /// The filters of the run that wrote it: with other filters, the
    /// stored incidents answer another question, so everything since
    /// `since` is read again.
    #[serde(default)]
    pub filters: String,
}

pub struct PagerDuty {
    client: ApiClient,
    options: PagerDutyOptions,
    services: ServiceMap,
}

/// Why an incident is not stored.
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    Urgency,
    Priority,
}

/// The fields of one listed incident that doralens reads.
#[derive(Debug, Deserialize)]
pub struct ListedIncident {
    pub id: String,
    pub incident_number: u64,
    #[serde(default)]
    pub title: Option<String>,
    pub created_at: String,
    pub status: String,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub last_status_change_at: Option<String>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub service: Option<Reference>,
    #[serde(default)]
    pub priority: Option<Reference>,
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IncidentPage {
    incidents: Vec<ListedIncident>,
    #[serde(default)]
    more: bool,
}

impl ListedIncident {
    /// The stored row, or why it is left out.
    pub fn row(
        &self,
        options: &PagerDutyOptions,
        services: &ServiceMap,
    ) -> Result<std::result::Result<IncidentRow, Skip>> {
        if let Some(want) = &options.urgency
            && self.urgency.as_deref() != Some(want.as_str())
        {
            return Ok(Err(Skip::Urgency));
        }
        let priority = self.priority.as_ref().and_then(|p| p.summary.clone());
        if let Some(max) = options.min_priority
            && priority
                .as_deref()
                .and_then(priority_number)
                .is_none_or(|n| n > max)
        {
            return Ok(Err(Skip::Priority));
        }
        let time = |field: &str, value: &str| {
            Timestamp::parse_rfc3339(value).ok_or_else(|| Error::Forge {
                forge: "pagerduty",
                repo: format!("incident {}", self.id),
                message: format!("`{field}` is not an RFC 3339 time: {value}"),
            })
        };
        let resolved_at = if self.status == "resolved" {
            match self
                .resolved_at
                .as_deref()
                .or(self.last_status_change_at.as_deref())
            {
                Some(t) => Some(time("resolved_at", t)?),
                None => None,
            }
        } else {
            None
        };
        let service = self
            .service
            .as_ref()
            .and_then(|s| services.map(&[s.id.as_str(), s.summary.as_deref().unwrap_or("")]));
        Ok(Ok(IncidentRow {
            id: format!("PD-{}", self.incident_number),
            service,
            title: self.title.clone(),
            severity: priority.or_else(|| self.urgency.clone()),
            created_at: time("created_at", &self.created_at)?,
            resolved_at,
            deployment_id: None,
            sha: None,
        }))
    }
}

/// The explicit link of an incident from its related change events: the
/// latest at or before `created_at` naming a deployment or a commit (the
/// known keys), or holding the configured `link_field` key (its raw value,
/// resolved by the caller: see [`crate::ingest::tracker::link_field`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventLink {
    pub deployment: Option<String>,
    pub sha: Option<String>,
    /// The `link_field` value: a deployment id or a commit.
    pub link: Option<String>,
}

pub fn change_event_link(
    events: &[Value],
    created_at: Timestamp,
    link_field: Option<&str>,
) -> EventLink {
    static COMMIT_URL: OnceLock<Regex> = OnceLock::new();
    let commit_url =
        COMMIT_URL.get_or_init(|| Regex::new(r"/commits?/([0-9a-fA-F]{7,40})\b").expect("valid"));
    let is_sha = crate::ingest::tracker::link_field::is_sha;
    let mut best: Option<(Timestamp, EventLink)> = None;
    for event in events {
        let at = event
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse_rfc3339);
        let Some(at) = at.filter(|t| *t <= created_at) else {
            continue;
        };
        let mut found = EventLink::default();
        if let Some(details) = event.get("custom_details").and_then(Value::as_object) {
            for (key, value) in details {
                let Some(value) = value
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| value.as_u64().map(|n| n.to_string()))
                else {
                    continue;
                };
                if link_field.is_some_and(|f| f.eq_ignore_ascii_case(key)) {
                    found.link.get_or_insert(value);
                    continue;
                }
                match key.to_ascii_lowercase().as_str() {
                    "deployment_id" | "deployment" if found.deployment.is_none() => {
                        found.deployment = Some(value)
                    }
                    "sha" | "commit" | "commit_sha" | "git_sha" | "revision"
                        if found.sha.is_none() && is_sha(&value) =>
                    {
                        found.sha = Some(value.to_ascii_lowercase())
                    }
                    _ => {}
                }
            }
        }
        if found.sha.is_none() {
            found.sha = event
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|l| l.get("href").and_then(Value::as_str))
                .find_map(|href| commit_url.captures(href).map(|c| c[1].to_ascii_lowercase()));
        }
        let names_something =
            found.deployment.is_some() || found.sha.is_some() || found.link.is_some();
        if names_something && best.as_ref().is_none_or(|b| at >= b.0) {
            best = Some((at, found));
        }
    }
    best.map(|(_, l)| l).unwrap_or_default()
}

impl PagerDuty {
    pub fn new(options: PagerDutyOptions, notify: Notify) -> Result<Self> {
        let token = crate::ingest::client::http::token_from_env("pagerduty", TOKEN_ENV)?
            .ok_or_else(|| Error::Token {
                forge: "pagerduty",
                message: format!(
                    "{TOKEN_ENV} is not set: create a read-only REST API key (Integrations → API \
                     Access Keys) and export it as {TOKEN_ENV}"
                ),
            })?;
        let client = ApiClient::new(
            "pagerduty",
            TOKEN_ENV,
            options.api_url.as_deref().unwrap_or(DEFAULT_API),
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value: format!("Token token={token}"),
            }),
            notify,
        )?
        .with_header("accept", "application/vnd.pagerduty+json;version=2");
        Ok(PagerDuty {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services
            .report("pagerduty", "pagerduty.services", notify);
    }

    /// What the stored rows depend on besides the API's data.
    fn filters(&self) -> String {
        format!(
            "teams={:?} urgency={:?} min_priority={:?}",
            self.options.team_ids, self.options.urgency, self.options.min_priority
        )
    }

    fn query(
        &self,
        scope: &str,
        since: Timestamp,
        until: Timestamp,
        offset: usize,
    ) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("since", since.to_string()),
            ("until", until.to_string()),
            ("limit", PAGE.to_string()),
            ("offset", offset.to_string()),
            ("time_zone", "UTC".to_string()),
        ];
        for status in ["triggered", "acknowledged", "resolved"] {
            q.push(("statuses[]", status.to_string()));
        }
        if scope != ACCOUNT {
            q.push(("service_ids[]", scope.to_string()));
        }
        for team in &self.options.team_ids {
            q.push(("team_ids[]", team.clone()));
        }
        if let Some(u) = &self.options.urgency {
            q.push(("urgencies[]", u.clone()));
        }
        q
    }

    async fn change_events(&self, scope: &str, id: &str) -> Result<Vec<Value>> {
        let answer = self
            .client
            .get_json(
                scope,
                &format!("/incidents/{id}/related_change_events"),
                &[],
            )
            .await?;
        Ok(answer
            .get("change_events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// One window `[since, until)`, page by page; `Ok(false)` when it
    /// reached the offset ceiling and must be split.
    async fn window(
        &self,
        sync: &mut ScopeSync<'_, PagerDutyCursor>,
        since: Timestamp,
        until: Timestamp,
        run: &mut Run,
    ) -> Result<bool> {
        let mut offset = 0;
        loop {
            let answer = self
                .client
                .get_json(
                    &sync.scope,
                    "/incidents",
                    &self.query(&sync.scope, since, until, offset),
                )
                .await?;
            let page: IncidentPage = serde_json::from_value(answer).map_err(|e| Error::Forge {
                forge: "pagerduty",
                repo: sync.scope.clone(),
                message: format!("/incidents: the answer is not a list of incidents ({e})"),
            })?;
            let mut rows = Vec::with_capacity(page.incidents.len());
            for incident in &page.incidents {
                match incident.row(&self.options, &self.services)? {
                    Ok(mut row) => {
                        if row.resolved_at.is_none() {
                            run.oldest_open = Some(
                                run.oldest_open
                                    .map_or(row.created_at, |o| o.min(row.created_at)),
                            );
                        }
                        run.newest =
                            Some(run.newest.map_or(row.created_at, |n| n.max(row.created_at)));
                        if self.options.change_events {
                            let events = self.change_events(&sync.scope, &incident.id).await?;
                            let found = change_event_link(
                                &events,
                                row.created_at,
                                self.options.link_field.as_deref(),
                            );
                            (row.deployment_id, row.sha) = (found.deployment, found.sha);
                            sync.link(&mut row, found.link.as_deref())?;
                        }
                        run.kept.insert(row.id.clone());
                        rows.push(row);
                    }
                    Err(_) => {
                        run.left_out
                            .insert(format!("PD-{}", incident.incident_number));
                    }
                }
            }
            // The cursor may not pass an incident still open.
            let resume = run.oldest_open.map_or(until, |o| o.min(until));
            sync.write(&rows, &[], |c| c.resume_from = Some(resume.micros()))?;
            if !page.more || page.incidents.is_empty() {
                return Ok(true);
            }
            offset += page.incidents.len();
            if offset + PAGE > MAX_OFFSET {
                return Ok(false);
            }
        }
    }
}

const ACCOUNT: &str = "account";

#[derive(Default)]
struct Run {
    oldest_open: Option<Timestamp>,
    newest: Option<Timestamp>,
    kept: HashSet<String>,
    left_out: HashSet<String>,
}

impl Source for PagerDuty {
    type Cursor = PagerDutyCursor;

    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn scopes(&self) -> Vec<String> {
        if self.options.service_ids.is_empty() {
            vec![ACCOUNT.to_string()]
        } else {
            self.options.service_ids.clone()
        }
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, PagerDutyCursor>) -> Result<()> {
        let now = Timestamp::now();
        let filters = self.filters();
        let from = match sync.cursor.resume_from {
            Some(r) if sync.incremental() && sync.cursor.filters == filters => {
                (Timestamp::from_micros(r) - RECHECK).max(self.options.since)
            }
            _ => self.options.since,
        };
        sync.cursor.filters = filters;
        let mut windows = Vec::new();
        let mut start = from;
        while start < now {
            let end = (start + Span::days(WINDOW_DAYS)).min(now);
            windows.push((start, end));
            start = end;
        }
        windows.reverse();
        let mut run = Run::default();
        while let Some((since, until)) = windows.pop() {
            if !self.window(sync, since, until, &mut run).await? {
                let middle = Timestamp::from_micros((since.micros() + until.micros()) / 2);
                if middle <= since {
                    return Err(Error::Forge {
                        forge: "pagerduty",
                        repo: sync.scope.clone(),
                        message: format!(
                            "more than {MAX_OFFSET} incidents were created at {since}; narrow the \
                             sync with service ids or teams"
                        ),
                    });
                }
                windows.push((middle, until));
                windows.push((since, middle));
            }
        }
        // Incidents stored earlier that the filters now leave out.
        let stale: Vec<String> = run
            .left_out
            .iter()
            .filter(|id| !run.kept.contains(*id))
            .cloned()
            .collect();
        let stored: HashSet<String> = sync.stored_incidents("PD-")?.into_iter().collect();
        let stale: Vec<String> = stale.into_iter().filter(|id| stored.contains(id)).collect();
        sync.skipped(run.left_out.len());
        sync.delete_incidents(&stale)?;
        let resume = match (run.oldest_open, run.newest) {
            (Some(open), _) => open,
            (None, Some(newest)) => newest,
            (None, None) => now,
        };
        sync.write(&[], &[], |c| c.resume_from = Some(resume.micros()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> PagerDutyOptions {
        PagerDutyOptions {
            api_url: None,
            service_ids: vec![],
            team_ids: vec![],
            urgency: None,
            min_priority: None,
            since: Timestamp::EPOCH,
            services: vec![],
            change_events: true,
            link_field: None,
        }
    }

    fn incident(v: Value) -> ListedIncident {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn resolved_at_is_the_resolution_not_the_last_update() {
        let i = incident(json!({
            "id": "PT4KHLK", "incident_number": 1234, "title": "The server is on fire.",
            "created_at": "2015-10-06T21:30:42Z", "updated_at": "2015-10-06T23:40:23Z",
            "status": "resolved", "resolved_at": "2015-10-06T21:38:23Z",
            "urgency": "high",
            "service": {"id": "PIJ90N7", "summary": "My Mail Service"},
            "priority": {"id": "P53ZZH5", "summary": "P2"}
        }));
        let row = i.row(&options(), &ServiceMap::default()).unwrap().unwrap();
        assert_eq!(row.id, "PD-1234");
        assert_eq!(row.resolved_at.unwrap().to_string(), "2015-10-06T21:38:23Z");
        assert_eq!(row.service.as_deref(), Some("My Mail Service"));
        assert_eq!(row.severity.as_deref(), Some("P2"));
        let mut o = options();
        o.min_priority = Some(1);
        assert_eq!(
            i.row(&o, &ServiceMap::default()).unwrap(),
            Err(Skip::Priority)
        );
        o.min_priority = Some(2);
        o.urgency = Some("low".into());
        assert_eq!(
            i.row(&o, &ServiceMap::default()).unwrap(),
            Err(Skip::Urgency)
        );
    }

    #[test]
    fn an_open_incident_has_no_resolution() {
        let i = incident(json!({
            "id": "PX", "incident_number": 7, "created_at": "2026-01-01T00:00:00Z",
            "status": "acknowledged", "resolved_at": null,
            "last_status_change_at": "2026-01-01T01:00:00Z"
        }));
        let row = i.row(&options(), &ServiceMap::default()).unwrap().unwrap();
        assert_eq!(row.resolved_at, None);
        assert_eq!(row.service, None);
    }

    #[test]
    fn change_events_link_the_latest_deployment_or_commit_before_the_incident() {
        let created = Timestamp::parse_rfc3339("2026-01-01T12:00:00Z").unwrap();
        let events = vec![
            json!({"timestamp": "2026-01-01T09:00:00Z", "custom_details": {"deployment_id": "acme/api/deployments/1"}}),
            json!({"timestamp": "2026-01-01T11:00:00Z", "links": [{"href": "https://github.com/acme/api/commit/ABCDEF1234567", "text": "commit"}]}),
            json!({"timestamp": "2026-01-01T13:00:00Z", "custom_details": {"deployment_id": "after"}}),
            json!({"timestamp": "2026-01-01T11:30:00Z", "custom_details": {"build_state": "passed"}}),
        ];
        let link = |events: &[Value], field: Option<&str>| {
            let l = change_event_link(events, created, field);
            (l.deployment, l.sha, l.link)
        };
        assert_eq!(
            link(&events, None),
            (None, Some("abcdef1234567".to_string()), None)
        );
        assert_eq!(
            link(&events[..1], None),
            (Some("acme/api/deployments/1".to_string()), None, None)
        );
        assert_eq!(link(&events[2..], None), (None, None, None));
        // A configured link field is handed back raw, whatever it holds.
        let caused = vec![
            json!({"timestamp": "2026-01-01T10:00:00Z", "custom_details": {"Caused by": "acme/api/deployments/9"}}),
            json!({"timestamp": "2026-01-01T11:00:00Z", "custom_details": {"caused by": "a4000000000000000000000000000000000000ff"}}),
        ];
        assert_eq!(
            link(&caused, Some("Caused by")),
            (
                None,
                None,
                Some("a4000000000000000000000000000000000000ff".to_string())
            )
        );
        assert_eq!(link(&caused, None), (None, None, None));
    }

    #[test]
    fn priorities_are_read_by_their_number() {
        assert_eq!(parse_priority("--min-priority", "P2").unwrap(), 2);
        assert_eq!(parse_priority("--min-priority", "p1").unwrap(), 1);
        assert!(parse_priority("--min-priority", "high").is_err());
    }
}
