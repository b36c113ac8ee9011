//! Flagsmith's answers and their mapping to `flags` and `flag_events`
//! rows (the choices are in the parent module's doc).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::NAME;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::source::ServiceMap;
use crate::store::rows::{FlagEventRow, FlagRow};

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

pub(super) fn bad(scope: &str, what: &str, message: String) -> Error {
    Error::Forge {
        forge: NAME,
        repo: scope.into(),
        message: format!("{what}: {message}"),
    }
}

pub(super) fn time(scope: &str, what: &str, s: &str) -> Result<Timestamp> {
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
    /// The list entry says enough.
    List,
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

/// The message of a version published (feature versioning v2).
const VERSION_PUBLISHED: &str = "New version published for feature: ";

/// Applied by a change request or a release pipeline: the feature state
/// may be new, its entry a creation.
fn is_applied(log: &str) -> bool {
    log.contains(" by Change Request: ") || log.contains(" by Release pipeline: ")
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
            // Not an identity override, a creation or deletion (Flagsmith
            // logs an environment's state created or deleted with its
            // feature's messages) or a change only scheduled (its "went
            // live" entry follows when it applies).
            Some("FEATURE_STATE")
                if !is_identity_override(&self.log)
                    && !self.log.starts_with("New Flag / Remote Config created")
                    && !self.log.starts_with("Flag / Remote Config Deleted")
                    && !self.log.contains(" scheduled ") =>
            {
                Need::Detail
            }
            Some("FEATURE") if self.log.starts_with("Flag / Remote Config updated") => Need::Detail,
            // Environments with feature versioning v2 log a published
            // version instead of their feature states.
            Some("EF_VERSION") if self.log.starts_with(VERSION_PUBLISHED) => Need::List,
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
                        && (is_segment_override(&self.log) || is_applied(&self.log)))
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
            Some("EF_VERSION") if self.log.starts_with(VERSION_PUBLISHED) => {
                let flag = self.log[VERSION_PUBLISHED.len()..].trim().to_string();
                let environment = self.environment.as_ref().and_then(|e| e.name.clone());
                (Some(flag), "strategy-changed", environment)
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
    fn creations_deletions_and_scheduled_changes_need_no_detail() {
        let entry = |log: &str| Entry {
            id: 1,
            created_date: "2026-11-01T00:00:00Z".into(),
            log: log.into(),
            author: None,
            environment: None,
            related_object_id: Some(1),
            related_object_type: Some("FEATURE_STATE".into()),
            change_details: Vec::new(),
            change_type: None,
        };
        for log in [
            "New Flag / Remote Config created: a",
            "Flag / Remote Config Deleted: a",
            "Flag state / Remote Config value update scheduled for 01/12/2026 10:00:00 for feature: a",
            "Flag state for feature 'a' scheduled for update by Change Request 'Go' at 1 Dec.",
            "Flag state / Remote config value updated for feature 'a' and identity 'u'",
        ] {
            assert_eq!(entry(log).need(), Need::Skip, "{log}");
        }
        let live = "Scheduled change to Flag state / Remote config value went live for feature: \
                    a by Change Request: Go";
        assert_eq!(entry(live).need(), Need::Detail);
        assert_eq!(feature_in_log(live).as_deref(), Some("a"));
    }

    fn state(log: &str, change_type: &str, old: Value, new: Value) -> Entry {
        Entry {
            id: 9,
            created_date: "2026-11-01T00:00:00Z".into(),
            log: log.into(),
            author: None,
            environment: Some(Environment {
                name: Some("production".into()),
            }),
            related_object_id: Some(1),
            related_object_type: Some("FEATURE_STATE".into()),
            change_details: vec![ChangeDetail {
                field: "enabled".into(),
                old,
                new,
            }],
            change_type: Some(change_type.into()),
        }
    }

    #[test]
    fn a_change_request_that_creates_the_state_is_a_change_of_unknown_direction() {
        let names = HashMap::new();
        let kind = |e: Entry| e.row("12", &names).unwrap().map(|r| r.kind);
        let applied = "Flag state / Remote config updated for feature: a by Change Request: Go";
        // The state the change request created: no previous value.
        let created = state(applied, "CREATE", Value::Null, Value::Bool(true));
        assert_eq!(kind(created).as_deref(), Some("strategy-changed"));
        let updated = state(applied, "UPDATE", Value::Bool(false), Value::Bool(true));
        assert_eq!(kind(updated).as_deref(), Some("enabled"));
        // A plain creation is the feature's, not a change.
        let plain = state(
            "Flag state updated for feature: a",
            "CREATE",
            Value::Null,
            Value::Bool(true),
        );
        assert_eq!(kind(plain), None);
    }

    #[test]
    fn a_published_version_is_a_change_read_from_the_list() {
        let mut entry = state(
            "New version published for feature: new-checkout",
            "UNKNOWN",
            Value::Null,
            Value::Null,
        );
        entry.related_object_type = Some("EF_VERSION".into());
        entry.change_details.clear();
        assert_eq!(entry.need(), Need::List);
        let row = entry.row("12", &HashMap::new()).unwrap().unwrap();
        assert_eq!(
            (row.flag_key.as_str(), row.kind.as_str()),
            ("new-checkout", "strategy-changed")
        );
        assert_eq!(row.environment.as_deref(), Some("production"));
    }

    #[test]
    fn audit_details_map_to_flag_event_kinds() {
        let list: Vec<Entry> =
            serde_json::from_value(fixture("audit.json")["results"].clone()).unwrap();
        let needs: Vec<(i64, Need)> = list.iter().map(|e| (e.id, e.need())).collect();
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
        let results: Vec<Feature> =
            serde_json::from_value(fixture("features.json")["results"].clone()).unwrap();
        let services = ServiceMap::new([("tag:7".to_string(), "api".to_string())]);
        let row = results[0].row("12", None, &services).unwrap();
        assert_eq!(row.key, "new-checkout");
        assert_eq!(row.kind.as_deref(), Some("release"));
        assert_eq!(row.owner.as_deref(), Some("ada@acme.example"));
        assert_eq!(row.service.as_deref(), Some("api"));
        assert_eq!(row.expected_lifetime_days, None);
        let test = results[1].row("12", None, &services).unwrap();
        assert_eq!(test.kind.as_deref(), Some("experiment"));
        assert_eq!(test.owner, None);
        assert_eq!(test.service.as_deref(), Some("12"));
        let at = Timestamp::parse_rfc3339("2026-11-18T16:00:00Z");
        let old = results[2].row("12", at, &services).unwrap();
        assert_eq!(old.archived_at, at);
        assert_eq!(
            results[0].row("12", at, &services).unwrap().archived_at,
            None
        );
    }
}
