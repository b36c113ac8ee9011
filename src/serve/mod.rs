//! `doralens serve`: the warehouse for dashboards, over HTTP (default
//! 127.0.0.1:9464; nothing listens on other interfaces unless asked, and
//! not without read tokens unless `--allow-anonymous`; HTTPS with
//! `--tls-cert/--tls-key`).
//!
//! - `GET /`: the dashboard (`dashboard.rs`), reading the APIs of
//!   `lists.rs` (`/api/v1/metrics`, the drill-down lists, the explanation);
//! - who may read what: `auth.rs` and `tokens.rs`; every request is
//!   recorded by `audit.rs`; answers are cached per warehouse state
//!   (`cache.rs`); the routes and their roles are in `routes.rs`; binding
//!   the port and serving connections in `listen.rs`;
//! - `GET /metrics`: OpenMetrics for Prometheus (the organisation and each
//!   team over the last `--window-days`), cached until the warehouse
//!   changes, so a warm scrape costs a manifest check;
//! - `GET /api/v1/dora/metrics?metric=&interval=&start_date=&end_date=`:
//!   shaped like GitLab's DORA API (`[{"date": "2026-11-02", "value": 3}]`;
//!   `interval` daily, monthly or all; `metric` deployment_frequency,
//!   lead_time_for_changes, time_to_restore_service, change_failure_rate,
//!   and doralens' rework_rate and recovery_time), with an optional `team=`;
//!   usable from Grafana's Infinity data source;
//! - `GET /api/v1/sql?q=` or `POST /api/v1/sql` (the query as the body):
//!   read-only SQL over every table and view. DataFusion's SQL options
//!   refuse DDL, DML (INSERT, COPY, ...) and statements (SET, ...); no URL
//!   or file tables are registered, so a query reads only the warehouse.
//!
//! **One request cannot take the server down or hold it** ([`Limits`],
//! every bound a command-line option): query text length and expression
//! depth are checked before planning (and DataFusion is built with its
//! recursion protection); each query runs on a separate runtime, in its own
//! session with its own memory pool, and is aborted at its timeout; string
//! functions that can grow without bound refuse oversized results; a panic
//! answers 500 and the server goes on; request bodies are limited while they
//! stream (413); the DORA API's date range is capped; at most
//! `--max-connections` connections are open (more wait in the kernel's
//! backlog; running out of file descriptors pauses accepting instead of
//! exiting); at most `--max-queries` queries run at once, the others queue
//! in arrival order.
//!
//! Every request reads one pinned snapshot of the warehouse (the engine is
//! reopened when a write commits), so answers are consistent while an
//! ingest or import runs.
//!
//! **Push endpoint** (only when `DORALENS_INGEST_TOKEN` is set; otherwise
//! these paths do not exist): `POST /api/v1/deployments` and
//! `POST /api/v1/incidents` take one JSON object or an array of them,
//! shaped like the NDJSON import's lines, with `Authorization: Bearer
//! <token>`. They are validated like `import` (a 400 names the item, the
//! field and the expected form; nothing is written), upserted by natural
//! key (a retried POST changes nothing), bounded by `--max-body` (413), and
//! written one at a time while reads go on from their snapshots.

pub mod audit;
pub mod auth;
mod cache;
mod dashboard;
pub mod follow;
pub mod limits;
mod listen;
mod lists;
mod routes;
pub mod tls;
pub mod tokens;

pub use listen::{run, run_following};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use crate::base::production::ProductionPattern;
use crate::base::time::{Span, Timestamp};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metrics::interval::{self, Interval};
use crate::metrics::{self, Grouping, MetricsOptions, catalogue};
use crate::store::warehouse::Warehouse;
pub use limits::{SqlLimits, default_query_memory};

/// What one request may cost. Every field is a `serve` option.
#[derive(Debug, Clone)]
pub struct Limits {
    pub sql: SqlLimits,
    /// Most rows one SQL answer carries (`--sql-max-rows`).
    pub sql_max_rows: usize,
    /// Longest a `/api/v1/sql` query may run (`--sql-timeout`).
    pub sql_timeout: Duration,
    /// Longest one of serve's own answers may take: the metrics, the
    /// lists, an explanation, `/metrics` (`--answer-timeout`). Their
    /// queries are ours, and at 10 M commits a new window's first answer
    /// takes half a minute.
    pub answer_timeout: Duration,
    /// Memory one query may hold, in bytes (`--query-memory`; by default
    /// [`default_query_memory`]).
    pub query_memory: usize,
    /// Largest request body (`--max-body`).
    pub max_body: usize,
    /// Longest date range of the DORA API (`--dora-max-days`).
    pub dora_max_days: i64,
    /// Open connections at once (`--max-connections`).
    pub max_connections: usize,
    /// Queries running at once (`--max-queries`).
    pub max_queries: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sql: SqlLimits::default(),
            sql_max_rows: 10_000,
            sql_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(300),
            query_memory: default_query_memory(crate::cores()),
            max_body: 1 << 20,
            dora_max_days: 3_700,
            max_connections: 256,
            max_queries: crate::cores(),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Which bound a query runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// A user's SQL (`--sql-timeout`).
    Sql,
    /// One of serve's own answers (`--answer-timeout`).
    Answer,
    /// Opening the warehouse's state (attribution after a sync), which
    /// every route waits for: the longer of the two.
    Open,
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub window_days: i64,
    pub production: ProductionPattern,
    /// Which reviewers are bots (`--bot-logins`, `[bots] logins`).
    pub bots: crate::metrics::bots::BotRule,
    pub limits: Limits,
    /// `--allow-anonymous`: serve without tokens on a non-loopback address.
    pub allow_anonymous: bool,
    /// `--tls-cert`/`--tls-key`: HTTPS.
    pub tls: Option<tls::TlsFiles>,
}

struct Cached {
    stamp: String,
    engine: Arc<Engine>,
    openmetrics: Option<String>,
}

struct Server {
    warehouse: Warehouse,
    /// Set when the warehouse is a working copy of an object store's
    /// (`follow.rs`).
    follow: Option<Arc<follow::Follow>>,
    /// Tokens and roles (and `DORALENS_INGEST_TOKEN`, for pushes).
    access: auth::Access,
    audit: audit::AuditLog,
    answers: cache::Answers,
    /// Pushed writes, one at a time.
    writes: std::sync::Mutex<()>,
    options: ServeOptions,
    cache: Mutex<Option<Cached>>,
    queries: Semaphore,
    /// Queries run here, never on the runtime that accepts connections and
    /// keeps time, so a CPU-bound query can always be timed out.
    query_runtime: tokio::runtime::Handle,
}

/// How DataFusion's errors begin when a query's memory pool is exhausted.
const OUT_OF_MEMORY: &str = "Resources exhausted";

/// The answer of a failed request: its status and message.
struct Failure(StatusCode, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = if e.is_user_error() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Failure(status, e.to_string())
    }
}

type Answer = std::result::Result<Response<Full<Bytes>>, Failure>;

impl Server {
    /// Runs `work` on the query runtime, one of at most `--max-queries`,
    /// within the query timeout (the work is aborted when it expires); a
    /// panic inside it is an internal error, not a dead server.
    async fn run_query<T: Send + 'static>(
        &self,
        bound: Bound,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> std::result::Result<T, Failure> {
        let (timeout, option) = self.timeout(bound);
        let started = tokio::time::Instant::now();
        let _permit = tokio::time::timeout(timeout, self.queries.acquire())
            .await
            .map_err(|_| {
                Failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is busy with other queries; try again".into(),
                )
            })?
            .expect("semaphore is never closed");
        let mut task = self.query_runtime.spawn(work);
        let left = timeout.saturating_sub(started.elapsed());
        let timed_out = || match bound {
            Bound::Sql => Failure(
                StatusCode::BAD_REQUEST,
                format!(
                    "the query ran longer than {} s (--sql-timeout) and was cancelled; narrow it (WHERE, LIMIT)",
                    timeout.as_secs_f64()
                ),
            ),
            // Our queries: not the request's fault.
            Bound::Answer | Bound::Open => Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "this answer took longer than {} s ({option}) and was cancelled; \
                     narrow the filters, or restart serve with a larger {option}",
                    timeout.as_secs_f64()
                ),
            ),
        };
        match tokio::time::timeout(left, &mut task).await {
            Ok(Ok(Err(e))) if e.to_string().contains(crate::engine::deadline::CANCELLED) => {
                Err(timed_out())
            }
            // Not a fault of ours, nor of the request: the operator's limit.
            // DataFusion's own text names settings serve does not have.
            Ok(Ok(Err(e))) if !e.is_user_error() && e.to_string().contains(OUT_OF_MEMORY) => {
                Err(Failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "this answer needs more memory than serve's --query-memory allows ({} MiB \
                         per query): narrow the filters, or restart serve with a larger \
                         --query-memory (docs/performance.md: the metrics of 90 days of 10 M \
                         commits need about 2048)",
                        self.options.limits.query_memory >> 20
                    ),
                ))
            }
            Ok(Ok(result)) => result.map_err(Failure::from),
            Ok(Err(e)) if e.is_panic() => Err(Failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while answering this request (a bug in doralens; the server goes on)".into(),
            )),
            Ok(Err(e)) => Err(Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            Err(_) => {
                task.abort();
                Err(timed_out())
            }
        }
    }

    /// The engine for the warehouse as it is now (reopened after a write).
    async fn engine(self: &Arc<Self>) -> std::result::Result<Arc<Engine>, Failure> {
        let mut cache = self.cache.lock().await;
        let stamp = self.warehouse.snapshot()?.stamp();
        if let Some(c) = cache.as_ref().filter(|c| c.stamp == stamp) {
            return Ok(c.engine.clone());
        }
        let warehouse = self.warehouse.clone();
        let production = self.options.production.clone();
        // Opening may recompute attribution: query-sized work.
        let engine = self
            .run_query(Bound::Open, async move {
                Engine::open(&warehouse, &production).await
            })
            .await?;
        let engine = Arc::new(engine);
        *cache = Some(Cached {
            stamp: engine.snapshot.stamp(),
            engine: engine.clone(),
            openmetrics: None,
        });
        Ok(engine)
    }

    /// Where the audit log is: in the warehouse, or beside the cache of
    /// the object-store location it is a working copy of.
    fn audit_root(&self) -> std::path::PathBuf {
        match &self.follow {
            Some(f) => f.audit_root.clone(),
            None => self.warehouse.root().to_path_buf(),
        }
    }

    /// How long a query under `bound` may run, and the option that says so.
    fn timeout(&self, bound: Bound) -> (Duration, &'static str) {
        let limits = &self.options.limits;
        let sql = (limits.sql_timeout, "--sql-timeout");
        let answer = (limits.answer_timeout, "--answer-timeout");
        match bound {
            Bound::Sql => sql,
            Bound::Answer => answer,
            Bound::Open if limits.sql_timeout > limits.answer_timeout => sql,
            Bound::Open => answer,
        }
    }

    /// Runs `work` over a session of its own under `bound`: the session's
    /// deadline and [`Server::run_query`]'s timeout are the same bound's.
    async fn in_session<T, Fut>(
        &self,
        engine: &Engine,
        bound: Bound,
        work: impl FnOnce(Engine) -> Fut,
    ) -> std::result::Result<T, Failure>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let session = self.session(engine, bound)?;
        self.run_query(bound, work(session)).await
    }

    /// A session of its own for one request, with the per-query memory pool;
    /// for users' SQL also the bounded string functions. Not for the bundled
    /// SQL: its padding is fixed-width, and the bound is per batch, which a
    /// shared view's rows (one batch per partition) exceed at scale.
    fn session(&self, engine: &Engine, bound: Bound) -> Result<Engine> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.options.limits.query_memory, 1.0)
            .build_arc()?;
        let deadline = std::time::Instant::now() + self.timeout(bound).0;
        let fork = engine.fork_until(Some(runtime), Some(deadline))?;
        if bound == Bound::Sql {
            limits::bound_string_functions(&fork.ctx, &self.options.limits.sql);
        }
        Ok(fork)
    }

    fn metric_options(&self, from: Timestamp, to: Timestamp) -> MetricsOptions {
        let mut opts = MetricsOptions::defaults(to);
        opts.from = from;
        opts.production = self.options.production.clone();
        opts.bots = self.options.bots.clone();
        opts
    }

    async fn openmetrics(self: &Arc<Self>, principal: &auth::Principal) -> Answer {
        let engine = self.engine().await?;
        if !principal.teams.is_empty() {
            // Only the token's teams, and the organisation over them.
            let to = Timestamp::now();
            let mut opts = self.metric_options(to - Span::days(self.options.window_days), to);
            opts.scope.teams = lists::allowed_teams(principal, &[])?;
            let text = self
                .in_session(&engine, Bound::Answer, |session| async move {
                    openmetrics_text(&session, &opts).await
                })
                .await?;
            return Ok(openmetrics_reply(text));
        }
        {
            let cache = self.cache.lock().await;
            if let Some(text) = cache
                .as_ref()
                .filter(|c| Arc::ptr_eq(&c.engine, &engine))
                .and_then(|c| c.openmetrics.clone())
            {
                return Ok(openmetrics_reply(text));
            }
        }
        let to = Timestamp::now();
        let opts = self.metric_options(to - Span::days(self.options.window_days), to);
        let text = self
            .in_session(&engine, Bound::Answer, |session| async move {
                openmetrics_text(&session, &opts).await
            })
            .await?;
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_mut().filter(|c| Arc::ptr_eq(&c.engine, &engine)) {
            c.openmetrics = Some(text.clone());
        }
        Ok(openmetrics_reply(text))
    }

    async fn dora(
        self: &Arc<Self>,
        params: &BTreeMap<String, String>,
        principal: &auth::Principal,
    ) -> Answer {
        let names = catalogue::dora_api_names();
        let metric = params
            .get("metric")
            .map(String::as_str)
            .ok_or_else(|| Error::usage("metric", format!("required: one of {names}")))?;
        let column = catalogue::by_dora_api(metric)
            .ok_or_else(|| {
                Error::usage(
                    "metric",
                    format!("unknown metric `{metric}`; valid: {names}"),
                )
            })?
            .column;
        let interval = match params
            .get("interval")
            .map(String::as_str)
            .unwrap_or("daily")
        {
            "daily" => Some(Interval::Day),
            "monthly" => Some(Interval::Month),
            "all" => None,
            other => {
                return Err(Error::usage(
                    "interval",
                    format!("unknown interval `{other}`; valid: daily, monthly, all"),
                )
                .into());
            }
        };
        let today = Timestamp::now().start_of_day();
        let end = match params.get("end_date") {
            Some(d) => interval::parse_instant("end_date", d)?,
            None => today,
        };
        let start = match params.get("start_date") {
            Some(d) => interval::parse_instant("start_date", d)?,
            None => end - Span::days(90),
        };
        let max_days = self.options.limits.dora_max_days;
        if end - start > Span::days(max_days) {
            return Err(Error::usage(
                "start_date",
                format!(
                    "the range {} to {} is longer than {max_days} days, the most this server answers \
                     (--dora-max-days); ask for a shorter range",
                    start, end
                ),
            )
            .into());
        }
        // GitLab's end_date is inclusive: the window runs to the next day.
        let mut opts = self.metric_options(start, end + Span::days(1));
        opts.interval = interval;
        opts.validate()?;
        // Grafana sends `team=` for the organisation.
        let team = params.get("team").filter(|t| !t.is_empty()).cloned();
        if team.is_some() {
            opts.group = Some(Grouping::Team);
        }
        // A token limited to teams: its teams only (the organisation over them).
        opts.scope.teams = lists::allowed_teams(principal, &Vec::from_iter(team.clone()))?;
        let engine = self.engine().await?;
        self.in_session(&engine, Bound::Answer, |session| async move {
            if let Some(team) = &team {
                check_team(&session, team).await?;
            }
            let table = metrics::compute(&session, &opts).await?;
            dora_points(&table, column, team.as_deref())
        })
        .await
        .map(|v| {
            let n = v.as_array().map_or(0, Vec::len) as u64;
            let mut response = json_reply(StatusCode::OK, &v);
            response.extensions_mut().insert(routes::Rows(n));
            response
        })
    }

    /// Read-only SQL; an admin's session also has the `audit` table.
    async fn sql(self: &Arc<Self>, query: String, admin: bool) -> Answer {
        limits::check_sql(&query, &self.options.limits.sql)?;
        let engine = self.engine().await?;
        let to = Timestamp::now();
        let opts = self.metric_options(to - Span::days(self.options.window_days), to);
        let max = self.options.limits.sql_max_rows;
        let audit_rows = if admin {
            Some(audit::read(&self.audit_root(), None)?)
        } else {
            None
        };
        let value = self
            .in_session(&engine, Bound::Sql, |session| async move {
                metrics::register_views(&session, &opts).await?;
                if let Some(batches) = audit_rows {
                    let table =
                        datafusion::datasource::MemTable::try_new(audit::schema(), vec![batches])?;
                    session.ctx.register_table("audit", Arc::new(table))?;
                }
                let read_only = SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false);
                let run = async {
                    let df = session.ctx.sql_with_options(&query, read_only).await?;
                    df.limit(0, Some(max + 1))?.collect().await
                };
                let batches = run.await.map_err(|e| {
                    use datafusion::error::DataFusionError as D;
                    match e.find_root() {
                        D::ResourcesExhausted(_) => Error::usage(
                            "q",
                            format!("{e}; narrow the query (WHERE, LIMIT) or raise --query-memory"),
                        ),
                        _ if Error::is_query_fault(&e) => Error::usage("q", e.to_string()),
                        _ => Error::DataFusion(e),
                    }
                })?;
                rows_json(&batches, max)
            })
            .await?;
        let n = value["rows"].as_array().map_or(0, Vec::len) as u64;
        let mut response = json_reply(StatusCode::OK, &value);
        response.extensions_mut().insert(routes::Rows(n));
        Ok(response)
    }
}

/// An unknown team is a 400 naming the valid ones, not an empty answer.
async fn check_team(engine: &Engine, team: &str) -> Result<()> {
    use datafusion::arrow::array::AsArray;
    let (_, batches) = engine
        .sql("SELECT DISTINCT team FROM teams ORDER BY team")
        .await?;
    let teams: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if teams.iter().any(|t| t == team) {
        return Ok(());
    }
    let shown: Vec<&str> = teams.iter().take(50).map(String::as_str).collect();
    Err(Error::usage(
        "team",
        if teams.is_empty() {
            format!("unknown team `{team}`: the warehouse has no teams (import a teams table)")
        } else {
            format!(
                "unknown team `{team}`; valid: {}{}",
                shown.join(", "),
                if teams.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            )
        },
    ))
}

fn dora_points(table: &metrics::MetricsTable, column: &str, team: Option<&str>) -> Result<Value> {
    use datafusion::arrow::array::AsArray;
    let mut points = Vec::new();
    for batch in &table.batches {
        let schema = batch.schema();
        let value_col = batch.column(schema.index_of(column)?);
        let date_col = schema
            .index_of("interval_start")
            .ok()
            .map(|i| batch.column(i));
        let team_col = schema.index_of("team").ok().map(|i| batch.column(i));
        for row in 0..batch.num_rows() {
            if let (Some(want), Some(col)) = (team, team_col)
                && col.as_string::<i32>().value(row) != want
            {
                continue;
            }
            let date = date_col.map(|c| {
                let micros = c
                    .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                    .value(row);
                Timestamp::from_micros(micros).date()
            });
            points.push(json!({ "date": date, "value": json_number(value_col, row) }));
        }
    }
    Ok(Value::Array(points))
}

fn rows_json(batches: &[datafusion::arrow::array::RecordBatch], max: usize) -> Result<Value> {
    let mut rows = Vec::new();
    let mut buf = Vec::new();
    for batch in batches {
        buf.clear();
        let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut buf);
        writer.write(batch)?;
        writer.finish()?;
        if !buf.is_empty() {
            let v: Vec<Value> = serde_json::from_slice(&buf).unwrap_or_default();
            rows.extend(v);
        }
    }
    let truncated = rows.len() > max;
    rows.truncate(max);
    Ok(json!({ "rows": rows, "truncated": truncated }))
}

fn json_number(column: &datafusion::arrow::array::ArrayRef, row: usize) -> Value {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(row)),
        _ => Value::Null,
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

fn openmetrics_reply(text: String) -> Response<Full<Bytes>> {
    reply(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        text,
    )
}

fn json_reply(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    reply(status, "application/json", value.to_string())
}

/// The organisation's and each team's metrics as OpenMetrics text.
pub async fn openmetrics_text(engine: &Engine, opts: &MetricsOptions) -> Result<String> {
    let (org, teams) = metrics::organisation_and_teams(engine, opts).await?;
    crate::render::openmetrics::render(&[
        crate::render::openmetrics::Scope {
            label: None,
            batches: &org.batches,
        },
        crate::render::openmetrics::Scope {
            label: Some("team"),
            batches: &teams.batches,
        },
    ])
}
