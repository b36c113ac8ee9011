//! `doralens.toml`: the repositories to sync and how they map to services
//! and teams. `doralens init` writes a commented starting file; `doralens
//! ingest` with no arguments syncs everything it lists. Command-line
//! options override the file, which overrides the defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

pub const DEFAULT_CONFIG: &str = "doralens.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environment names that are production (regex, whole name, any case).
    pub production: Option<String>,
    /// Repositories synced at the same time.
    pub concurrency: Option<usize>,
    pub github: Option<ForgeSection>,
    pub gitlab: Option<ForgeSection>,
    pub pagerduty: Option<PagerDutySection>,
    pub jira: Option<JiraSection>,
    pub incident_io: Option<IncidentIoSection>,
    /// Repository → service. Unlisted repositories are their own service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Team → the services it owns.
    #[serde(default)]
    pub teams: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeSection {
    pub api_url: Option<String>,
    #[serde(default)]
    pub repos: Vec<String>,
    pub releases_as_deployments: Option<bool>,
    /// GitHub: issues with this label are incidents (GitLab uses its
    /// incident issue type).
    pub incident_label: Option<String>,
    /// GitHub: runs of workflows whose name matches are deployments.
    pub deploy_workflow: Option<String>,
    pub workflow_environment: Option<String>,
}

/// `[pagerduty]`: which incidents to read and how their services map.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySection {
    pub api_url: Option<String>,
    /// Services to sync (each its own cursor); none: the whole account.
    #[serde(default)]
    pub service_ids: Vec<String>,
    #[serde(default)]
    pub team_ids: Vec<String>,
    /// `high` or `low`.
    pub urgency: Option<String>,
    /// `P2` keeps P1 and P2.
    pub min_priority: Option<String>,
    /// Where a first sync starts (RFC 3339 or a date).
    pub since: Option<String>,
    pub change_events: Option<bool>,
    /// A change event's `custom_details` key holding a deployment id or a
    /// commit.
    pub link_field: Option<String>,
    /// PagerDuty service id or name → doralens service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

/// `[jira]`: which issues are incidents and where their service is.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSection {
    pub url: Option<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    pub jql: Option<String>,
    pub issue_type: Option<String>,
    pub service_field: Option<String>,
    pub deployment_field: Option<String>,
    pub commit_field: Option<String>,
    /// A field holding a deployment id or a commit.
    pub link_field: Option<String>,
    pub since: Option<String>,
    /// Component or field value → doralens service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

/// `[incident_io]`: where the service and the times are.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentIoSection {
    pub api_url: Option<String>,
    pub service_field: Option<String>,
    pub impact_timestamp: Option<String>,
    pub resolved_timestamp: Option<String>,
    pub deployment_field: Option<String>,
    pub commit_field: Option<String>,
    /// A custom field holding a deployment id or a commit.
    pub link_field: Option<String>,
    pub since: Option<String>,
    /// Custom field value → doralens service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl Config {
    /// Reads `path`; a missing file is an empty configuration unless
    /// `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Config {
                    file: path.to_path_buf(),
                    message: "not found; `doralens init` writes a starting file, or name \
                              repositories: `doralens ingest github owner/repo`"
                        .into(),
                });
            }
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            file: path.to_path_buf(),
            message: describe_toml_error(&text, &e),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Config {
            file: path.to_path_buf(),
            message,
        };
        if let Some(p) = &self.production {
            crate::engine::ProductionPattern::new(p)
                .map_err(|e| bad(format!("production: {e}")))?;
        }
        if self.concurrency == Some(0) {
            return Err(bad("concurrency: must be at least 1".into()));
        }
        if let Some(pd) = &self.pagerduty {
            if let Some(u) = &pd.urgency
                && u != "high"
                && u != "low"
            {
                return Err(bad(format!(
                    "[pagerduty] urgency: `{u}` is neither \"high\" nor \"low\""
                )));
            }
            if let Some(p) = &pd.min_priority {
                crate::ingest::tracker::pagerduty::parse_priority("[pagerduty] min_priority", p)
                    .map_err(|e| bad(e.to_string()))?;
            }
            if let Some(s) = &pd.since {
                crate::base::time::parse_instant("[pagerduty] since", s)
                    .map_err(|e| bad(e.to_string()))?;
            }
        }
        for (section, forge) in [("github", &self.github), ("gitlab", &self.gitlab)] {
            for repo in forge.iter().flat_map(|f| &f.repos) {
                if !repo.contains('/') {
                    return Err(bad(format!(
                        "[{section}] repos: `{repo}` needs its owner or group, e.g. acme/{repo}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The teams table rows (team, service).
    pub fn team_rows(&self) -> Vec<(String, String)> {
        self.teams
            .iter()
            .flat_map(|(team, services)| services.iter().map(move |s| (team.clone(), s.clone())))
            .collect()
    }
}

/// toml's message already names the line and column; add the line itself.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let content = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line}: {message} (in `{content}`)")
        }
        None => message,
    }
}

pub fn config_path(option: &Option<PathBuf>) -> PathBuf {
    option
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

/// The file `doralens init` writes: every setting, commented.
pub const STARTER: &str = r#"# doralens.toml: what `doralens ingest` (no arguments) syncs.
# Tokens are never written here: export GITHUB_TOKEN / GITLAB_TOKEN.
# Command-line options override these settings.

# Environment names that count as production (a regex over the whole name,
# any case). Deployments GitHub marks production_environment, or in a GitLab
# environment of tier `production`, are production whatever their name.
production = "production|prod"

# Repositories synced at the same time.
concurrency = 4

[github]
# api_url = "https://ghe.example.com/api/v3"   # GitHub Enterprise
repos = [
    # "acme/api",
    # "acme/web",
]
# Issues with this label are incidents.
incident_label = "incident"
# Count published releases as production deployments (for repositories
# that do not use GitHub Deployments).
releases_as_deployments = false
# Or: completed runs of workflows whose name matches are deployments
# (on the default branch), in this environment.
# deploy_workflow = "^Deploy"
# workflow_environment = "production"

[gitlab]
# api_url = "https://gitlab.example.com"       # self-hosted
repos = [
    # "acme/platform/billing",
]
releases_as_deployments = false
# Finished pipeline jobs whose name matches (default branch, no deployment
# of their own) are deployments.
# deploy_workflow = "^release-prod$"

# Repository → service. A repository not listed is its own service.
[services]
# "acme/api" = "api"
# "acme/platform/billing" = "billing"

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

# Jira Cloud incidents (export JIRA_EMAIL and JIRA_TOKEN).
# [jira]
# url = "https://acme.atlassian.net"
# projects = ["OPS"]              # issues of type `issue_type` in these projects
# issue_type = "Incident"
# jql = "..."                    # or: exactly these issues
# service_field = "components"   # or a field id such as customfield_10040
# deployment_field = "customfield_10050"
# commit_field = "customfield_10051"
# link_field = "customfield_10052"  # one field holding either: a stored deployment id, else a commit
# [jira.services]
# "Checkout API" = "api"

# incident.io incidents (export INCIDENT_IO_TOKEN).
# [incident_io]
# service_field = "Affected service"
# impact_timestamp = "Impact started"
# resolved_timestamp = "Resolved at"   # then "Resolved at", then "Closed at"; never the last update
# link_field = "Caused by"       # a custom field holding a deployment id or a commit
# [incident_io.services]
# "Checkout API" = "api"

# Team → the services it owns (a service may belong to several teams).
[teams]
# payments = ["api", "billing"]
# web = ["acme/web"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_file_parses() {
        let config: Config = toml::from_str(STARTER).unwrap();
        config.validate(Path::new("doralens.toml")).unwrap();
        assert_eq!(config.production.as_deref(), Some("production|prod"));
        assert!(config.github.unwrap().repos.is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let text = "concurrency = 2\n[github]\nrepo = [\"acme/api\"]\n";
        let e = toml::from_str::<Config>(text).unwrap_err();
        let message = describe_toml_error(text, &e);
        assert!(message.starts_with("line 3:"), "{message}");
        assert!(message.contains("repo"), "{message}");
    }
}
