//! `doralens.toml`: the repositories to sync and how they map to services
//! and teams. `doralens init` writes a commented starting file; `doralens
//! ingest` with no arguments syncs everything it lists. Command-line
//! options override the file, which overrides the defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::sources::flag_references::FlagReferencesSettings;
use crate::cli::sources::flagsmith::FlagsmithSettings;
use crate::cli::sources::forges::ForgeSettings;
use crate::cli::sources::incident_io::IncidentIoSettings;
use crate::cli::sources::jira::JiraSettings;
use crate::cli::sources::pagerduty::PagerDutySettings;
use crate::cli::sources::unleash::UnleashSettings;
use crate::error::{Error, Result};

pub const DEFAULT_CONFIG: &str = "doralens.toml";

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environment names that are production (regex, whole name, any case).
    pub production: Option<String>,
    /// Repositories synced at the same time.
    pub concurrency: Option<usize>,
    // One section per source of `cli::sources` (its settings struct, the
    // same as its flags).
    pub github: Option<ForgeSettings>,
    pub gitlab: Option<ForgeSettings>,
    pub pagerduty: Option<PagerDutySettings>,
    pub jira: Option<JiraSettings>,
    pub incident_io: Option<IncidentIoSettings>,
    pub unleash: Option<UnleashSettings>,
    pub flagsmith: Option<FlagsmithSettings>,
    pub flag_references: Option<FlagReferencesSettings>,
    /// Repository → service. Unlisted repositories are their own service.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Team → the services it owns.
    #[serde(default)]
    pub teams: BTreeMap<String, Vec<String>>,
    /// Which reviewers are bots (docs/metrics.md section 8).
    pub bots: Option<BotsSettings>,
    /// Batch size: excluded paths, the large-change threshold.
    pub batch: Option<crate::cli::args::BatchSection>,
}

/// `[bots]`: reviewer logins that are bots, as globs (`*` is any text,
/// matched against the whole login, any case); default `["*[bot]"]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotsSettings {
    pub logins: Vec<String>,
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
        if let Some(refs) = &config.flag_references {
            // Here, with the text, so the error names the pattern's line.
            refs.validate(&text).map_err(|message| Error::Config {
                file: path.to_path_buf(),
                message,
            })?;
        }
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Config {
            file: path.to_path_buf(),
            message,
        };
        if let Some(p) = &self.production {
            crate::base::production::ProductionPattern::new(p)
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
            pd.validate().map_err(bad)?;
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

/// The file `doralens init` writes: every setting, commented; each
/// source's section comes from its module ([`crate::cli::sources`]).
pub fn starter() -> String {
    format!(
        "{STARTER_HEAD}{}\n{STARTER_TAIL}",
        crate::cli::sources::starter_sections()
    )
}

const STARTER_HEAD: &str = r#"# doralens.toml: what `doralens ingest` (no arguments) syncs.
# Tokens are never written here: export GITHUB_TOKEN / GITLAB_TOKEN.
# Command-line options override these settings.

# Environment names that count as production (a regex over the whole name,
# any case). Deployments GitHub marks production_environment, or in a GitLab
# environment of tier `production`, are production whatever their name.
production = "production|prod"

# Repositories synced at the same time.
concurrency = 4
"#;

const STARTER_TAIL: &str = r#"# Reviewer logins that are bots: their approvals never make a change
# four-eyes (metrics, report, explain, serve read this; --bot-logins
# overrides it). Globs: `*` is any text, the whole login, any case. GitHub
# apps are `name[bot]` from every source.
[bots]
logins = ["*[bot]"]

# Batch size (`metrics`; docs/metrics.md section 9.2): paths whose lines
# do not count towards a change's size (globs: a file name or a directory
# anywhere, or with a `/` inside the whole path; this list replaces the
# default one), and the size over which a change is large.
[batch]
# exclude = ["Cargo.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "*.lock", "*.snap", "vendor/", "generated/", "dist/"]
# large_change_lines = 400

# Repository → service. A repository not listed is its own service.
[services]
# "acme/api" = "api"
# "acme/platform/billing" = "billing"

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
        let config: Config = toml::from_str(&starter()).unwrap();
        config.validate(Path::new("doralens.toml")).unwrap();
        assert_eq!(config.production.as_deref(), Some("production|prod"));
        assert!(config.github.unwrap().repos.is_empty());
        assert_eq!(config.bots.unwrap().logins, ["*[bot]"]);
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
