//! Command-line interface: argument definitions and the commands. `main.rs`
//! only parses arguments, calls [`run`] and maps errors to exit codes.

pub mod benchmark;
pub mod chart;
pub mod config;
mod demo;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::engine::{DEFAULT_PRODUCTION, Engine, ProductionPattern};
use crate::error::{Error, Result};
use crate::ingest::synthetic::{self, GeneratorConfig, Sink};
use crate::metrics::interval::{self, Interval};
use crate::metrics::levels::{Benchmark, BenchmarkName};
use crate::metrics::{self, DEFAULT_WINDOW_DAYS, Grouping, MetricsOptions};
use crate::render::{self, Format};
use crate::store::schema::{self, Table};
use crate::store::warehouse::Warehouse;

pub const DEFAULT_WAREHOUSE: &str = "doralens-warehouse";

#[derive(Debug, Parser)]
#[command(
    name = "doralens",
    version,
    about = "DORA metrics from your delivery data: import, compute with SQL, report",
    after_help = "Start with `doralens demo`. Docs: README.md; metric definitions: queries/README.md"
)]
pub struct Cli {
    /// Warehouse directory (Parquet tables). Default: ./doralens-warehouse
    #[arg(long, global = true, env = "DORALENS_WAREHOUSE", value_name = "DIR")]
    pub warehouse: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
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
        #[arg(long, global = true, value_name = "FILE", default_value = config::DEFAULT_CONFIG)]
        config: PathBuf,
        /// Re-read everything, ignoring the saved cursors
        #[arg(long, global = true)]
        full: bool,
        #[command(subcommand)]
        source: Option<IngestSource>,
    },
    /// Write a commented doralens.toml to start from.
    Init {
        #[arg(long, default_value = config::DEFAULT_CONFIG, value_name = "FILE")]
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
    /// Each team's level per metric per quarter and its trend (table and charts).
    Benchmark(BenchmarkArgs),
    /// Export the organisation's and each team's metrics for dashboards.
    Export(ExportArgs),
    /// Serve /metrics (Prometheus), a GitLab-shaped DORA API and read-only SQL.
    Serve(ServeArgs),
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
    #[arg(long, value_enum, default_value = "team")]
    pub by: Grouping,
    #[arg(long, value_enum, default_value = "quarter")]
    pub interval: Interval,
    /// The window (default: the 365 days before --to)
    #[command(flatten)]
    pub window: WindowArgs,
    /// Buckets with fewer production deployments say `too few` instead of a level
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub min_deployments: u64,
    #[arg(long, value_enum, default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
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
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    #[arg(long, value_enum, default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
}

#[derive(Debug, Clone, Args)]
pub struct ChartArgs {
    #[arg(value_enum)]
    pub metric: chart::ChartMetric,
    #[arg(long, value_enum, default_value = "series")]
    pub kind: chart::ChartKind,
    #[arg(long, value_enum)]
    pub by: Option<Grouping>,
    /// Bucket size for series (default: week)
    #[arg(long, value_enum, default_value = "week")]
    pub interval: Interval,
    #[command(flatten)]
    pub window: WindowArgs,
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    #[arg(long, value_enum, default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
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
    /// Production environments: a regex matched against the whole name, any case
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the URL is printed on stdout)
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    /// Window of /metrics and of the SQL endpoint's metric views
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub window_days: i64,
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    /// Most rows one SQL answer carries
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub sql_max_rows: usize,
    /// Longest any query may run (SQL or metrics); it is cancelled then
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub sql_timeout: f64,
    /// Longest SQL text accepted, in bytes
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub sql_max_length: usize,
    /// Deepest expression nesting accepted (`1+1+…` with n terms is n deep)
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub sql_max_depth: usize,
    /// Largest string one repeat/lpad/rpad call may produce, in bytes
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub sql_max_value: usize,
    /// Memory one query may use, in MiB (it fails with a message past that)
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub query_memory: usize,
    /// Largest request body, in bytes (413 past that)
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub max_body: usize,
    /// Longest date range the DORA API answers, in days
    #[arg(long, default_value_t = 3_700, value_name = "DAYS")]
    pub dora_max_days: i64,
    /// Connections open at once (more wait until one closes)
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Queries running at once (more queue in arrival order; default: one per core)
    #[arg(long, value_name = "N")]
    pub max_queries: Option<usize>,
    /// Longest a client may take to send a request's headers (idle
    /// connections are closed after it)
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,
}

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub window: WindowArgs,
    /// One row per bucket: day, week (ISO, Monday), month or quarter (UTC)
    #[arg(long, value_enum)]
    pub interval: Option<Interval>,
    /// One row per team, service or repo (default: the organisation)
    #[arg(long, value_enum)]
    pub by: Option<Grouping>,
    /// How long after a deployment an incident on its service is linked to it
    /// when nothing else links it (e.g. 24h, 90m, 3600s; 0 turns it off)
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub incident_window: String,
    /// Production environments: a regex matched against the whole name, any case
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    /// Performance level bands
    #[arg(long, value_enum, default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
    /// Labels that make a merged change rework (comma-separated, any case)
    #[arg(long, value_delimiter = ',', default_value = "hotfix,bug,incident")]
    pub rework_labels: Vec<String>,
    /// Count the first deployment's commits (whose real deploy time is unknown) in lead time
    #[arg(long)]
    pub include_baseline: bool,
    /// Instead of the metrics: each merged change's lead time in four
    /// parts (coding, pickup, review, deploy), p50/p90 per group and bucket
    #[arg(long)]
    pub breakdown: bool,
    /// Columns of the readable table (comma-separated output columns, e.g.
    /// deploys_per_day,lead_time_p90_s; default: the five headline metrics)
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub columns: Option<Vec<String>>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write to FILE (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum IngestSource {
    /// A local git repository, bare or not: commits, and tags as deployments.
    /// Offline, no token. Later runs read only what is new.
    Git(GitArgs),
    /// GitHub repositories (token: GITHUB_TOKEN): commits, pull requests,
    /// deployments, incident issues. Later runs read only what changed.
    Github(ForgeArgs),
    /// GitLab projects (token: GITLAB_TOKEN): commits, merge requests,
    /// deployments, incidents. Later runs read only what changed.
    Gitlab(ForgeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ForgeArgs {
    /// owner/repo (GitHub) or group/project (GitLab); default: the ones in doralens.toml
    pub repos: Vec<String>,
    /// API root: GitHub Enterprise (https://ghe.example.com/api/v3) or self-hosted GitLab
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Count published releases as production deployments
    #[arg(long)]
    pub releases_as_deployments: bool,
    /// GitHub: issues with this label are incidents [default: incident]
    #[arg(long, value_name = "LABEL")]
    pub incident_label: Option<String>,
    /// Production environment names: a regex over the whole name, any case [default: production|prod]
    #[arg(long, value_name = "REGEX")]
    pub production: Option<String>,
    /// Repositories synced at the same time [default: 4]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
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
    fn options(&self, full: bool) -> Result<crate::ingest::git::GitOptions> {
        Ok(crate::ingest::git::GitOptions {
            repo_name: self.repo.clone(),
            branches: self.branches.clone(),
            deploy_tags: self.deploy_tags.clone(),
            service: self.service.clone(),
            environment: Some(self.environment.clone()),
            full,
            allow_shallow: self.allow_shallow,
            service_paths: crate::ingest::git_paths::ServicePaths::parse(&self.service_paths)?,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct GitArgs {
    /// Repository paths (a clone's folder or a bare repository)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: GitSelection,
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
    #[arg(long, value_enum)]
    pub interval: Option<Interval>,
    #[arg(long, value_enum, default_value = "dora-2023")]
    pub benchmark: BenchmarkName,
    #[arg(long, value_enum, default_value = "table")]
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
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Production environments for the derived tables (see `metrics --environment`)
    #[arg(long, default_value = DEFAULT_PRODUCTION, value_name = "REGEX")]
    pub environment: String,
    /// The window of the metric views
    #[command(flatten)]
    pub window: WindowArgs,
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
    fn options(&self, default_days: i64) -> Result<MetricsOptions> {
        let to = match &self.to {
            Some(s) => interval::parse_instant("--to", s)?,
            None => interval::now_micros(),
        };
        let mut opts = MetricsOptions::defaults(to);
        opts.from = match &self.from {
            Some(s) => interval::parse_instant("--from", s)?,
            None => to - interval::days_micros(default_days),
        };
        Ok(opts)
    }
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

pub fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start runtime", "<tokio>", e))?;
    runtime.block_on(run_async(cli))
}

fn warehouse_dir(cli_value: &Option<PathBuf>) -> PathBuf {
    cli_value
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_WAREHOUSE))
}

async fn run_async(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Import { table, files } => {
            let table = Table::from_name(&table).ok_or_else(|| {
                Error::usage(
                    "TABLE",
                    format!(
                        "unknown table `{table}`; expected one of {}",
                        Table::names()
                    ),
                )
            })?;
            let warehouse = Warehouse::open(warehouse_dir(&cli.warehouse))?;
            let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
            let report = crate::ingest::import_files(&warehouse, table, &paths)?;
            eprintln!(
                "imported {} rows into {table} ({} replaced); {table} now has {} rows",
                report.written, report.replaced, report.total
            );
            Ok(())
        }
        Command::Init { path, force } => {
            if path.exists() && !force {
                return Err(Error::usage(
                    "--path",
                    format!("{} exists; add --force to replace it", path.display()),
                ));
            }
            crate::store::warehouse::atomic_write(&path, |f| {
                f.write_all(config::STARTER.as_bytes())
            })?;
            eprintln!(
                "wrote {}: list your repositories, export GITHUB_TOKEN / GITLAB_TOKEN, then run `doralens ingest`",
                path.display()
            );
            Ok(())
        }
        Command::Ingest {
            source: Some(IngestSource::Github(args)),
            config,
            full,
        } => ingest_forges(&cli.warehouse, &config, full, Some((Forge::GitHub, &args))).await,
        Command::Ingest {
            source: Some(IngestSource::Gitlab(args)),
            config,
            full,
        } => ingest_forges(&cli.warehouse, &config, full, Some((Forge::GitLab, &args))).await,
        Command::Ingest {
            source: None,
            config,
            full,
        } => ingest_forges(&cli.warehouse, &config, full, None).await,
        Command::Ingest {
            source: Some(IngestSource::Git(args)),
            full,
            ..
        } => {
            let warehouse = Warehouse::open(warehouse_dir(&cli.warehouse))?;
            let reports = crate::ingest::git::ingest_all(
                &warehouse,
                &args.paths,
                &args.selection.options(full)?,
            )?;
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
        Command::Analyze(args) => analyze(&cli.warehouse, &args).await,
        Command::Metrics(args) => {
            let opts = metrics_options(&args)?;
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            let engine = open_engine(&warehouse, &opts.production).await?;
            if args.breakdown {
                let table = metrics::breakdown(&engine, &opts).await?;
                return emit(
                    args.format,
                    args.output.as_deref(),
                    &table.schema,
                    &table.batches,
                );
            }
            let table = metrics::compute(&engine, &opts).await?;
            emit_metrics_columns(
                args.format,
                args.output.as_deref(),
                &table,
                args.columns.as_deref(),
            )
        }
        Command::Sql(args) => {
            let query = match (&args.query, &args.file) {
                (Some(q), None) => q.clone(),
                (None, Some(f)) => {
                    std::fs::read_to_string(f).map_err(|e| Error::io("cannot read", f, e))?
                }
                _ => return Err(Error::usage("QUERY", "give a query, or -f FILE")),
            };
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
            opts.production = ProductionPattern::new(&args.environment)?;
            opts.validate()?;
            let engine = open_engine(&warehouse, &opts.production).await?;
            metrics::register_views(&engine, &opts).await?;
            let (schema, batches) = engine.user_sql(&query).await?;
            emit(args.format, args.output.as_deref(), &schema, &batches)
        }
        Command::Generate(args) => {
            let config = generator_config(&args)?;
            let counts = match &args.out {
                Some(dir) => {
                    let mut sink = FileSink::new(dir, args.file_format)?;
                    synthetic::generate(&config, &mut sink)?
                }
                None => {
                    let warehouse = Warehouse::open(warehouse_dir(&cli.warehouse))?;
                    let mut sink = WarehouseSink {
                        warehouse: &warehouse,
                    };
                    synthetic::generate(&config, &mut sink)?
                }
            };
            eprintln!("generated {counts}");
            Ok(())
        }
        Command::Demo { dir } => demo::run(&dir).await,
        Command::Tables => {
            print!("{}", schema::tables_markdown());
            Ok(())
        }
        Command::Export(args) => export(&cli.warehouse, &args).await,
        Command::Report(args) => report(&cli.warehouse, &args).await,
        Command::Benchmark(args) => {
            let mut opts = args.window.options(365)?;
            opts.interval = Some(args.interval);
            opts.group = Some(args.by);
            opts.production = ProductionPattern::new(&args.environment)?;
            opts.benchmark = Benchmark::load(args.benchmark)?;
            opts.validate()?;
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            let engine = open_engine(&warehouse, &opts.production).await?;
            let (schema, batch) = benchmark::table(&engine, &opts, args.min_deployments).await?;
            for metric in [
                chart::ChartMetric::DeploymentFrequency,
                chart::ChartMetric::LeadTime,
                chart::ChartMetric::ChangeFailureRate,
                chart::ChartMetric::RecoveryTime,
            ] {
                for path in chart::draw(
                    &engine,
                    &opts,
                    metric,
                    chart::ChartKind::Series,
                    &args.charts,
                )
                .await?
                {
                    eprintln!("wrote {}", path.display());
                }
            }
            emit(args.format, args.output.as_deref(), &schema, &[batch])
        }
        Command::Chart(args) => {
            let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
            opts.interval = Some(args.interval);
            opts.group = args.by;
            opts.production = ProductionPattern::new(&args.environment)?;
            opts.benchmark = Benchmark::load(args.benchmark)?;
            opts.validate()?;
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            let engine = open_engine(&warehouse, &opts.production).await?;
            for path in chart::draw(&engine, &opts, args.metric, args.kind, &args.out).await? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Vacuum { retain } => {
            let retain = interval::parse_duration_micros("--retain", &retain)?;
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            let removed = warehouse.vacuum(std::time::Duration::from_micros(retain as u64))?;
            eprintln!("removed {removed} superseded or leftover files and directories");
            Ok(())
        }
        Command::Serve(args) => {
            let limits = serve_limits(&args)?;
            let warehouse = Warehouse::open_existing(warehouse_dir(&cli.warehouse))?;
            crate::serve::run(
                warehouse,
                crate::serve::ServeOptions {
                    addr: args.addr,
                    window_days: args.window_days,
                    production: ProductionPattern::new(&args.environment)?,
                    limits,
                },
            )
            .await
        }
    }
}

/// `serve`'s bounds, each checked: a value that cannot be meant (zero,
/// infinite, not a number) is refused with exit 2.
fn serve_limits(args: &ServeArgs) -> Result<crate::serve::Limits> {
    let window = "--window-days/--sql-max-rows/--sql-max-length/--sql-max-depth/--sql-max-value/\
                  --query-memory/--max-body/--dora-max-days/--max-connections/--max-queries";
    let counts = [
        args.window_days.max(0) as usize,
        args.sql_max_rows,
        args.sql_max_length,
        args.sql_max_depth,
        args.sql_max_value,
        args.query_memory,
        args.max_body,
        args.dora_max_days.max(0) as usize,
        args.max_connections,
        args.max_queries.unwrap_or(1),
    ];
    if counts.contains(&0) || args.window_days > 36_600 || args.dora_max_days > 36_600 {
        return Err(Error::usage(
            window,
            "must all be positive (and day counts at most 36600)",
        ));
    }
    let timeout = checked_seconds("--sql-timeout", args.sql_timeout, 86_400.0)?;
    let header_timeout = checked_seconds("--header-timeout", args.header_timeout, 3_600.0)?;
    Ok(crate::serve::Limits {
        sql: crate::serve::SqlLimits {
            max_bytes: args.sql_max_length,
            max_depth: args.sql_max_depth,
            max_value_bytes: args.sql_max_value,
        },
        sql_max_rows: args.sql_max_rows,
        query_timeout: timeout,
        query_memory: args.query_memory.saturating_mul(1 << 20),
        max_body: args.max_body,
        dora_max_days: args.dora_max_days,
        max_connections: args.max_connections,
        max_queries: args.max_queries.unwrap_or_else(crate::cores),
        header_timeout,
    })
}

/// A number of seconds that is finite, positive and at most `max`.
fn checked_seconds(option: &str, value: f64, max: f64) -> Result<std::time::Duration> {
    if !(value.is_finite() && value > 0.0 && value <= max) {
        return Err(Error::usage(
            option,
            format!("`{value}` is not a number of seconds between 0 and {max}"),
        ));
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

/// `report`: the week's report as report.html, report.md and charts/.
async fn report(warehouse: &Option<PathBuf>, args: &ReportArgs) -> Result<()> {
    use crate::render::report;
    let monday = match &args.week {
        Some(w) => report::parse_week(w)?,
        None => report::last_complete_week(interval::now_micros()),
    };
    let week = report::week_name(monday);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&week));
    let mut opts = MetricsOptions::defaults(monday);
    opts.production = ProductionPattern::new(&args.environment)?;
    opts.benchmark = Benchmark::load(args.benchmark)?;
    let warehouse = Warehouse::open_existing(warehouse_dir(warehouse))?;
    let engine = open_engine(&warehouse, &opts.production).await?;
    let links = crate::ingest::forge::WebLinks::load(&warehouse);
    let built = report::build(&engine, &opts, monday, &links).await?;
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| Error::io("cannot create", &charts, e))?;
    for (stem, _, svg) in &built.charts {
        let png = crate::render::chart::png(svg)?;
        crate::store::warehouse::atomic_write(&charts.join(format!("{stem}.svg")), |f| {
            f.write_all(svg.as_bytes())
        })?;
        crate::store::warehouse::atomic_write(&charts.join(format!("{stem}.png")), |f| {
            f.write_all(&png)
        })?;
    }
    for (name, content) in [
        ("report.md", report::markdown(&built)),
        ("report.html", report::html(&built)),
    ] {
        let path = dir.join(name);
        crate::store::warehouse::atomic_write(&path, |f| f.write_all(content.as_bytes()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// `export`: OpenMetrics of the organisation and each team, or the same
/// rows as a table (the organisation's with an empty team).
async fn export(warehouse: &Option<PathBuf>, args: &ExportArgs) -> Result<()> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.production = ProductionPattern::new(&args.environment)?;
    opts.validate()?;
    let warehouse = Warehouse::open_existing(warehouse_dir(warehouse))?;
    let engine = open_engine(&warehouse, &opts.production).await?;
    let format = match args.format {
        ExportFormat::Openmetrics => {
            let text = crate::serve::openmetrics_text(&engine, &opts).await?;
            return match &args.output {
                Some(path) => {
                    crate::store::warehouse::atomic_write(path, |f| f.write_all(text.as_bytes()))
                }
                None => {
                    print!("{text}");
                    Ok(())
                }
            };
        }
        ExportFormat::Json => Format::Json,
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Parquet => Format::Parquet,
    };
    let (org, teams) = metrics::organisation_and_teams(&engine, &opts).await?;
    // The team column is null on the organisation's row.
    let mut fields: Vec<datafusion::arrow::datatypes::Field> = teams
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = fields[0].clone().with_nullable(true);
    let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let mut batches = Vec::new();
    for batch in &org.batches {
        // The organisation row: the team columns' place, empty.
        let mut columns = vec![datafusion::arrow::array::new_null_array(
            &datafusion::arrow::datatypes::DataType::Utf8,
            batch.num_rows(),
        )];
        columns.extend(batch.columns().iter().cloned());
        batches.push(datafusion::arrow::array::RecordBatch::try_new(
            schema.clone(),
            columns,
        )?);
    }
    for batch in &teams.batches {
        batches.push(batch.clone().with_schema(schema.clone())?);
    }
    emit(format, args.output.as_deref(), &schema, &batches)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forge {
    GitHub,
    GitLab,
}

/// `ingest github|gitlab` (one forge, repositories from the arguments or
/// the file) or plain `ingest` (every forge in the file).
async fn ingest_forges(
    warehouse: &Option<PathBuf>,
    config_file: &Path,
    full: bool,
    explicit: Option<(Forge, &ForgeArgs)>,
) -> Result<()> {
    use crate::ingest::forge::{ForgeOptions, SyncContext, summary, sync_all};
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
        let options = ForgeOptions {
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
    if plan.is_empty() {
        return Err(Error::Config {
            file: config_file.to_path_buf(),
            message: "lists no repositories under [github] or [gitlab]".into(),
        });
    }
    let warehouse = Warehouse::open(warehouse_dir(warehouse))?;
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
        let ctx = SyncContext::new(&warehouse, options);
        let result = match forge {
            Forge::GitHub => {
                let client = crate::ingest::github::GitHub::new(options, ctx.notify())?;
                sync_all(&client, &ctx, repos).await.map(|r| ("github", r))
            }
            Forge::GitLab => {
                let client = crate::ingest::gitlab::GitLab::new(options, ctx.notify())?;
                sync_all(&client, &ctx, repos).await.map(|r| ("gitlab", r))
            }
        };
        match result {
            Ok((name, reports)) => {
                for r in &reports {
                    eprintln!("{}", summary(name, r));
                }
            }
            // Other forges still sync; the first failure is the exit status.
            Err(e) if failure.is_none() && plan.len() > 1 => {
                eprintln!("error: {e}");
                failure = Some(e);
            }
            Err(e) => return Err(failure.unwrap_or(e)),
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn analyze(warehouse: &Option<PathBuf>, args: &AnalyzeArgs) -> Result<()> {
    if args.selection.deploy_tags.is_none() {
        return Err(Error::usage(
            "--deploy-tags",
            "analyze needs to know which tags are releases, e.g. --deploy-tags 'v*'",
        ));
    }
    // Without --warehouse the analysis is throwaway: a temp directory.
    let (dir, temporary) = match warehouse {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("doralens-analyze-{}", std::process::id())),
            true,
        ),
    };
    let result = async {
        let warehouse = Warehouse::open(&dir)?;
        let reports = crate::ingest::git::ingest_all(
            &warehouse,
            std::slice::from_ref(&args.path),
            &args.selection.options(false)?,
        )?;
        let r = &reports[0];
        eprintln!(
            "{}: {} commits, {} releases (tags), {} rollbacks",
            r.repo, r.commits, r.deployments, r.rollbacks
        );
        // Releases are rarer than deployments: a year by default.
        let mut opts = args.window.options(365)?;
        opts.interval = args.interval;
        opts.benchmark = Benchmark::load(args.benchmark)?;
        opts.production = ProductionPattern::new(&regex::escape(&args.selection.environment))?;
        opts.validate()?;
        let engine = open_engine(&warehouse, &opts.production).await?;
        let table = metrics::compute(&engine, &opts).await?;
        if table.num_rows() == 0 {
            eprintln!(
                "no release tag falls in the window {} to {}; widen it with --from",
                interval::format_instant(opts.from),
                interval::format_instant(opts.to)
            );
        }
        emit_metrics(args.format, None, &table)
    }
    .await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

pub async fn open_engine(warehouse: &Warehouse, production: &ProductionPattern) -> Result<Engine> {
    let engine = Engine::open(warehouse, production).await?;
    if engine.unknown_sha_deployments > 0 {
        eprintln!(
            "warning: {} production deployment(s) name a sha that is not among their repo's commits; \
             they count as deployments but ship nothing (SELECT * FROM deployment_warnings)",
            engine.unknown_sha_deployments
        );
    }
    Ok(engine)
}

pub fn metrics_options(args: &MetricsArgs) -> Result<MetricsOptions> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.interval = args.interval;
    opts.group = args.by;
    opts.incident_window_us =
        interval::parse_duration_micros("--incident-window", &args.incident_window)?;
    opts.production = ProductionPattern::new(&args.environment)?;
    opts.benchmark = Benchmark::load(args.benchmark)?;
    opts.rework_labels = args
        .rework_labels
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    opts.include_baseline = args.include_baseline;
    opts.validate()?;
    Ok(opts)
}

fn generator_config(args: &GenerateArgs) -> Result<GeneratorConfig> {
    let end = match &args.end {
        Some(s) => interval::parse_instant("--end", s)?,
        None => interval::floor(interval::now_micros(), Interval::Day),
    };
    // NaN and infinity fail these comparisons too.
    let within = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
    if !(1..=10_000).contains(&args.teams) || !(1..=36_600).contains(&args.days) {
        return Err(Error::usage(
            "--teams/--days",
            "--teams must be 1 to 10000 and --days 1 to 36600",
        ));
    }
    if !within(args.scale, f64::MIN_POSITIVE, 1_000.0) {
        return Err(Error::usage(
            "--scale",
            format!("`{}` is not a number above 0 and at most 1000", args.scale),
        ));
    }
    if !within(args.incident_rate, 0.0, 1_000.0) {
        return Err(Error::usage(
            "--incident-rate",
            format!("`{}` is not a number from 0 to 1000", args.incident_rate),
        ));
    }
    Ok(GeneratorConfig {
        seed: args.seed,
        teams: args.teams,
        days: args.days,
        scale: args.scale,
        end,
        incident_rate: args.incident_rate,
    })
}

/// Metric rows; the readable table leaves out the 95% interval columns
/// (JSON, CSV and Parquet keep them).
pub fn emit_metrics(
    format: Format,
    output: Option<&Path>,
    table: &crate::metrics::MetricsTable,
) -> Result<()> {
    emit_metrics_columns(format, output, table, None)
}

/// [`emit_metrics`] with `--columns` for the readable table.
pub fn emit_metrics_columns(
    format: Format,
    output: Option<&Path>,
    table: &crate::metrics::MetricsTable,
    columns: Option<&[String]>,
) -> Result<()> {
    if format != Format::Table {
        return emit(format, output, &table.schema, &table.batches);
    }
    let text = render::table::metrics_table(&table.schema, &table.batches, columns)?;
    match output {
        Some(path) => crate::store::warehouse::atomic_write(path, |f| f.write_all(text.as_bytes())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Writes a result to stdout or, atomically, to a file.
pub fn emit(
    format: Format,
    output: Option<&Path>,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<()> {
    let exporter = render::exporter(format);
    match output {
        Some(path) => {
            let mut result = Ok(());
            crate::store::warehouse::atomic_write(path, |f| {
                let mut w = std::io::BufWriter::new(f);
                result = exporter.write(schema, batches, &mut w);
                w.flush()
            })?;
            result
        }
        None => {
            if exporter.is_binary() {
                return Err(Error::usage(
                    "--format",
                    "parquet output is binary: add --output FILE",
                ));
            }
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            exporter.write(schema, batches, &mut lock)?;
            lock.flush()
                .map_err(|e| Error::io("cannot write", "<stdout>", e))
        }
    }
}

/// Generator rows straight into the warehouse.
pub struct WarehouseSink<'a> {
    pub warehouse: &'a Warehouse,
}

impl Sink for WarehouseSink<'_> {
    fn write(&mut self, table: Table, batch: datafusion::arrow::array::RecordBatch) -> Result<()> {
        self.warehouse.upsert(table, &[batch])?;
        Ok(())
    }
}

/// Generator rows into one importable file per table.
struct FileSink {
    dir: PathBuf,
    format: FileFormat,
    written: std::collections::BTreeSet<Table>,
}

impl FileSink {
    fn new(dir: &Path, format: FileFormat) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        Ok(FileSink {
            dir: dir.to_path_buf(),
            format,
            written: Default::default(),
        })
    }

    fn path(&self, table: Table) -> PathBuf {
        let ext = match self.format {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
        };
        self.dir.join(format!("{}.{ext}", table.name()))
    }
}

impl Sink for FileSink {
    fn write(&mut self, table: Table, batch: datafusion::arrow::array::RecordBatch) -> Result<()> {
        let path = self.path(table);
        let first = self.written.insert(table);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(!first)
            .truncate(first)
            .open(&path)
            .map_err(|e| Error::io("cannot write", &path, e))?;
        let mut w = std::io::BufWriter::new(file);
        crate::render::import_files::write_import_file(
            &batch,
            self.format == FileFormat::Csv,
            first,
            &mut w,
        )?;
        w.flush().map_err(|e| Error::io("cannot write", &path, e))
    }
}
