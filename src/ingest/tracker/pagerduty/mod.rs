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

mod mapping;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::mapping::IncidentPage;
pub use self::mapping::{
    EventLink, ListedIncident, Reference, Skip, change_event_link, parse_priority,
};

use crate::base::time::{Span, Timestamp};
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};

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
