//! PagerDuty's answers and what doralens makes of them: the listed
//! incident's fields, its row (mapping and filters) and the explicit link
//! read from its related change events.

use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::PagerDutyOptions;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::source::ServiceMap;
use crate::store::rows::IncidentRow;

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
pub(super) struct IncidentPage {
    pub(super) incidents: Vec<ListedIncident>,
    #[serde(default)]
    pub(super) more: bool,
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
            recovery_flag: None,
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
