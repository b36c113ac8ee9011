//! `ingest incident-io` and `[incident_io]`.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::tracker::TrackerEntry;
use crate::cli::commands::ingest::since;
use crate::cli::config::Config;
use crate::error::Result;
use crate::ingest::client::http::Notify;
use crate::ingest::tracker::incident_io::{IncidentIo, IncidentIoOptions};
use crate::ingest::tracker::link_field::LinkFields;

/// incident.io's settings: flags, or the `[incident_io]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentIoSettings {
    /// The custom field naming the affected service [default: [incident_io] service_field]
    #[arg(long, value_name = "NAME")]
    pub service_field: Option<String>,
    /// The incident timestamp where impact started [default: Impact started]
    #[arg(long = "impact-timestamp", value_name = "NAME")]
    pub impact_timestamp: Option<String>,
    /// The incident timestamp of the resolution, before "Resolved at" and
    /// "Closed at" [default: Resolved at]
    #[arg(long = "resolved-timestamp", value_name = "NAME")]
    pub resolved_timestamp: Option<String>,
    /// A custom field naming the deployment that caused the incident (explicit link)
    #[arg(long, value_name = "NAME")]
    pub deployment_field: Option<String>,
    /// A custom field naming the root-cause commit (explicit link)
    #[arg(long, value_name = "NAME")]
    pub commit_field: Option<String>,
    /// A custom field holding either: a stored deployment's id, else a commit sha
    #[arg(long, value_name = "NAME")]
    pub link_field: Option<String>,
    /// Keep incidents from this date (RFC 3339 or a date) [default: a year ago]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// API root [default: https://api.incident.io]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Custom field value → doralens service (file only).
    #[arg(skip)]
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl IncidentIoSettings {
    /// The library's options: these settings, then the defaults.
    fn options(self) -> Result<IncidentIoOptions> {
        let links = LinkFields::new(self.deployment_field, self.commit_field, self.link_field);
        Ok(IncidentIoOptions {
            api_url: self.api_url,
            service_field: self.service_field,
            impact_started: self
                .impact_timestamp
                .unwrap_or_else(|| "Impact started".into()),
            resolved: self
                .resolved_timestamp
                .unwrap_or_else(|| "Resolved at".into()),
            deployment_field: links.deployment,
            commit_field: links.commit,
            link_field: links.link,
            services: self.services.into_iter().collect(),
            since: since(self.since.as_ref())?,
        })
    }
}

pub struct IncidentIoEntry;

impl TrackerEntry for IncidentIoEntry {
    type Settings = IncidentIoSettings;
    type Source = IncidentIo;
    const NAME: &'static str = "incident-io";
    const ABOUT: &'static str = "incident.io incidents (INCIDENT_IO_TOKEN), real ones only (not test or \
             tutorial mode). Every run reads the whole list.";
    const STARTER: &'static str = r#"
# incident.io incidents (export INCIDENT_IO_TOKEN).
# [incident_io]
# service_field = "Affected service"
# impact_timestamp = "Impact started"
# resolved_timestamp = "Resolved at"   # then "Resolved at", then "Closed at"; never the last update
# link_field = "Caused by"       # a custom field holding a deployment id or a commit
# [incident_io.services]
# "Checkout API" = "api"
"#;

    fn section(config: &Config) -> Option<&IncidentIoSettings> {
        config.incident_io.as_ref()
    }

    fn source(settings: IncidentIoSettings, notify: Notify) -> Result<IncidentIo> {
        IncidentIo::new(settings.options()?, notify)
    }

    fn after_sync(source: &IncidentIo, notify: &Notify) {
        source.report_unmapped(notify);
    }
}
