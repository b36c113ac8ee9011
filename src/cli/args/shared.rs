//! Flag groups several commands flatten in: the window, production
//! environments, the benchmark, the output, the metrics' scope.

use std::path::PathBuf;

use clap::Args;

use crate::base::production::{DEFAULT_PRODUCTION, ProductionPattern};
use crate::error::Result;
use crate::metrics::MetricsOptions;
use crate::metrics::interval::{self};
use crate::metrics::levels::{Benchmark, BenchmarkName};
use crate::render::Format;

use super::super::choices::choice;

/// `--team`, `--service`, `--repo`: count only these deployments and
/// incidents (a filter; `--by` groups).
#[derive(Debug, Clone, Args, Default)]
pub struct ScopeArgs {
    /// Only the services these teams list (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "TEAMS")]
    pub team: Vec<String>,
    /// Only these services (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    pub service: Vec<String>,
    /// Only deployments from these repositories, and incidents of the
    /// services they deploy (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "REPOS")]
    pub repo: Vec<String>,
}

impl ScopeArgs {
    pub fn scope(&self) -> crate::metrics::scope::Scope {
        crate::metrics::scope::Scope {
            teams: self.team.clone(),
            services: self.service.clone(),
            repos: self.repo.clone(),
        }
        .normalized()
    }
}

/// `--environment`, shared by every command that reads production
/// deployments.
#[derive(Debug, Clone, Args)]
pub struct EnvironmentArg {
    /// Production environments: a regex matched against the whole name, any case
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
}

/// `--rework-labels`: trimmed, empty ones dropped.
pub fn rework_labels(labels: &[String]) -> Vec<String> {
    labels
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

impl EnvironmentArg {
    pub fn pattern(&self) -> Result<ProductionPattern> {
        ProductionPattern::new(&self.environment)
    }
}

/// `--bot-logins`, shared by every command that computes the review
/// metrics (docs/metrics.md section 8).
#[derive(Debug, Clone, Args, Default)]
pub struct BotsArg {
    /// Reviewer logins that are bots, as globs (`*` is any text; the whole
    /// login, any case; comma-separated; empty: none). Default: `[bots]
    /// logins` of ./doralens.toml, else `*[bot]`
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    pub bot_logins: Option<Vec<String>>,
}

impl BotsArg {
    /// The flag, else `[bots] logins` of `doralens.toml` in the current
    /// directory (when there is one), else the default.
    pub fn rule(&self) -> Result<crate::metrics::bots::BotRule> {
        use crate::metrics::bots::BotRule;
        if let Some(globs) = &self.bot_logins {
            return Ok(BotRule::new(globs.iter().cloned()));
        }
        let file = std::path::Path::new(crate::cli::config::DEFAULT_CONFIG);
        let config = crate::cli::config::Config::load(file, false)?;
        Ok(match config.bots {
            Some(b) => BotRule::new(b.logins),
            None => BotRule::default(),
        })
    }
}

/// `--benchmark`, shared by every command that shows levels.
#[derive(Debug, Clone, Args)]
pub struct BenchmarkArg {
    /// Performance level bands
    #[arg(long, value_parser = choice::<BenchmarkName>(), default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
}

impl BenchmarkArg {
    pub fn load(&self) -> Result<Benchmark> {
        Benchmark::load(self.benchmark)
    }
}

/// `--format` and `--output`, shared by every command that prints rows.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    #[arg(long, value_parser = choice::<Format>(), default_value = "table")]
    pub format: Format,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `--from` / `--to`, shared by every command that has a window.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Window start, inclusive (RFC 3339 or a date). Default: 90 days before --to (analyze: 365)
    #[arg(long)]
    pub from: Option<String>,
    /// Window end, exclusive (RFC 3339 or a date). Default: now
    #[arg(long)]
    pub to: Option<String>,
}

impl WindowArgs {
    /// Default options for this window; without --from it starts
    /// `default_days` before --to (which defaults to now).
    pub fn options(&self, default_days: i64) -> Result<MetricsOptions> {
        let to = match &self.to {
            Some(s) => interval::parse_instant("--to", s)?,
            None => crate::base::time::Timestamp::now(),
        };
        let mut opts = MetricsOptions::defaults(to);
        opts.from = match &self.from {
            Some(s) => interval::parse_instant("--from", s)?,
            None => to - crate::base::time::Span::days(default_days),
        };
        Ok(opts)
    }
}
