//! `ingest jira` and `[jira]`.

use std::collections::BTreeMap;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::tracker::TrackerEntry;
use crate::cli::commands::ingest::since;
use crate::cli::config::Config;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::tracker::jira::{Jira, JiraOptions};
use crate::ingest::tracker::link_field::LinkFields;

/// Jira's settings: flags, or the `[jira]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// The site, e.g. https://acme.atlassian.net [default: [jira] url]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Project keys to sync, each with its own cursor (repeatable)
    #[arg(long = "project", value_name = "KEY")]
    #[serde(default)]
    pub projects: Vec<String>,
    /// Instead of projects: the JQL that selects incidents
    #[arg(long, value_name = "JQL")]
    pub jql: Option<String>,
    /// Issue type of incidents [default: Incident]
    #[arg(long, value_name = "NAME")]
    pub issue_type: Option<String>,
    /// Where the service is: components, or a field id such as customfield_10040 [default: components]
    #[arg(long, value_name = "FIELD")]
    pub service_field: Option<String>,
    /// A field naming the deployment that caused the incident (explicit link)
    #[arg(long, value_name = "FIELD")]
    pub deployment_field: Option<String>,
    /// A field naming the root-cause commit (explicit link)
    #[arg(long, value_name = "FIELD")]
    pub commit_field: Option<String>,
    /// A field holding either: a stored deployment's id, else a commit sha
    #[arg(long, value_name = "FIELD")]
    pub link_field: Option<String>,
    /// Where a first or --full sync starts (RFC 3339 or a date) [default: a year ago]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Component or field value → doralens service (file only).
    #[arg(skip)]
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

impl JiraSettings {
    /// The library's options: these settings, then the defaults.
    fn options(self) -> Result<JiraOptions> {
        let url = self.url.ok_or_else(|| {
            Error::usage(
                "--url",
                "name the Jira site, e.g. --url https://acme.atlassian.net (or url in [jira])",
            )
        })?;
        if self.projects.is_empty() && self.jql.is_none() {
            return Err(Error::usage(
                "--project",
                "name the projects whose incidents to read (--project OPS), or the JQL (--jql)",
            ));
        }
        let links = LinkFields::new(self.deployment_field, self.commit_field, self.link_field);
        Ok(JiraOptions {
            url,
            projects: self.projects,
            jql: self.jql,
            issue_type: self.issue_type.unwrap_or_else(|| "Incident".into()),
            service_field: self.service_field.unwrap_or_else(|| "components".into()),
            deployment_field: links.deployment,
            commit_field: links.commit,
            link_field: links.link,
            since: since(self.since.as_ref())?,
            services: self.services.into_iter().collect(),
        })
    }
}

pub struct JiraEntry;

impl TrackerEntry for JiraEntry {
    type Settings = JiraSettings;
    type Source = Jira;
    const NAME: &'static str = "jira";
    const ABOUT: &'static str = "Jira Cloud issues of type Incident, or any JQL (JIRA_EMAIL and JIRA_TOKEN). \
             Later runs read only issues updated since.";
    const STARTER: &'static str = r#"
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
"#;

    fn section(config: &Config) -> Option<&JiraSettings> {
        config.jira.as_ref()
    }

    fn source(settings: JiraSettings, notify: Notify) -> Result<Jira> {
        Jira::new(settings.options()?, notify)
    }

    fn after_sync(source: &Jira, notify: &Notify) {
        source.report_unmapped(notify);
    }
}
