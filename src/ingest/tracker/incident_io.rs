//! `doralens ingest incident-io`: incidents from incident.io's API v2.
//!
//! - `GET /v2/incidents` with a bearer API key (`INCIDENT_IO_TOKEN`),
//!   `page_size` and the `after` cursor of `pagination_meta` until a page
//!   comes back without one. incident.io organisations have hundreds of
//!   incidents, not millions, so every run reads the whole list (at 250 an
//!   answer): it is always as good as a full sync, and an incident deleted
//!   or turned into a test is removed (only ids this source stored).
//! - **Only real incidents**: `mode` `standard` or `retrospective` (not
//!   `test` or `tutorial`), and not declined, merged or cancelled (status
//!   category).
//! - **Mapping** (README "incident.io"): id = the `reference` (`INC-123`);
//!   title = `name`; severity = the severity's name; start = the configured
//!   impact timestamp (default "Impact started") when set, else
//!   `created_at`; resolution = the configured resolution timestamp, else
//!   "Resolved at", else "Closed at"; never `updated_at`, which every later
//!   edit moves (a comment a month on made a 4-hour incident a month
//!   long). An incident with none of them is open (a closed one is listed
//!   on stderr, to fix in incident.io). The service comes from the
//!   configured custom field (an option, catalog entry or text), mapped
//!   through `[incident_io.services]`.
//! - **Explicit links** from custom fields: `deployment_field` (a
//!   deployment id), `commit_field` (a commit sha), or one `link_field`
//!   holding either ([`crate::ingest::tracker::link_field`]: a stored deployment's id, else
//!   a commit).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};
use crate::store::rows::IncidentRow;

pub const TOKEN_ENV: &str = "INCIDENT_IO_TOKEN";
pub const DEFAULT_API: &str = "https://api.incident.io";
const PAGE: usize = 250;
/// Stored ids of incident.io incidents start with this (their reference).
const SCOPE: &str = "incidents";

#[derive(Debug, Clone)]
pub struct IncidentIoOptions {
    pub api_url: Option<String>,
    /// The custom field naming the affected service.
    pub service_field: Option<String>,
    /// The incident timestamp where impact started.
    pub impact_started: String,
    /// The incident timestamp where it was resolved.
    pub resolved: String,
    /// A custom field naming the deployment that caused the incident.
    pub deployment_field: Option<String>,
    /// A custom field naming the root-cause commit.
    pub commit_field: Option<String>,
    /// A custom field holding either (see [`crate::ingest::tracker::link_field`]).
    pub link_field: Option<String>,
    /// Custom field value → doralens service.
    pub services: Vec<(String, String)>,
    /// Keep only incidents created from here.
    pub since: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncidentIoCursor {
    /// When the last run listed (µs); informative: every run lists all.
    pub listed_at: Option<i64>,
    /// The ids the last run stored: those no longer listed are deleted
    /// (and nothing another source stored).
    #[serde(default)]
    pub ids: Vec<String>,
}

pub struct IncidentIo {
    client: ApiClient,
    options: IncidentIoOptions,
    services: ServiceMap,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    incidents: Vec<Incident>,
    #[serde(default)]
    pagination_meta: Option<PaginationMeta>,
}

#[derive(Debug, Deserialize)]
struct PaginationMeta {
    #[serde(default)]
    after: Option<String>,
}

/// What mapping an incident noticed beside its row.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mapped {
    /// Closed, but without any resolution timestamp: stored as open.
    pub closed_without_resolution: bool,
    /// The `link_field` value, to resolve against stored deployments.
    pub link: Option<String>,
}

/// Why an incident is not stored.
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    /// Test or tutorial mode.
    NotReal,
    /// Declined, merged or cancelled.
    NotAnIncident,
    BeforeSince,
}

/// The fields of a listed incident doralens reads (the rest of the
/// object is skipped while parsing, never built).
#[derive(Debug, Deserialize)]
pub struct Incident {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub severity: Option<Named>,
    #[serde(default)]
    pub incident_status: Option<Status>,
    #[serde(default)]
    pub custom_field_entries: Vec<CustomFieldEntry>,
    #[serde(default)]
    pub incident_timestamp_values: Vec<TimestampValue>,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CustomFieldEntry {
    pub custom_field: Named,
    #[serde(default)]
    pub values: Vec<CustomFieldValue>,
}

#[derive(Debug, Deserialize)]
pub struct CustomFieldValue {
    #[serde(default)]
    pub value_option: Option<OptionValue>,
    #[serde(default)]
    pub value_catalog_entry: Option<Named>,
    #[serde(default)]
    pub value_text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OptionValue {
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TimestampValue {
    pub incident_timestamp: Named,
    #[serde(default)]
    pub value: Option<TimestampInner>,
}

#[derive(Debug, Deserialize)]
pub struct TimestampInner {
    #[serde(default)]
    pub value: Option<String>,
}

impl Incident {
    /// The value of the incident timestamp named `name` (any case).
    fn timestamp(&self, name: &str) -> Option<Timestamp> {
        self.incident_timestamp_values
            .iter()
            .find(|t| {
                t.incident_timestamp
                    .name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|t| t.value.as_ref()?.value.as_deref())
            .and_then(Timestamp::parse_rfc3339)
    }

    /// The first value of the custom field named `name`: an option's
    /// value, a catalog entry's name, or text.
    fn custom_field(&self, name: &str) -> Option<&str> {
        let entry = self.custom_field_entries.iter().find(|e| {
            e.custom_field
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })?;
        entry.values.iter().find_map(|v| {
            v.value_option
                .as_ref()
                .and_then(|o| o.value.as_deref())
                .or_else(|| v.value_catalog_entry.as_ref()?.name.as_deref())
                .or(v.value_text.as_deref())
        })
    }

    /// The incident as a row, or why it is left out.
    pub fn row(
        &self,
        options: &IncidentIoOptions,
        services: &ServiceMap,
    ) -> Result<std::result::Result<(IncidentRow, Mapped), Skip>> {
        if !matches!(
            self.mode.as_deref().unwrap_or("standard"),
            "standard" | "retrospective"
        ) {
            return Ok(Err(Skip::NotReal));
        }
        let category = self
            .incident_status
            .as_ref()
            .and_then(|s| s.category.as_deref())
            .unwrap_or("");
        if matches!(category, "declined" | "merged" | "canceled" | "cancelled") {
            return Ok(Err(Skip::NotAnIncident));
        }
        let id = self.reference.clone().unwrap_or_else(|| self.id.clone());
        let created = Timestamp::parse_rfc3339(&self.created_at).ok_or_else(|| Error::Forge {
            forge: "incident-io",
            repo: id.clone(),
            message: "`created_at` is missing or not an RFC 3339 time".into(),
        })?;
        let created_at = self.timestamp(&options.impact_started).unwrap_or(created);
        if created_at < options.since {
            return Ok(Err(Skip::BeforeSince));
        }
        let closed = matches!(category, "closed" | "learning" | "post-incident");
        // The configured timestamp, else "Resolved at", else "Closed at":
        // never `updated_at`.
        let resolved_at = resolution_chain(options)
            .into_iter()
            .find_map(|name| self.timestamp(name));
        let unresolved_but_closed = closed && resolved_at.is_none();
        let service = options
            .service_field
            .as_deref()
            .and_then(|f| self.custom_field(f))
            .and_then(|v| services.map(&[v]));
        let field = |name: &Option<String>| {
            name.as_deref()
                .and_then(|f| self.custom_field(f))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Ok((
            IncidentRow {
                id,
                service,
                title: self.name.clone(),
                severity: self.severity.as_ref().and_then(|s| s.name.clone()),
                created_at,
                resolved_at,
                deployment_id: field(&options.deployment_field),
                sha: field(&options.commit_field)
                    .map(|s| s.to_ascii_lowercase())
                    .filter(|s| crate::ingest::tracker::link_field::is_sha(s)),
                recovery_flag: None,
            },
            Mapped {
                closed_without_resolution: unresolved_but_closed,
                link: field(&options.link_field),
            },
        )))
    }
}

/// The incident timestamps that end an incident, first found wins: the
/// configured one, "Resolved at", "Closed at" (never `updated_at`).
fn resolution_chain(options: &IncidentIoOptions) -> Vec<&str> {
    let mut chain = vec![options.resolved.as_str()];
    for name in ["Resolved at", "Closed at"] {
        if !chain.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            chain.push(name);
        }
    }
    chain
}

impl IncidentIo {
    fn resolution_chain(&self) -> Vec<&str> {
        resolution_chain(&self.options)
    }

    pub fn new(options: IncidentIoOptions, notify: Notify) -> Result<Self> {
        let token = crate::ingest::client::http::token_from_env("incident-io", TOKEN_ENV)?
            .ok_or_else(|| Error::Token {
                forge: "incident-io",
                message: format!(
                    "{TOKEN_ENV} is not set: create an API key (Settings → API keys) that can view \
                     all incident data, and export it as {TOKEN_ENV}"
                ),
            })?;
        let client = ApiClient::new(
            "incident-io",
            TOKEN_ENV,
            options.api_url.as_deref().unwrap_or(DEFAULT_API),
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value: format!("Bearer {token}"),
            }),
            notify,
        )?;
        Ok(IncidentIo {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services
            .report("incident-io", "incident_io.services", notify);
    }
}

impl Source for IncidentIo {
    type Cursor = IncidentIoCursor;

    fn name(&self) -> &'static str {
        "incident-io"
    }

    fn scopes(&self) -> Vec<String> {
        vec![SCOPE.to_string()]
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, IncidentIoCursor>) -> Result<()> {
        // Read before this run's pages overwrite it (a full run starts from
        // an empty cursor).
        let stored_before = sync.previous()?.map(|c| c.ids).unwrap_or_default();
        let mut after: Option<String> = None;
        let mut listed: HashSet<String> = HashSet::new();
        let mut unresolved = Vec::new();
        let mut skipped = 0;
        loop {
            let mut query = vec![("page_size", PAGE.to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let answer = self.client.get_json(SCOPE, "/v2/incidents", &query).await?;
            let page: Page = serde_json::from_value(answer).map_err(|e| Error::Forge {
                forge: "incident-io",
                repo: SCOPE.into(),
                message: format!("/v2/incidents: the answer is not a page of incidents ({e})"),
            })?;
            let mut rows = Vec::new();
            for incident in &page.incidents {
                match incident.row(&self.options, &self.services)? {
                    Ok((mut row, mapped)) => {
                        if mapped.closed_without_resolution {
                            unresolved.push(row.id.clone());
                        }
                        sync.link(&mut row, mapped.link.as_deref())?;
                        listed.insert(row.id.clone());
                        rows.push(row);
                    }
                    Err(_) => skipped += 1,
                }
            }
            let now = Timestamp::now().micros();
            sync.write(&rows, &[], |c| c.listed_at = Some(now))?;
            after = page
                .pagination_meta
                .and_then(|m| m.after)
                .filter(|a| !a.is_empty());
            if after.is_none() || page.incidents.is_empty() {
                break;
            }
        }
        sync.skipped(skipped);
        if !unresolved.is_empty() {
            let chain: Vec<String> = self
                .resolution_chain()
                .iter()
                .map(|n| format!("{n:?}"))
                .collect();
            sync.notify(&format!(
                "note: incident-io: {} closed incident(s) have no {} timestamp, so they count \
                 as open: {} (their last update is not a resolution; set the timestamp in \
                 incident.io)",
                unresolved.len(),
                chain.join(" or "),
                unresolved.join(", ")
            ));
        }
        // What incident.io no longer lists as a real incident goes.
        let stale: Vec<String> = stored_before
            .into_iter()
            .filter(|id| !listed.contains(id))
            .collect();
        sync.delete_incidents(&stale)?;
        let mut ids: Vec<String> = listed.into_iter().collect();
        ids.sort();
        sync.write(&[], &[], |c| c.ids = ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> IncidentIoOptions {
        IncidentIoOptions {
            api_url: None,
            service_field: Some("Affected service".into()),
            impact_started: "Impact started".into(),
            resolved: "Resolved at".into(),
            deployment_field: None,
            commit_field: None,
            link_field: None,
            services: vec![],
            since: Timestamp::EPOCH,
        }
    }

    #[test]
    fn impact_and_resolution_come_from_the_timestamps() {
        let incident = json!({
            "id": "01FDAG4SAP5TYPT98WGR2N7W91", "reference": "INC-7", "name": "Checkout down",
            "mode": "standard", "created_at": "2026-11-10T10:20:00Z", "updated_at": "2026-11-11T09:00:00Z",
            "severity": {"name": "Major"},
            "incident_status": {"category": "closed", "name": "Closed"},
            "incident_timestamp_values": [
                {"incident_timestamp": {"name": "Impact started"}, "value": {"value": "2026-11-10T10:00:00Z"}},
                {"incident_timestamp": {"name": "Resolved at"}, "value": {"value": "2026-11-10T12:00:00Z"}}
            ],
            "custom_field_entries": [
                {"custom_field": {"name": "Affected service"}, "values": [{"value_option": {"value": "Checkout API"}}]}
            ]
        });
        let parse =
            |v: &serde_json::Value| -> Incident { serde_json::from_value(v.clone()).unwrap() };
        let (row, mapped) = parse(&incident)
            .row(&options(), &ServiceMap::default())
            .unwrap()
            .unwrap();
        assert_eq!(row.id, "INC-7");
        assert_eq!(row.created_at.to_string(), "2026-11-10T10:00:00Z");
        assert_eq!(row.resolved_at.unwrap().to_string(), "2026-11-10T12:00:00Z");
        assert_eq!(row.service.as_deref(), Some("Checkout API"));
        assert_eq!(row.severity.as_deref(), Some("Major"));
        assert_eq!(mapped, Mapped::default());
        let mut test = incident.clone();
        test["mode"] = json!("test");
        assert_eq!(
            parse(&test)
                .row(&options(), &ServiceMap::default())
                .unwrap(),
            Err(Skip::NotReal)
        );
        let mut declined = incident;
        declined["incident_status"]["category"] = json!("declined");
        assert_eq!(
            parse(&declined)
                .row(&options(), &ServiceMap::default())
                .unwrap(),
            Err(Skip::NotAnIncident)
        );
    }
}
