//! `ingest flagsmith` and `[flagsmith]`.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::tracker::TrackerEntry;
use crate::cli::commands::ingest::since;
use crate::cli::config::Config;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::flags::flagsmith::{DEFAULT_API_URL, Flagsmith, FlagsmithOptions};

/// Flagsmith's settings: flags, or the `[flagsmith]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsmithSettings {
    /// The API root (self-hosted: your instance's) [default: https://api.flagsmith.com]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// A project id to sync, each with its own cursor (repeatable; at least one)
    #[arg(long = "project", value_name = "ID")]
    #[serde(default)]
    pub projects: Vec<String>,
    /// Read the audit log from this date on a first or full run (RFC 3339 or a date) [default: a year ago]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Tag (`tag:<id>`) or project id → doralens service (file only).
    #[arg(skip)]
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl FlagsmithSettings {
    /// The library's options: these settings, then the defaults.
    fn options(self) -> Result<FlagsmithOptions> {
        let projects: Vec<String> = self
            .projects
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if projects.is_empty() {
            return Err(Error::usage(
                "--project",
                "give the id of at least one Flagsmith project (--project 12, or \
                 projects = [\"12\"] in [flagsmith]); it is in the project's URL",
            ));
        }
        if let Some(p) = projects.iter().find(|p| p.parse::<u64>().is_err()) {
            return Err(Error::usage(
                "--project",
                format!(
                    "`{p}` is not a Flagsmith project id: give the number in the project's \
                     URL (…/project/12/…), not its name"
                ),
            ));
        }
        Ok(FlagsmithOptions {
            api_url: self
                .api_url
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_API_URL.into()),
            projects,
            services: self.services.into_iter().collect(),
            since: since(self.since.as_ref())?,
        })
    }
}

pub struct FlagsmithEntry;

impl TrackerEntry for FlagsmithEntry {
    type Settings = FlagsmithSettings;
    type Source = Flagsmith;
    const NAME: &'static str = "flagsmith";
    const ABOUT: &'static str = "Flagsmith feature flags and their history from the audit log \
             (FLAGSMITH_TOKEN, an Organisation API key). Every run lists all flags; the audit log is read \
             back to the newest entry stored.";
    const STARTER: &'static str = r#"
# Flagsmith feature flags (export FLAGSMITH_TOKEN).
# [flagsmith]
# api_url = "https://api.flagsmith.com"
# projects = ["12"]               # project ids
# [flagsmith.services]
# "tag:7" = "api"                 # a tag id (tag:<id>) or a project id
"#;

    fn section(config: &Config) -> Option<&FlagsmithSettings> {
        config.flagsmith.as_ref()
    }

    fn source(settings: FlagsmithSettings, notify: Notify) -> Result<Flagsmith> {
        Flagsmith::new(settings.options()?, notify)
    }

    fn after_sync(source: &Flagsmith, notify: &Notify) {
        source.report_unmapped(notify);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_section_uncommented_is_a_valid_config() {
        let text: String = FlagsmithEntry::STARTER
            .lines()
            .skip(2)
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let config: Config = toml::from_str(&text).unwrap();
        let settings = config.flagsmith.unwrap();
        assert_eq!(settings.projects, ["12"]);
        assert_eq!(settings.services["tag:7"], "api");
        let options = settings.options().unwrap();
        assert_eq!(options.api_url, "https://api.flagsmith.com");
    }

    #[test]
    fn no_project_is_a_usage_error_and_the_url_defaults() {
        let err = FlagsmithSettings::default().options().unwrap_err();
        assert!(err.to_string().contains("--project"), "{err}");
        let options = FlagsmithSettings {
            projects: vec!["12".into()],
            ..Default::default()
        }
        .options()
        .unwrap();
        assert_eq!(options.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn a_project_name_is_a_usage_error() {
        let err = FlagsmithSettings {
            projects: vec!["shop".into()],
            ..Default::default()
        }
        .options()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`shop` is not a Flagsmith project id"),
            "{err}"
        );
    }
}
