//! `doralens ingest git|github|gitlab`, and `ingest` from doralens.toml.

use std::path::Path;

use crate::base::time::{Span, Timestamp, parse_instant};
use crate::cli::args::{ForgeArgs, GitArgs, IncidentIoArgs, IngestSource, JiraArgs, PagerDutyArgs};
use crate::cli::config;
use crate::engine::{DEFAULT_PRODUCTION, ProductionPattern};
use crate::error::{Error, Result};
use crate::store::schema::Table;

use super::Context;

/// `ingest git`: local repositories.
pub fn git(ctx: &Context, args: &GitArgs, full: bool) -> Result<()> {
    let warehouse = ctx.open()?;
    let reports =
        crate::ingest::git::ingest_all(&warehouse, &args.paths, &args.selection.options(full)?)?;
    for r in reports {
        eprintln!(
            "{}: {} {}commits, {} tag deployments, {} rollbacks",
            r.repo,
            r.commits,
            if r.incremental { "new " } else { "" },
            r.deployments,
            r.rollbacks
        );
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
}

/// `ingest github|gitlab` (one forge, repositories from the arguments or
/// the file) or plain `ingest` (every forge in the file).
pub async fn forges(
    ctx: &Context,
    config_file: &Path,
    full: bool,
    explicit: Option<(Forge, &ForgeArgs)>,
) -> Result<()> {
    use crate::ingest::forge::{ForgeOptions, ForgeSource, SyncContext};
    let needs_file = explicit.is_none_or(|(_, a)| a.repos.is_empty());
    let config = config::Config::load(config_file, needs_file)?;
    let mut plan: Vec<(Forge, ForgeOptions, Vec<String>)> = Vec::new();
    for forge in [Forge::GitHub, Forge::GitLab] {
        let args = match explicit {
            Some((f, a)) if f == forge => Some(a),
            Some(_) => continue,
            None => None,
        };
        let section = match forge {
            Forge::GitHub => config.github.as_ref(),
            Forge::GitLab => config.gitlab.as_ref(),
        };
        let repos = match args {
            Some(a) if !a.repos.is_empty() => a.repos.clone(),
            _ => section.map(|s| s.repos.clone()).unwrap_or_default(),
        };
        if repos.is_empty() {
            if args.is_some() {
                return Err(Error::Config {
                    file: config_file.to_path_buf(),
                    message: format!(
                        "lists no repositories under [{}]; add them there or name them on the command line",
                        if forge == Forge::GitHub {
                            "github"
                        } else {
                            "gitlab"
                        }
                    ),
                });
            }
            continue;
        }
        let production = args
            .and_then(|a| a.production.clone())
            .or_else(|| config.production.clone())
            .unwrap_or_else(|| DEFAULT_PRODUCTION.to_string());
        let deploy_workflow = match args
            .and_then(|a| a.deploy_workflow.clone())
            .or_else(|| section.and_then(|s| s.deploy_workflow.clone()))
        {
            Some(pattern) => Some(regex::Regex::new(&pattern).map_err(|e| {
                Error::usage(
                    "--deploy-workflow",
                    format!("`{pattern}` is not a regular expression: {e}"),
                )
            })?),
            None => None,
        };
        let options = ForgeOptions {
            deploy_workflow,
            workflow_environment: args
                .and_then(|a| a.workflow_environment.clone())
                .or_else(|| section.and_then(|s| s.workflow_environment.clone()))
                .unwrap_or_else(|| "production".into()),
            api_url: args
                .and_then(|a| a.api_url.clone())
                .or_else(|| section.and_then(|s| s.api_url.clone())),
            production: ProductionPattern::new(&production)?,
            incident_label: args
                .and_then(|a| a.incident_label.clone())
                .or_else(|| section.and_then(|s| s.incident_label.clone()))
                .unwrap_or_else(|| "incident".into()),
            releases_as_deployments: args.is_some_and(|a| a.releases_as_deployments)
                || section
                    .and_then(|s| s.releases_as_deployments)
                    .unwrap_or(false),
            services: config.services.clone().into_iter().collect(),
            full,
            concurrency: args
                .and_then(|a| a.concurrency)
                .or(config.concurrency)
                .unwrap_or(4),
        };
        for repo in &repos {
            crate::ingest::forge::check_repo_name(
                if forge == Forge::GitHub {
                    "github"
                } else {
                    "gitlab"
                },
                repo,
            )?;
        }
        if options.concurrency == 0 {
            return Err(Error::usage("--concurrency", "must be at least 1"));
        }
        plan.push((forge, options, repos));
    }
    if plan.is_empty()
        && explicit.is_none()
        && (config.pagerduty.is_some() || config.jira.is_some() || config.incident_io.is_some())
    {
        return trackers(ctx, full, &config).await;
    }
    if plan.is_empty() {
        return Err(Error::Config {
            file: config_file.to_path_buf(),
            message: "lists no repositories under [github] or [gitlab]".into(),
        });
    }
    let warehouse = ctx.open()?;
    let teams = config.team_rows();
    if !teams.is_empty() {
        let mut buffer = crate::store::buffer::TableBuffer::new(Table::Teams);
        for (team, service) in &teams {
            buffer.push(&[
                crate::store::buffer::Cell::Text(team),
                crate::store::buffer::Cell::Text(service),
            ]);
        }
        let batch = buffer.finish()?;
        let batches = crate::ingest::keep_last_per_key(Table::Teams, vec![batch])?;
        warehouse.upsert(Table::Teams, &batches)?;
    }
    let mut failure = None;
    for (forge, options, repos) in &plan {
        let sync = SyncContext::new(&warehouse, options);
        let notify = sync.notify();
        // Every forge is a Source: one scope per repository.
        let result = match forge {
            Forge::GitHub => {
                let source = ForgeSource {
                    forge: crate::ingest::forge::github::GitHub::new(options, notify.clone())?,
                    ctx: &sync,
                    repos: repos.clone(),
                };
                run_source_on(&warehouse, options.full, &source, &notify).await
            }
            Forge::GitLab => {
                let source = ForgeSource {
                    forge: crate::ingest::forge::gitlab::GitLab::new(options, notify.clone())?,
                    ctx: &sync,
                    repos: repos.clone(),
                };
                run_source_on(&warehouse, options.full, &source, &notify).await
            }
        };
        match result {
            Ok(()) => {}
            // Other forges still sync; the first failure is the exit status.
            Err(e) if failure.is_none() && plan.len() > 1 => {
                eprintln!("error: {e}");
                failure = Some(e);
            }
            Err(e) => return Err(failure.unwrap_or(e)),
        }
    }
    if explicit.is_none() {
        trackers(ctx, full, &config).await?;
    }
    failure.map_or(Ok(()), Err)
}

/// `ingest pagerduty|jira|incident-io`: that tracker, its options from the
/// command line over doralens.toml over the defaults.
pub async fn tracker(
    ctx: &Context,
    config_file: &Path,
    full: bool,
    which: &IngestSource,
) -> Result<()> {
    let config = config::Config::load(config_file, false)?;
    match which {
        IngestSource::Pagerduty(args) => pagerduty(ctx, &config, full, Some(args)).await,
        IngestSource::Jira(args) => jira(ctx, &config, full, Some(args)).await,
        IngestSource::IncidentIo(args) => incident_io(ctx, &config, full, Some(args)).await,
        IngestSource::Git(_) | IngestSource::Github(_) | IngestSource::Gitlab(_) => {
            unreachable!("not a tracker")
        }
    }
}

/// The trackers doralens.toml has sections for (plain `ingest`), from the
/// file already read.
async fn trackers(ctx: &Context, full: bool, config: &config::Config) -> Result<()> {
    if config.pagerduty.is_some() {
        pagerduty(ctx, config, full, None).await?;
    }
    if config.jira.is_some() {
        jira(ctx, config, full, None).await?;
    }
    if config.incident_io.is_some() {
        incident_io(ctx, config, full, None).await?;
    }
    Ok(())
}

/// Where a tracker's first (or `--full`) sync starts: `--since`, else the
/// file's `since`, else a year ago.
fn since(cli: Option<&String>, file: Option<&String>) -> Result<Timestamp> {
    match cli.or(file) {
        Some(s) => parse_instant("--since", s),
        None => Ok(Timestamp::now() - Span::days(365)),
    }
}

/// `ingest incident-io`, or the `[incident_io]` section of plain `ingest`.
async fn incident_io(
    ctx: &Context,
    config: &config::Config,
    full: bool,
    args: Option<&IncidentIoArgs>,
) -> Result<()> {
    use crate::ingest::tracker::incident_io::{IncidentIo, IncidentIoOptions};
    let section = config.incident_io.clone().unwrap_or_default();
    let since = since(args.and_then(|a| a.since.as_ref()), section.since.as_ref())?;
    let links = LinkFields::new(
        args.and_then(|a| a.deployment_field.clone())
            .or(section.deployment_field.clone()),
        args.and_then(|a| a.commit_field.clone())
            .or(section.commit_field.clone()),
        args.and_then(|a| a.link_field.clone())
            .or(section.link_field.clone()),
    );
    let options = IncidentIoOptions {
        api_url: args
            .and_then(|a| a.api_url.clone())
            .or(section.api_url.clone()),
        service_field: args
            .and_then(|a| a.service_field.clone())
            .or(section.service_field.clone()),
        impact_started: args
            .and_then(|a| a.impact_timestamp.clone())
            .or(section.impact_timestamp.clone())
            .unwrap_or_else(|| "Impact started".into()),
        resolved: args
            .and_then(|a| a.resolved_timestamp.clone())
            .or(section.resolved_timestamp.clone())
            .unwrap_or_else(|| "Resolved at".into()),
        deployment_field: links.deployment,
        commit_field: links.commit,
        link_field: links.link,
        services: section.services.into_iter().collect(),
        since,
    };
    let notify = stderr_lines();
    let source = IncidentIo::new(options, notify.clone())?;
    run_source(ctx, full, &source, &notify).await?;
    source.report_unmapped(&notify);
    Ok(())
}

/// Syncs a source's scopes and prints their summaries.
async fn run_source<S: crate::ingest::source::Source>(
    ctx: &Context,
    full: bool,
    source: &S,
    notify: &crate::ingest::client::http::Notify,
) -> Result<()> {
    let warehouse = ctx.open()?;
    run_source_on(&warehouse, full, source, notify).await
}

/// [`run_source`] on an open warehouse.
async fn run_source_on<S: crate::ingest::source::Source>(
    warehouse: &crate::store::warehouse::Warehouse,
    full: bool,
    source: &S,
    notify: &crate::ingest::client::http::Notify,
) -> Result<()> {
    use crate::ingest::source::{SourceContext, sync_all};
    let sync = SourceContext::new(warehouse, full, notify.clone());
    for r in sync_all(source, &sync).await? {
        eprintln!("{}", r.summary(source.name(), source.tables()));
    }
    Ok(())
}

use crate::ingest::tracker::link_field::LinkFields;

fn stderr_lines() -> crate::ingest::client::http::Notify {
    std::sync::Arc::new(|line: &str| eprintln!("{line}"))
}

/// `ingest jira`, or the `[jira]` section of plain `ingest`.
async fn jira(
    ctx: &Context,
    config: &config::Config,
    full: bool,
    args: Option<&JiraArgs>,
) -> Result<()> {
    use crate::ingest::tracker::jira::{Jira, JiraOptions};
    let section = config.jira.clone().unwrap_or_default();
    let url = args
        .and_then(|a| a.url.clone())
        .or(section.url.clone())
        .ok_or_else(|| {
            Error::usage(
                "--url",
                "name the Jira site, e.g. --url https://acme.atlassian.net (or url in [jira])",
            )
        })?;
    let projects = match args.map(|a| a.projects.clone()) {
        Some(p) if !p.is_empty() => p,
        _ => section.projects.clone(),
    };
    let jql = args.and_then(|a| a.jql.clone()).or(section.jql.clone());
    if projects.is_empty() && jql.is_none() {
        return Err(Error::usage(
            "--project",
            "name the projects whose incidents to read (--project OPS), or the JQL (--jql)",
        ));
    }
    let since = since(args.and_then(|a| a.since.as_ref()), section.since.as_ref())?;
    let links = LinkFields::new(
        args.and_then(|a| a.deployment_field.clone())
            .or(section.deployment_field.clone()),
        args.and_then(|a| a.commit_field.clone())
            .or(section.commit_field.clone()),
        args.and_then(|a| a.link_field.clone())
            .or(section.link_field.clone()),
    );
    let options = JiraOptions {
        url,
        projects,
        jql,
        issue_type: args
            .and_then(|a| a.issue_type.clone())
            .or(section.issue_type.clone())
            .unwrap_or_else(|| "Incident".into()),
        service_field: args
            .and_then(|a| a.service_field.clone())
            .or(section.service_field.clone())
            .unwrap_or_else(|| "components".into()),
        deployment_field: links.deployment,
        commit_field: links.commit,
        link_field: links.link,
        since,
        services: section.services.into_iter().collect(),
    };
    let notify = stderr_lines();
    let source = Jira::new(options, notify.clone())?;
    run_source(ctx, full, &source, &notify).await?;
    source.report_unmapped(&notify);
    Ok(())
}

/// `ingest pagerduty`, or the `[pagerduty]` section of plain `ingest`:
/// options from the command line over the file over the defaults.
async fn pagerduty(
    ctx: &Context,
    config: &config::Config,
    full: bool,
    args: Option<&PagerDutyArgs>,
) -> Result<()> {
    use crate::ingest::tracker::pagerduty::{PagerDuty, PagerDutyOptions, parse_priority};
    let section = config.pagerduty.clone().unwrap_or_default();
    let pick = |cli: Option<Vec<String>>, file: Vec<String>| match cli {
        Some(v) if !v.is_empty() => v,
        _ => file,
    };
    let since = since(args.and_then(|a| a.since.as_ref()), section.since.as_ref())?;
    let min_priority = match args
        .and_then(|a| a.min_priority.clone())
        .or(section.min_priority.clone())
    {
        Some(p) => Some(parse_priority("--min-priority", &p)?),
        None => None,
    };
    let options = PagerDutyOptions {
        api_url: args
            .and_then(|a| a.api_url.clone())
            .or(section.api_url.clone()),
        service_ids: pick(args.map(|a| a.service_ids.clone()), section.service_ids),
        team_ids: pick(args.map(|a| a.team_ids.clone()), section.team_ids),
        urgency: args.and_then(|a| a.urgency.clone()).or(section.urgency),
        min_priority,
        since,
        services: section.services.into_iter().collect(),
        change_events: !args.is_some_and(|a| a.no_change_events)
            && section.change_events.unwrap_or(true),
        link_field: args
            .and_then(|a| a.link_field.clone())
            .or(section.link_field.clone()),
    };
    let notify = stderr_lines();
    let source = PagerDuty::new(options, notify.clone())?;
    run_source(ctx, full, &source, &notify).await?;
    source.report_unmapped(&notify);
    Ok(())
}
