//! `ingest unleash` and `[unleash]`.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::tracker::TrackerEntry;
use crate::cli::commands::ingest::since;
use crate::cli::config::Config;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::flags::unleash::{Unleash, UnleashOptions};

/// Unleash's settings: flags, or the `[unleash]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnleashSettings {
    /// The Unleash root, e.g. https://unleash.example.com (required)
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// A project to sync, each with its own cursor (repeatable) [default: every project]
    #[arg(long = "project", value_name = "ID")]
    #[serde(default)]
    pub projects: Vec<String>,
    /// Also read archived flags
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub archived: Option<bool>,
    /// Read events from this date on a first or full run (RFC 3339 or a date) [default: a year ago]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Tag (`type:value` or `value`) or project → doralens service (file only).
    #[arg(skip)]
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl UnleashSettings {
    /// The library's options: these settings, then the defaults.
    fn options(self) -> Result<UnleashOptions> {
        let api_url = self
            .api_url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                Error::usage(
                    "--api-url",
                    "Unleash has no public default: give your instance's root \
                 (--api-url https://unleash.example.com, or api_url in [unleash])",
                )
            })?;
        Ok(UnleashOptions {
            api_url,
            projects: self.projects,
            archived: self.archived.unwrap_or(false),
            services: self.services.into_iter().collect(),
            since: since(self.since.as_ref())?,
        })
    }
}

pub struct UnleashEntry;

impl TrackerEntry for UnleashEntry {
    type Settings = UnleashSettings;
    type Source = Unleash;
    const NAME: &'static str = "unleash";
    const ABOUT: &'static str = "Unleash feature flags and their history (UNLEASH_TOKEN, an admin or \
             personal access token). Every run lists all flags; events are read from the last day stored.";
    const STARTER: &'static str = r#"
# Unleash feature flags (export UNLEASH_TOKEN).
# [unleash]
# api_url = "https://unleash.example.com"
# projects = ["default"]          # default: every project
# archived = false
# [unleash.services]
# "service:checkout" = "api"      # a tag (type:value or value) or a project
"#;

    fn section(config: &Config) -> Option<&UnleashSettings> {
        config.unleash.as_ref()
    }

    fn source(settings: UnleashSettings, notify: Notify) -> Result<Unleash> {
        Unleash::new(settings.options()?, notify)
    }

    fn after_sync(source: &Unleash, notify: &Notify) {
        source.report_unmapped(notify);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_section_uncommented_is_a_valid_config() {
        let text: String = UnleashEntry::STARTER
            .lines()
            .skip(2)
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let config: Config = toml::from_str(&text).unwrap();
        let settings = config.unleash.unwrap();
        assert_eq!(settings.projects, ["default"]);
        assert_eq!(settings.services["service:checkout"], "api");
        let options = settings.options().unwrap();
        assert!(!options.archived);
        assert_eq!(options.api_url, "https://unleash.example.com");
    }

    #[test]
    fn no_api_url_is_a_usage_error() {
        let err = UnleashSettings::default().options().unwrap_err();
        assert!(err.to_string().contains("--api-url"), "{err}");
    }
}
