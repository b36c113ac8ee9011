//! The DORA metrics (docs/metrics.md sections 4-6): options, the SQL views of
//! `queries/`, and the final rows with performance levels.

pub mod batch;
pub mod benchmark;
pub mod bots;
pub mod catalogue;
pub mod interval;
pub mod levels;
pub mod output;
pub mod scope;
pub mod scores;
mod slowest;
pub mod stats;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimestampMicrosecondType};
use datafusion::logical_expr::{ColumnarValue, Volatility};
use datafusion::scalar::ScalarValue;

use crate::base::production::ProductionPattern;
use crate::base::time::{Span, Timestamp};
use crate::engine::Engine;
use crate::engine::queries::{self, string_literal, timestamp_literal};
use crate::error::{Error, Result};
use crate::store::schema::{TIMESTAMP_TZ, timestamp_type};
use interval::Interval;
use levels::Benchmark;
pub use output::MetricsTable;

/// `--by`: how rows are grouped (default: the whole organisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Team,
    Service,
    Repo,
}

impl Grouping {
    pub fn column(self) -> &'static str {
        match self {
            Grouping::Team => "team",
            Grouping::Service => "service",
            Grouping::Repo => "repo",
        }
    }
}

pub const DEFAULT_REWORK_LABELS: [&str; 3] = ["hotfix", "bug", "incident"];
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
pub const DEFAULT_INCIDENT_WINDOW: Span = Span::hours(24);
/// Days without a production change after which a released flag still in
/// the code is stale (docs/metrics.md section 9.6).
pub const DEFAULT_FLAG_STALE_DAYS: i64 = 30;

#[derive(Debug, Clone)]
pub struct MetricsOptions {
    /// Window start (inclusive).
    pub from: Timestamp,
    /// Window end (exclusive).
    pub to: Timestamp,
    pub interval: Option<Interval>,
    pub group: Option<Grouping>,
    /// Zero turns inferred incident links off.
    pub incident_window: Span,
    pub production: ProductionPattern,
    pub rework_labels: Vec<String>,
    pub include_baseline: bool,
    pub benchmark: Benchmark,
    /// `--team`, `--service`, `--repo`: which deployments and incidents
    /// count (empty: all of them).
    pub scope: scope::Scope,
    /// Which reviewers are bots (`[bots] logins`, `--bot-logins`).
    pub bots: bots::BotRule,
    /// Batch size: excluded paths and the large-change threshold
    /// (docs/metrics.md section 9.2).
    pub batch: batch::BatchOptions,
    /// Flag debt: days without a production flag change after which a
    /// released flag still referenced in code is stale (section 9.6).
    pub flag_stale_days: i64,
    /// Whether `review_checks` and `change_reviews` judge every merged
    /// change (the SQL views and `explain change` read them all), or only
    /// the changes a production deployment of the window shipped: the only
    /// ones the metrics read, through `production_change_reviews` (so they
    /// judge the window's changes, not every review ever made).
    pub review_every_change: bool,
}

impl MetricsOptions {
    /// The docs/metrics.md defaults for a window ending at `to`.
    pub fn defaults(to: Timestamp) -> Self {
        MetricsOptions {
            from: to - Span::days(DEFAULT_WINDOW_DAYS),
            to,
            interval: None,
            group: None,
            incident_window: DEFAULT_INCIDENT_WINDOW,
            production: ProductionPattern::default(),
            rework_labels: DEFAULT_REWORK_LABELS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            include_baseline: false,
            benchmark: Benchmark::load(levels::BenchmarkName::default()).expect("bundled"),
            scope: scope::Scope::default(),
            bots: bots::BotRule::default(),
            batch: batch::BatchOptions::default(),
            flag_stale_days: DEFAULT_FLAG_STALE_DAYS,
            review_every_change: true,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.from >= self.to {
            return Err(Error::usage(
                "--from",
                format!(
                    "the window is empty: --from {} is not before --to {}",
                    self.from, self.to
                ),
            ));
        }
        if self.incident_window < Span::ZERO {
            return Err(Error::usage("--incident-window", "must not be negative"));
        }
        if self.flag_stale_days < 0 {
            return Err(Error::usage(
                "--flag-stale-days",
                format!(
                    "must not be negative (got {}); give a number of days, e.g. {DEFAULT_FLAG_STALE_DAYS}",
                    self.flag_stale_days
                ),
            ));
        }
        self.batch.validate()
    }

    fn params(&self) -> HashMap<&'static str, String> {
        let labels = if self.rework_labels.is_empty() {
            // `IN ()` is not valid SQL; a NULL matches nothing.
            "NULL".to_string()
        } else {
            self.rework_labels
                .iter()
                .map(|l| string_literal(&l.to_lowercase()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut params = HashMap::from([
            ("interval", string_literal(interval_name(self.interval))),
            ("from", timestamp_literal(self.from)),
            ("to", timestamp_literal(self.to)),
            (
                "production_pattern",
                string_literal(&self.production.anchored),
            ),
            (
                "incident_window_us",
                self.incident_window.micros().to_string(),
            ),
            ("include_baseline", self.include_baseline.to_string()),
            ("rework_labels", labels),
            // A pattern no path matches stands for an empty list.
            (
                "batch_exclude",
                string_literal(
                    &self
                        .batch
                        .exclude_regex()
                        .unwrap_or_else(|| "^\\z.".to_string()),
                ),
            ),
            (
                "large_change_lines",
                self.batch.large_change_lines.to_string(),
            ),
            ("flag_stale_days", self.flag_stale_days.to_string()),
            ("review_every_change", self.review_every_change.to_string()),
        ]);
        params.extend(self.bots.params());
        params
    }
}

/// Registers `bucket_start()`, `buckets` and every metric view for these
/// options. Views are lazy: registering costs nothing until queried.
pub async fn register_views(engine: &Engine, opts: &MetricsOptions) -> Result<()> {
    let ctx = &engine.ctx;
    ctx.register_udf(BucketStart::udf(Some((opts.interval, opts.from.micros()))));
    ctx.register_udaf(stats::DurationSummary::udaf());

    // The buckets as a VALUES view rather than an in-memory table: plain
    // SQL, so the plan runs the same on a Ballista cluster.
    let buckets = interval::buckets(opts.from, opts.to, opts.interval);
    let rows: Vec<String> = buckets
        .iter()
        .map(|b| {
            format!(
                "({}, arrow_cast({:?}, 'Float64'))",
                timestamp_literal(Timestamp::from_micros(b.start)),
                b.days_in_window
            )
        })
        .collect();
    ctx.deregister_table("buckets")?;
    engine
        .sql(&format!(
            "CREATE OR REPLACE VIEW buckets AS SELECT column1 AS interval_start, \
             column2 AS days_in_window FROM (VALUES {}) v",
            rows.join(", ")
        ))
        .await?;

    let groups = match opts.group {
        None => queries::GROUPS_ORGANISATION,
        Some(Grouping::Team) => queries::GROUPS_TEAM,
        Some(Grouping::Service) => queries::GROUPS_SERVICE,
        Some(Grouping::Repo) => queries::GROUPS_REPO,
    };
    let params = opts.params();
    let production = queries::bundled_statement_list(&queries::PRODUCTION_DEPLOYMENTS, &params)?;
    define(engine, &queries::PRODUCTION_DEPLOYMENTS, &production).await?;
    if opts.scope.is_empty() {
        define(
            engine,
            &groups,
            &queries::bundled_statement_list(&groups, &params)?,
        )
        .await?;
    } else {
        let renamed: Vec<String> = queries::bundled_statement_list(&groups, &params)?
            .iter()
            .map(|s| scope::rename_groups(s))
            .collect();
        define(engine, &groups, &renamed).await?;
        let scope_params = opts.scope.params(opts.group == Some(Grouping::Team));
        let scoped = queries::bundled_statement_list(&queries::GROUPS_SCOPE, &scope_params)?;
        define(engine, &queries::GROUPS_SCOPE, &scoped).await?;
    }
    for file in catalogue::views() {
        define(
            engine,
            &file,
            &queries::bundled_statement_list(&file, &params)?,
        )
        .await?;
    }
    Ok(())
}

/// Runs a file's statements in order, each shared view kept in memory as
/// soon as it is defined: a view reads the tables as they are when it is
/// defined, so a later view of the same file must find the shared one.
async fn define(engine: &Engine, file: &queries::QueryFile, statements: &[String]) -> Result<()> {
    for statement in statements {
        engine.bundled_statement(file, statement).await?;
        keep_shared_views(engine).await?;
    }
    Ok(())
}

/// The views many later views read, computed once per registration and
/// kept in memory ([`Engine::keep_in_memory`]; queries/README.md, "Shared
/// views"). Inlined, `production_deployments` alone appeared 60 times in the
/// metrics query's plan (1,723 operators): planning it took longer than
/// running it, and the regex ran at every use. It is now a projection (its
/// bucket) over the shared `production_deployments_unbucketed`: kept, it
/// would hold a copy of every production deployment per window start and
/// interval.
pub const SHARED_VIEWS: [&str; 25] = [
    "production_deployments_unbucketed",
    "deployment_groups",
    "incident_groups",
    "flag_groups",
    "grouped_deployments",
    "inferred_incident_links",
    "deployment_failure_links",
    "deployment_recovery",
    "recovery_hotfixes",
    "failure_recoveries",
    "rework_commits",
    "rework_deployment_reasons",
    "change_shipments",
    "change_lead_times",
    "lead_time_values",
    "deployment_batches",
    "change_lines",
    "change_reviews",
    "flag_exposure",
    "flag_releases",
    "flag_shipped",
    "releases",
    "flag_bucket_ends",
    "flag_changes",
    "flag_change_governance",
];

async fn keep_shared_views(engine: &Engine) -> Result<()> {
    for name in SHARED_VIEWS {
        engine.keep_in_memory(name).await?;
    }
    Ok(())
}

pub async fn compute(engine: &Engine, opts: &MetricsOptions) -> Result<MetricsTable> {
    opts.validate()?;
    // The metrics read the reviews of shipped changes only.
    let opts = &MetricsOptions {
        review_every_change: false,
        ..opts.clone()
    };
    register_views(engine, opts).await?;
    let (_, batches) = engine.bundled(&queries::METRICS, &opts.params()).await?;
    output::shape(&batches, opts)
}

/// The lead-time breakdown (docs/metrics.md section 7): per group and
/// bucket with a shipped change, the number of changes and p50/p90 of
/// coding, pickup, review and deploy time, in seconds.
pub async fn breakdown(engine: &Engine, opts: &MetricsOptions) -> Result<MetricsTable> {
    opts.validate()?;
    register_views(engine, opts).await?;
    let group = opts
        .group
        .map_or(String::new(), |g| format!("grp AS {}, ", g.column()));
    let bucket = if opts.interval.is_some() {
        "interval_start, "
    } else {
        ""
    };
    let sql = format!(
        "SELECT {group}{bucket}changes, coding_p50_s, coding_p90_s, pickup_p50_s, pickup_p90_s, \
         review_p50_s, review_p90_s, deploy_p50_s, deploy_p90_s \
         FROM lead_time_breakdown ORDER BY grp, interval_start"
    );
    let (schema, batches) = engine.sql(&sql).await.map_err(|e| Error::BundledQuery {
        file: "change_lead_time.sql",
        message: e.to_string(),
    })?;
    Ok(MetricsTable { schema, batches })
}

/// The organisation's rows and each team's, for the same options (what
/// exports and `/metrics` publish).
pub async fn organisation_and_teams(
    engine: &Engine,
    opts: &MetricsOptions,
) -> Result<(MetricsTable, MetricsTable)> {
    let mut whole = opts.clone();
    whole.group = None;
    let org = compute(engine, &whole).await?;
    let mut by_team = opts.clone();
    by_team.group = Some(Grouping::Team);
    Ok((org, compute(engine, &by_team).await?))
}

/// The organisation's row first (with an empty `team`), then each team's:
/// what `export --format json|csv|parquet` writes.
pub async fn organisation_and_teams_table(
    engine: &Engine,
    opts: &MetricsOptions,
) -> Result<MetricsTable> {
    let (org, teams) = organisation_and_teams(engine, opts).await?;
    let mut fields: Vec<Field> = teams
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = fields[0].clone().with_nullable(true);
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for batch in &org.batches {
        // The organisation row: the team column's place, empty.
        let mut columns = vec![datafusion::arrow::array::new_null_array(
            &DataType::Utf8,
            batch.num_rows(),
        )];
        columns.extend(batch.columns().iter().cloned());
        batches.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    for batch in &teams.batches {
        batches.push(batch.clone().with_schema(schema.clone())?);
    }
    Ok(MetricsTable { schema, batches })
}

/// `bucket_start(ts, interval, origin)`: the calendar start of ts's bucket
/// (`interval` one of 'day', 'week', 'month', 'quarter'), or `origin` for
/// 'window' (whole-window rows). The bundled SQL passes all three, so the
/// function carries no state and runs the same on a Ballista executor.
/// `bucket_start(ts)` is the short form for users' SQL: the session's
/// interval and window (absent on an executor, where it is an error).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BucketStart {
    signature: datafusion::logical_expr::Signature,
    /// The session's interval and window start, for the one-argument form.
    session: Option<(Option<Interval>, i64)>,
}

impl BucketStart {
    pub fn udf(session: Option<(Option<Interval>, i64)>) -> datafusion::logical_expr::ScalarUDF {
        use datafusion::logical_expr::{Signature, TypeSignature};
        let ts = timestamp_type();
        datafusion::logical_expr::ScalarUDF::new_from_impl(BucketStart {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![ts.clone()]),
                    TypeSignature::Exact(vec![ts.clone(), DataType::Utf8, ts]),
                ],
                Volatility::Immutable,
            ),
            session,
        })
    }
}

/// The interval a `bucket_start` argument names (None: the whole window).
fn interval_named(name: &str) -> datafusion::error::Result<Option<Interval>> {
    Ok(match name {
        "day" => Some(Interval::Day),
        "week" => Some(Interval::Week),
        "month" => Some(Interval::Month),
        "quarter" => Some(Interval::Quarter),
        "window" => None,
        other => {
            return datafusion::common::plan_err!(
                "bucket_start: unknown interval '{other}' (day, week, month, quarter or window)"
            );
        }
    })
}

/// The SQL name of an interval for `bucket_start`.
pub fn interval_name(interval: Option<Interval>) -> &'static str {
    match interval {
        Some(Interval::Day) => "day",
        Some(Interval::Week) => "week",
        Some(Interval::Month) => "month",
        Some(Interval::Quarter) => "quarter",
        None => "window",
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for BucketStart {
    fn name(&self) -> &str {
        "bucket_start"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(timestamp_type())
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let scalar_text = |v: &ColumnarValue| match v {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => Ok(s.clone()),
            _ => datafusion::common::exec_err!("bucket_start: the interval must be a constant"),
        };
        let scalar_ts = |v: &ColumnarValue| match v {
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(Some(t), _)) => Ok(*t),
            _ => datafusion::common::exec_err!("bucket_start: the origin must be a constant"),
        };
        let (interval, from) = match args.args.len() {
            3 => (
                interval_named(&scalar_text(&args.args[1])?)?,
                scalar_ts(&args.args[2])?,
            ),
            _ => match self.session {
                Some(session) => session,
                None => {
                    return datafusion::common::exec_err!(
                        "bucket_start(ts) needs the session's interval, which a cluster \
                         executor does not have: use bucket_start(ts, 'week', origin)"
                    );
                }
            },
        };
        let floor = move |v: i64| match interval {
            Some(i) => interval::floor(v, i),
            None => from,
        };
        match &args.args[0] {
            ColumnarValue::Array(a) => {
                let ts = a.as_primitive::<TimestampMicrosecondType>();
                let out: TimestampMicrosecondArray = ts.unary(floor);
                Ok(ColumnarValue::Array(Arc::new(
                    out.with_timezone(TIMESTAMP_TZ),
                )))
            }
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(v, _)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(
                    v.map(floor),
                    Some(TIMESTAMP_TZ.into()),
                )))
            }
            other => datafusion::common::exec_err!("bucket_start: unexpected argument {other:?}"),
        }
    }
}

/// doralens's own SQL functions, stateless: what a session registers and
/// what a Ballista scheduler and executor need (`cluster`).
pub fn functions() -> (
    Vec<datafusion::logical_expr::ScalarUDF>,
    Vec<datafusion::logical_expr::AggregateUDF>,
) {
    (
        vec![crate::engine::sha_key_udf(), BucketStart::udf(None)],
        vec![stats::DurationSummary::udaf()],
    )
}

pub use slowest::slowest_changes;
