//! `ingest pagerduty` and `[pagerduty]`.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::tracker::TrackerEntry;
use crate::cli::commands::ingest::since;
use crate::cli::config::Config;
use crate::error::Result;
use crate::ingest::client::http::Notify;
use crate::ingest::tracker::pagerduty::{PagerDuty, PagerDutyOptions, parse_priority};

/// PagerDuty's settings: flags, or the `[pagerduty]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// PagerDuty service ids to sync, each with its own cursor (repeatable;
    /// default: [pagerduty] service_ids, else the whole account)
    #[arg(long = "service-id", value_name = "ID")]
    #[serde(default)]
    pub service_ids: Vec<String>,
    /// Only incidents of these PagerDuty teams (repeatable)
    #[arg(long = "team-id", value_name = "ID")]
    #[serde(default)]
    pub team_ids: Vec<String>,
    /// Only incidents of this urgency
    #[arg(long, value_parser = ["high", "low"])]
    pub urgency: Option<String>,
    /// Only incidents of this priority or higher, e.g. P2 keeps P1 and P2
    /// (incidents without a priority are left out)
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<String>,
    /// Where a first or --full sync starts (RFC 3339 or a date) [default: a year ago]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// API root [default: https://api.pagerduty.com]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Do not read each incident's related change events (one request per
    /// incident) for explicit deployment or commit links (in the file:
    /// change_events = false)
    #[arg(
        long = "no-change-events",
        num_args = 0,
        default_missing_value = "false"
    )]
    pub change_events: Option<bool>,
    /// A change event's custom_details key holding either a stored
    /// deployment's id or a commit sha (besides deployment_id, sha, ...)
    #[arg(long, value_name = "KEY")]
    pub link_field: Option<String>,
    /// PagerDuty service id or name → doralens service (file only).
    #[arg(skip)]
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl PagerDutySettings {
    /// The library's options: these settings, then the defaults.
    fn options(self) -> Result<PagerDutyOptions> {
        let min_priority = match &self.min_priority {
            Some(p) => Some(parse_priority("--min-priority", p)?),
            None => None,
        };
        Ok(PagerDutyOptions {
            api_url: self.api_url,
            service_ids: self.service_ids,
            team_ids: self.team_ids,
            urgency: self.urgency,
            min_priority,
            since: since(self.since.as_ref())?,
            services: self.services.into_iter().collect(),
            change_events: self.change_events.unwrap_or(true),
            link_field: self.link_field,
        })
    }

    /// What the file may not get wrong (checked when it is read).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(p) = &self.min_priority {
            parse_priority("[pagerduty] min_priority", p).map_err(|e| e.to_string())?;
        }
        if let Some(s) = &self.since {
            crate::base::time::parse_instant("[pagerduty] since", s).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

pub struct PagerDutyEntry;

impl TrackerEntry for PagerDutyEntry {
    type Settings = PagerDutySettings;
    type Source = PagerDuty;
    const NAME: &'static str = "pagerduty";
    const ABOUT: &'static str = "PagerDuty incidents (token: PAGERDUTY_TOKEN, a read-only REST API key), with \
             links from their related change events. Later runs re-read only from the \
             oldest incident still open.";
    const STARTER: &'static str = r#"
# PagerDuty incidents (export PAGERDUTY_TOKEN, a read-only REST API key);
# `doralens ingest` reads them when this section is present.
# [pagerduty]
# service_ids = ["PIJ90N7"]      # each synced with its own cursor; none: the account
# team_ids = []
# urgency = "high"               # only high-urgency incidents
# min_priority = "P2"            # only P1 and P2 (unprioritised ones are left out)
# since = "2025-01-01"           # where the first sync starts (default: a year ago)
# change_events = true           # explicit links from related change events
# link_field = "caused_by"       # a change event detail holding a deployment id or a commit
# [pagerduty.services]           # PagerDuty service id or name → doralens service
# PIJ90N7 = "api"
"#;

    fn section(config: &Config) -> Option<&PagerDutySettings> {
        config.pagerduty.as_ref()
    }

    fn source(settings: PagerDutySettings, notify: Notify) -> Result<PagerDuty> {
        PagerDuty::new(settings.options()?, notify)
    }

    fn after_sync(source: &PagerDuty, notify: &Notify) {
        source.report_unmapped(notify);
    }
}
