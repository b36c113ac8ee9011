//! The command line: every flag, once. Flags several commands share are
//! groups flattened into them ([`WindowArgs`], [`EnvironmentArg`],
//! [`BenchmarkArg`], [`OutputArgs`]), each resolving itself into options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::metrics::Grouping;
use crate::metrics::interval::Interval;
use crate::render::Format;
use crate::render::metric_chart::ChartKind;

use super::choices::{charted_metric, choice};

mod batch;
mod serve;
mod shared;

pub use batch::*;
pub use serve::*;
pub use shared::*;

pub const DEFAULT_WAREHOUSE: &str = "doralens-warehouse";

#[derive(Debug, Parser)]
#[command(
    name = "doralens",
    version,
    about = "DORA metrics from your delivery data: import, compute with SQL, report",
    after_help = "Start with `doralens demo`. Docs: README.md; metric definitions: queries/README.md"
)]
pub struct Cli {
    /// Warehouse directory (Parquet tables), or with the `cloud` feature an
    /// object-store location: s3://bucket/prefix, gs://..., az://...,
    /// file:///path. Default: ./doralens-warehouse
    #[arg(
        long,
        global = true,
        env = "DORALENS_WAREHOUSE",
        value_name = "DIR|URL"
    )]
    pub warehouse: Option<PathBuf>,

    /// Run the queries on a DataFusion Ballista cluster: df://host:50050,
    /// or `standalone` (in-process). Needs the `cluster` feature and, for
    /// df://, an object-store --warehouse the executors can read.
    #[arg(long, global = true, env = "DORALENS_CLUSTER", value_name = "URL")]
    pub cluster: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Import CSV or NDJSON files into a canonical table (upsert by key).
    Import {
        /// commits, changes, deployments, incidents, rollbacks or teams
        table: String,
        /// .csv (header row; lists separated by `;`) or .ndjson/.jsonl files
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Pull delivery data from a source into the warehouse. Without a
    /// source, syncs every repository listed in doralens.toml.
    Ingest {
        /// Configuration file (repositories, services, teams)
        #[arg(long, global = true, value_name = "FILE", default_value = super::config::DEFAULT_CONFIG)]
        config: PathBuf,
        /// Re-read everything, ignoring the saved cursors
        #[arg(long, global = true)]
        full: bool,
        #[command(subcommand)]
        source: Option<super::sources::IngestSource>,
    },
    /// Write a commented doralens.toml to start from.
    Init {
        #[arg(long, default_value = super::config::DEFAULT_CONFIG, value_name = "FILE")]
        path: PathBuf,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
    },
    /// Ingest a local git repository and print its metrics (try it on your repo).
    Analyze(AnalyzeArgs),
    /// Compute the DORA metrics (docs/metrics.md section 6 rows).
    Metrics(MetricsArgs),
    /// Run SQL over every table: the canonical ones, deployment_commits,
    /// deployment_warnings and the metric views.
    Sql(SqlArgs),
    /// Generate a deterministic synthetic organisation.
    Generate(GenerateArgs),
    /// Build a sample organisation and show its metrics (start here).
    Demo {
        /// Where the demo warehouse goes (replaced on every run)
        #[arg(long, default_value = "doralens-demo", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Describe the canonical tables and their columns.
    Tables,
    /// Draw a metric as SVG and PNG (time series with level bands,
    /// lead-time distribution, or team comparison with 95% intervals).
    Chart(ChartArgs),
    /// Write the weekly report (HTML and Markdown, with charts).
    Report(ReportArgs),
    /// Why a deployment counts as failed or rework (which incident or
    /// rollback, linked how), its recovery and the commits it shipped; or
    /// which deployment an incident counts against, by which rule, or why
    /// none; or a change's reviews and whether it had a second pair of eyes.
    Explain(ExplainArgs),
    /// Each team's level per metric per quarter and its trend (table and charts).
    Benchmark(BenchmarkArgs),
    /// Export the organisation's and each team's metrics for dashboards.
    Export(ExportArgs),
    /// Serve the dashboard at /, /metrics (Prometheus), a GitLab-shaped DORA
    /// API, the dashboard's APIs and read-only SQL.
    Serve(ServeArgs),
    /// Read tokens for `serve`: create (printed once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log of `serve`: who read what, when (one row per request).
    Audit(AuditArgs),
    /// Compute one shard of attribution (the repositories `--shard I/N`
    /// puts in shard I), e.g. one per machine; when all N are in the
    /// warehouse, every query uses their union (the same numbers as one
    /// machine's). With an object-store warehouse the shard is committed.
    Attribute {
        /// This run's shard: I/N, 0 <= I < N
        #[arg(long, value_name = "I/N")]
        shard: String,
        #[command(flatten)]
        env: EnvironmentArg,
    },
    /// Start a Ballista scheduler or executor with doralens's functions
    /// (the `cluster` feature): `--cluster df://HOST:PORT` then runs the
    /// queries there.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Delete files that writes superseded, once no reader can need them
    /// (waits for running readers), and files left by interrupted writes.
    Vacuum {
        /// Keep files superseded less than this long ago (`0s`: none)
        #[arg(long, default_value = "0s", value_name = "DURATION")]
        retain: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct BenchmarkArgs {
    #[arg(long, value_parser = choice::<Grouping>(), default_value = "team")]
    pub by: Grouping,
    #[arg(long, value_parser = choice::<Interval>(), default_value = "quarter")]
    pub interval: Interval,
    /// The window (default: the 365 days before --to)
    #[command(flatten)]
    pub window: WindowArgs,
    /// Buckets with fewer production deployments say `too few` instead of a level
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub min_deployments: u64,
    #[command(flatten)]
    pub bench: BenchmarkArg,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Directory for one chart per metric (SVG and PNG)
    #[arg(long, default_value = "charts", value_name = "DIR")]
    pub charts: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// ISO week, e.g. 2026-W46 (default: the last complete week)
    #[arg(long)]
    pub week: Option<String>,
    /// Directory for report.html, report.md and charts/ (default: reports/<week>)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bench: BenchmarkArg,
    #[command(flatten)]
    pub bots: BotsArg,
}

#[derive(Debug, Clone, Args)]
pub struct ChartArgs {
    #[arg(value_parser = charted_metric())]
    pub metric: &'static crate::metrics::catalogue::Metric,
    #[arg(long, value_parser = choice::<ChartKind>(), default_value = "series")]
    pub kind: ChartKind,
    #[arg(long, value_parser = choice::<Grouping>())]
    pub by: Option<Grouping>,
    /// Bucket size for series (default: week)
    #[arg(long, value_parser = choice::<Interval>(), default_value = "week")]
    pub interval: Interval,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bench: BenchmarkArg,
    /// Directory for the .svg and .png files
    #[arg(long, default_value = "charts", value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// OpenMetrics text for Prometheus (ends with `# EOF`)
    Openmetrics,
    Json,
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    #[arg(long, value_enum, default_value = "openmetrics")]
    pub format: ExportFormat,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bots: BotsArg,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// One row per bucket: day, week (ISO, Monday), month or quarter (UTC)
    #[arg(long, value_parser = choice::<Interval>())]
    pub interval: Option<Interval>,
    /// One row per team, service or repo (default: the organisation)
    #[arg(long, value_parser = choice::<Grouping>())]
    pub by: Option<Grouping>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// How long after a deployment an incident on its service is linked to it
    /// when nothing else links it (e.g. 24h, 90m, 3600s; 0 turns it off)
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub incident_window: String,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bench: BenchmarkArg,
    /// Labels that make a merged change rework (comma-separated, any case)
    #[arg(long, value_delimiter = ',', default_value = "hotfix,bug,incident")]
    pub rework_labels: Vec<String>,
    /// Count the first deployment's commits (whose real deploy time is unknown) in lead time
    #[arg(long)]
    pub include_baseline: bool,
    #[command(flatten)]
    pub bots: BotsArg,
    #[command(flatten)]
    pub batch: BatchArgs,
    #[command(flatten)]
    pub flag_stale: FlagStaleArg,
    /// Instead of the metrics: each merged change's lead time in four
    /// parts (coding, pickup, review, deploy), p50/p90 per group and bucket
    #[arg(long)]
    pub breakdown: bool,
    /// Columns of the readable table (comma-separated output columns, e.g.
    /// deploys_per_day,lead_time_p90_s; default: the five headline metrics)
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub columns: Option<Vec<String>>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    #[command(subcommand)]
    pub what: ExplainWhat,
    /// How long after a deployment an incident on its service is linked to it
    /// when nothing else links it (as for `metrics`)
    #[arg(long, default_value = "24h", value_name = "DURATION", global = true)]
    pub incident_window: String,
    /// Labels that make a merged change rework (comma-separated, any case)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "hotfix,bug,incident",
        global = true
    )]
    pub rework_labels: Vec<String>,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bots: BotsArg,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ExplainWhat {
    /// A deployment by id
    Deployment { id: String },
    /// An incident by id
    Incident { id: String },
    /// A change's reviews and four-eyes verdict, the commits it holds and
    /// where each row came from, as <repo>#<number>
    Change { id: String },
    /// Four-eyes on production flag changes in a window: the share that went
    /// through a change request, per team, and every direct change
    FlagChanges {
        #[command(flatten)]
        window: WindowArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct GitSelection {
    /// Repository name in the warehouse (default: the folder name)
    #[arg(long)]
    pub repo: Option<String>,
    /// Branch to read (repeatable; default: the branch HEAD points to). Tags are always read
    #[arg(long = "branch", value_name = "NAME")]
    pub branches: Vec<String>,
    /// Tags matching this glob (e.g. 'v*') are successful deployments at the tag's date
    #[arg(long, value_name = "GLOB")]
    pub deploy_tags: Option<String>,
    /// Service the tags deploy (default: the repo name)
    #[arg(long)]
    pub service: Option<String>,
    /// Environment name of tag deployments
    #[arg(long, default_value = "production")]
    pub environment: String,
    /// Ingest a shallow clone anyway (its oldest commits' lead times are wrong)
    #[arg(long)]
    pub allow_shallow: bool,
    /// Monorepo: commits touching GLOB belong to SERVICE (repeatable), e.g.
    /// api=services/api/*; each service gets its own commits and tag deployments
    #[arg(long = "service-path", value_name = "SERVICE=GLOB")]
    pub service_paths: Vec<String>,
}

impl GitSelection {
    pub fn options(&self, full: bool) -> Result<crate::ingest::git::GitOptions> {
        Ok(crate::ingest::git::GitOptions {
            repo_name: self.repo.clone(),
            branches: self.branches.clone(),
            deploy_tags: self.deploy_tags.clone(),
            service: self.service.clone(),
            environment: Some(self.environment.clone()),
            full,
            allow_shallow: self.allow_shallow,
            service_paths: crate::ingest::git::paths::ServicePaths::parse(&self.service_paths)?,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Repository path
    pub path: PathBuf,
    #[command(flatten)]
    pub selection: GitSelection,
    /// The window (for analyze, --from defaults to a year before --to:
    /// releases are rarer than deployments)
    #[command(flatten)]
    pub window: WindowArgs,
    #[arg(long, value_parser = choice::<Interval>())]
    pub interval: Option<Interval>,
    #[command(flatten)]
    pub bench: BenchmarkArg,
    #[arg(long, value_parser = choice::<Format>(), default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// The query (or use -f)
    pub query: Option<String>,
    /// Read the query from a file
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "query"
    )]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub env: EnvironmentArg,
    /// The window of the metric views
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub flag_stale: FlagStaleArg,
}

/// `--flag-stale-days` (docs/metrics.md section 9.6).
#[derive(Debug, Clone, Args)]
pub struct FlagStaleArg {
    /// A released flag still referenced in code is stale after this many
    /// days without a production flag change
    #[arg(long, value_name = "DAYS", default_value_t = crate::metrics::DEFAULT_FLAG_STALE_DAYS)]
    pub flag_stale_days: i64,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 6)]
    pub teams: usize,
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Multiplies the amount of work and deployments
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// End of the generated period (exclusive; a date or RFC 3339). Default: today 00:00 UTC
    #[arg(long)]
    pub end: Option<String>,
    /// Multiplies how often deployments cause incidents
    #[arg(long, default_value_t = 1.0)]
    pub incident_rate: f64,
    /// Write CSV or NDJSON files into DIR instead of the warehouse
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// File format with --out
    #[arg(long, value_enum, default_value = "csv")]
    pub file_format: FileFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans jobs and hands tasks to executors.
    Scheduler {
        /// Address to listen on (clients use df://ADDR)
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: std::net::SocketAddr,
    },
    /// An executor: runs tasks, reading the warehouse's object store.
    Executor {
        /// The scheduler's address
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: std::net::SocketAddr,
        /// Address to listen on (the scheduler and other executors reach it)
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
        bind: std::net::SocketAddr,
        /// Port of its gRPC service
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks at once (default: the cores)
        #[arg(long)]
        concurrency: Option<usize>,
        /// Where shuffle files go (default: a temporary directory)
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
}
