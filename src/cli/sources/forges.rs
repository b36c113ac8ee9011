//! `ingest github` and `ingest gitlab`: the forges, one settings struct for
//! both (flags and the `[github]` / `[gitlab]` sections).

use std::path::Path;

use async_trait::async_trait;
use clap::{ArgMatches, Args};
use serde::{Deserialize, Serialize};

use super::{SourceEntry, flags, layer, read_config};
use crate::base::production::{DEFAULT_PRODUCTION, ProductionPattern};
use crate::cli::commands::Context;
use crate::cli::commands::ingest::run_source_on;
use crate::cli::config::Config;
use crate::error::{Error, Result};
use crate::ingest::forge::{ForgeOptions, ForgeSource, SyncContext};

/// A forge's settings: flags, or its section of doralens.toml.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeSettings {
    /// owner/repo (GitHub) or group/project (GitLab); default: the ones in doralens.toml
    #[serde(default)]
    pub repos: Vec<String>,
    /// API root: GitHub Enterprise (https://ghe.example.com/api/v3) or self-hosted GitLab
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Count published releases as production deployments
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub releases_as_deployments: Option<bool>,
    /// GitHub: issues with this label are incidents [default: incident]
    #[arg(long, value_name = "LABEL")]
    pub incident_label: Option<String>,
    /// Production environment names: a regex over the whole name, any case
    /// [default: production|prod] (in the file: the top-level `production`)
    #[arg(long, value_name = "REGEX")]
    #[serde(skip)]
    pub production: Option<String>,
    /// Repositories synced at the same time [default: 4] (in the file: the
    /// top-level `concurrency`)
    #[arg(long, value_name = "N")]
    #[serde(skip)]
    pub concurrency: Option<usize>,
    /// Deployments from CI: on GitHub, completed runs of workflows whose
    /// name matches this regex; on GitLab, finished pipeline jobs whose name
    /// matches and that made no deployment of their own; both on the
    /// default branch
    #[arg(long, value_name = "REGEX")]
    pub deploy_workflow: Option<String>,
    /// The environment of workflow-run deployments [default: production]
    #[arg(long, value_name = "NAME")]
    pub workflow_environment: Option<String>,
    /// Also read deployment approvals and each merged change's files with
    /// their added and deleted lines (docs/metrics.md section 9): one more
    /// request per workflow-run deployment and per merged change
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub governance: Option<bool>,
}

impl ForgeSettings {
    /// The library's options: these settings, then the file's top-level
    /// keys, then the defaults.
    fn options(&self, config: &Config, full: bool) -> Result<ForgeOptions> {
        let defaults = ForgeOptions::default();
        let production = self
            .production
            .clone()
            .or_else(|| config.production.clone())
            .unwrap_or_else(|| DEFAULT_PRODUCTION.to_string());
        let deploy_workflow = match &self.deploy_workflow {
            Some(pattern) => Some(regex::Regex::new(pattern).map_err(|e| {
                Error::usage(
                    "--deploy-workflow",
                    format!("`{pattern}` is not a regular expression: {e}"),
                )
            })?),
            None => None,
        };
        let options = ForgeOptions {
            api_url: self.api_url.clone(),
            production: ProductionPattern::new(&production)?,
            incident_label: self
                .incident_label
                .clone()
                .unwrap_or(defaults.incident_label),
            releases_as_deployments: self.releases_as_deployments.unwrap_or(false),
            services: config.services.clone().into_iter().collect(),
            full,
            concurrency: self
                .concurrency
                .or(config.concurrency)
                .unwrap_or(defaults.concurrency),
            deploy_workflow,
            workflow_environment: self
                .workflow_environment
                .clone()
                .unwrap_or(defaults.workflow_environment),
            governance: self.governance.unwrap_or(false),
        };
        if options.concurrency == 0 {
            return Err(Error::usage("--concurrency", "must be at least 1"));
        }
        Ok(options)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    GitHub,
    GitLab,
}

/// The entry of one forge.
pub struct ForgeEntry {
    kind: ForgeKind,
    name: &'static str,
    about: &'static str,
    starter: &'static str,
}

pub static GITHUB: ForgeEntry = ForgeEntry {
    kind: ForgeKind::GitHub,
    name: "github",
    about: "GitHub repositories (token: GITHUB_TOKEN): commits, pull requests, \
            deployments, incident issues. Later runs read only what changed.",
    starter: r#"
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
# Also read environment approvals of those runs and each merged pull
# request's files with their added and deleted lines (one more request per
# run and per pull request; docs/metrics.md section 9).
# governance = true
"#,
};

pub static GITLAB: ForgeEntry = ForgeEntry {
    kind: ForgeKind::GitLab,
    name: "gitlab",
    about: "GitLab projects (token: GITLAB_TOKEN): commits, merge requests, \
            deployments, incidents. Later runs read only what changed.",
    starter: r#"
[gitlab]
# api_url = "https://gitlab.example.com"       # self-hosted
repos = [
    # "acme/platform/billing",
]
releases_as_deployments = false
# Finished pipeline jobs whose name matches (default branch, no deployment
# of their own) are deployments.
# deploy_workflow = "^release-prod$"
# Also read production deployments' approvals and each merged merge
# request's diff sizes (one more request per deployment and per merge
# request; docs/metrics.md section 9).
# governance = true
"#,
};

impl ForgeEntry {
    fn section<'c>(&self, config: &'c Config) -> Option<&'c ForgeSettings> {
        match self.kind {
            ForgeKind::GitHub => config.github.as_ref(),
            ForgeKind::GitLab => config.gitlab.as_ref(),
        }
    }
}

#[async_trait(?Send)]
impl SourceEntry for ForgeEntry {
    fn name(&self) -> &'static str {
        self.name
    }

    fn command(&self) -> clap::Command {
        ForgeSettings::augment_args(clap::Command::new(self.name)).about(self.about)
    }

    fn configured(&self, config: &Config) -> bool {
        self.section(config).is_some_and(|s| !s.repos.is_empty())
    }

    fn starter(&self) -> &'static str {
        self.starter
    }

    async fn run(
        &self,
        ctx: &Context,
        file: &Path,
        config: Option<&Config>,
        full: bool,
        matches: Option<&ArgMatches>,
    ) -> Result<()> {
        let flags: Option<ForgeSettings> = flags(matches)?;
        let needs_file = flags.as_ref().is_none_or(|f| f.repos.is_empty());
        let config = read_config(file, config, needs_file)?;
        let mut settings = layer(flags.as_ref(), self.section(&config))?;
        // Flags that are not in the file's section.
        if let Some(f) = &flags {
            settings.production = f.production.clone();
            settings.concurrency = f.concurrency;
        }
        if settings.repos.is_empty() {
            return Err(Error::Config {
                file: file.to_path_buf(),
                message: format!(
                    "lists no repositories under [{}]; add them there or name them on the \
                     command line",
                    self.name
                ),
            });
        }
        for repo in &settings.repos {
            crate::ingest::forge::check_repo_name(self.name, repo)?;
        }
        let options = settings.options(&config, full)?;
        let warehouse = ctx.open()?;
        let sync = SyncContext::new(&warehouse, &options);
        let notify = sync.notify();
        match self.kind {
            ForgeKind::GitHub => {
                let source = ForgeSource {
                    forge: crate::ingest::forge::github::GitHub::new(&options, notify.clone())?,
                    ctx: &sync,
                    repos: settings.repos.clone(),
                };
                run_source_on(&warehouse, full, &source, &notify).await
            }
            ForgeKind::GitLab => {
                let source = ForgeSource {
                    forge: crate::ingest::forge::gitlab::GitLab::new(&options, notify.clone())?,
                    ctx: &sync,
                    repos: settings.repos.clone(),
                };
                run_source_on(&warehouse, full, &source, &notify).await
            }
        }
    }
}
