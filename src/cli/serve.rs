//! `doralens serve`: the warehouse for dashboards, over HTTP (default
//! 127.0.0.1:9464; nothing listens on other interfaces unless asked).
//!
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
//!   or file tables are registered, so a query reads only the warehouse;
//!   answers are bounded to `--sql-max-rows` rows (`truncated: true` says
//!   so) and `--sql-timeout` seconds.
//!
//! Metric queries share one engine and run one at a time (their views are
//! registered per request); the engine is reopened when the warehouse
//! changes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use datafusion::execution::context::SQLOptions;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::engine::{Engine, ProductionPattern};
use crate::error::{Error, Result};
use crate::metrics::interval::{self, Interval};
use crate::metrics::{self, Grouping, MetricsOptions};
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub window_days: i64,
    pub production: ProductionPattern,
    pub sql_max_rows: usize,
    pub sql_timeout: Duration,
}

struct Cached {
    stamp: String,
    engine: Arc<Engine>,
    openmetrics: Option<String>,
}

struct Server {
    warehouse: Warehouse,
    options: ServeOptions,
    cache: Mutex<Option<Cached>>,
}

/// What changes whenever any table is written.
fn stamp(warehouse: &Warehouse) -> Result<String> {
    let mut s = String::new();
    for table in Table::ALL {
        s.push_str(&warehouse.version(table)?.to_string());
        s.push(',');
    }
    Ok(s)
}

impl Server {
    /// The engine for the warehouse as it is now (reopened after a write),
    /// with the cache guard held so metric queries run one at a time.
    async fn engine(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Cached>>> {
        let mut cache = self.cache.lock().await;
        let now = stamp(&self.warehouse)?;
        if cache.as_ref().is_none_or(|c| c.stamp != now) {
            let engine = Engine::open(&self.warehouse, &self.options.production).await?;
            *cache = Some(Cached {
                stamp: now,
                engine: Arc::new(engine),
                openmetrics: None,
            });
        }
        Ok(cache)
    }

    fn options(&self, from: i64, to: i64) -> MetricsOptions {
        let mut opts = MetricsOptions::defaults(to);
        opts.from = from;
        opts.production = self.options.production.clone();
        opts
    }

    async fn openmetrics(&self) -> Result<String> {
        let mut cache = self.engine().await?;
        let cached = cache.as_mut().expect("engine() fills the cache");
        if let Some(text) = &cached.openmetrics {
            return Ok(text.clone());
        }
        let to = interval::now_micros();
        let from = to - interval::days_micros(self.options.window_days);
        let text = openmetrics_text(&cached.engine, &self.options(from, to)).await?;
        cached.openmetrics = Some(text.clone());
        Ok(text)
    }

    async fn dora(&self, params: &HashMap<String, String>) -> Result<Value> {
        let metric = params
            .get("metric")
            .map(String::as_str)
            .ok_or_else(|| Error::usage("metric", "required: deployment_frequency, lead_time_for_changes, time_to_restore_service, change_failure_rate, rework_rate or recovery_time"))?;
        let column = match metric {
            "deployment_frequency" => "deployments",
            "lead_time_for_changes" => "lead_time_p50_s",
            "time_to_restore_service" => "time_to_restore_p50_s",
            "change_failure_rate" => "change_failure_rate",
            "rework_rate" => "rework_rate",
            "recovery_time" => "recovery_time_p50_s",
            other => {
                return Err(Error::usage(
                    "metric",
                    format!(
                        "unknown metric `{other}`: deployment_frequency, lead_time_for_changes, time_to_restore_service, change_failure_rate, rework_rate or recovery_time"
                    ),
                ));
            }
        };
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
                    format!("`{other}`: daily, monthly or all"),
                ));
            }
        };
        let today = interval::floor(interval::now_micros(), Interval::Day);
        let end = match params.get("end_date") {
            Some(d) => interval::parse_instant("end_date", d)?,
            None => today,
        };
        let start = match params.get("start_date") {
            Some(d) => interval::parse_instant("start_date", d)?,
            None => end - interval::days_micros(90),
        };
        // GitLab's end_date is inclusive: the window runs to the next day.
        let mut opts = self.options(start, end + interval::days_micros(1));
        opts.interval = interval;
        // Grafana sends `team=` for the organisation.
        let team = params.get("team").filter(|t| !t.is_empty());
        if team.is_some() {
            opts.group = Some(Grouping::Team);
        }
        opts.validate()?;
        let cache = self.engine().await?;
        let engine = cache.as_ref().expect("filled").engine.clone();
        let table = metrics::compute(&engine, &opts).await?;
        drop(cache);
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
                if let (Some(want), Some(col)) = (team, team_col) {
                    use datafusion::arrow::array::AsArray;
                    if col.as_string::<i32>().value(row) != want {
                        continue;
                    }
                }
                let date = date_col.map(|c| {
                    use datafusion::arrow::array::AsArray;
                    let micros = c
                        .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                        .value(row);
                    interval::format_instant(micros)[..10].to_string()
                });
                points.push(json!({ "date": date, "value": json_number(value_col, row) }));
            }
        }
        Ok(Value::Array(points))
    }

    async fn sql(&self, query: &str) -> Result<Value> {
        let cache = self.engine().await?;
        let engine = cache.as_ref().expect("filled").engine.clone();
        let to = interval::now_micros();
        let opts = self.options(to - interval::days_micros(self.options.window_days), to);
        metrics::register_views(&engine, &opts).await?;
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let max = self.options.sql_max_rows;
        let run = async {
            let df = engine.ctx.sql_with_options(query, read_only).await?;
            let df = df.limit(0, Some(max + 1))?;
            df.collect().await
        };
        let batches = match tokio::time::timeout(self.options.sql_timeout, run).await {
            Err(_) => {
                return Err(Error::usage(
                    "q",
                    format!(
                        "the query ran longer than {} s; narrow it (WHERE, LIMIT)",
                        self.options.sql_timeout.as_secs_f64()
                    ),
                ));
            }
            Ok(Err(e)) => return Err(Error::usage("q", e.to_string())),
            Ok(Ok(b)) => b,
        };
        drop(cache);
        let mut rows = Vec::new();
        let mut buf = Vec::new();
        for batch in &batches {
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

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let params: HashMap<String, String> = request
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let method = request.method().clone();
        let result = match (method, path.as_str()) {
            (Method::GET, "/metrics") => self.openmetrics().await.map(|text| {
                reply(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text,
                )
            }),
            (Method::GET, "/api/v1/dora/metrics") => {
                self.dora(&params).await.map(|v| json_reply(StatusCode::OK, &v))
            }
            (Method::GET, "/api/v1/sql") => match params.get("q") {
                Some(q) => self.sql(q).await.map(|v| json_reply(StatusCode::OK, &v)),
                None => Err(Error::usage("q", "give the query as ?q=... or POST it")),
            },
            (Method::POST, "/api/v1/sql") => {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let query = String::from_utf8_lossy(&body).to_string();
                self.sql(&query).await.map(|v| json_reply(StatusCode::OK, &v))
            }
            (Method::GET, "/") => Ok(reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "doralens: GET /metrics, GET /api/v1/dora/metrics?metric=..., GET|POST /api/v1/sql\n"
                    .into(),
            )),
            _ => Ok(json_reply(
                StatusCode::NOT_FOUND,
                &json!({ "message": "not found: /metrics, /api/v1/dora/metrics, /api/v1/sql" }),
            )),
        };
        result.unwrap_or_else(|e| {
            let status = if e.is_user_error() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            json_reply(status, &json!({ "message": e.to_string() }))
        })
    }
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

pub async fn run(warehouse: Warehouse, options: ServeOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::io("cannot listen on", options.addr.to_string(), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("cannot listen on", options.addr.to_string(), e))?;
    // The address on stdout (a script or test reads it); the rest on stderr.
    println!("http://{local}");
    eprintln!(
        "serving {} at http://{local}: /metrics, /api/v1/dora/metrics, /api/v1/sql (Ctrl-C stops)",
        warehouse.root().display()
    );
    let server = Arc::new(Server {
        warehouse,
        options,
        cache: Mutex::new(None),
    });
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(|e| Error::io("cannot accept on", local.to_string(), e))?;
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
