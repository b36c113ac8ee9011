//! Every route of `serve`, what it needs ([`auth::Need`]), and the one
//! path each request takes: authorize, answer (from the answer cache when
//! the warehouse has not changed), record in the audit log.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::auth::{Need, Principal};
use super::tokens::Role;
use super::{Answer, Failure, Server, json_reply};
use crate::base::time::Timestamp;
use crate::error::Error;
use crate::store::schema::Table;

/// Rows (or points, or metric rows) an answer carries, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Rows(pub u64);

/// What a push changed, for the audit log.
#[derive(Debug, Clone)]
pub struct Changes(pub String);

/// The routes, each with what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Asset(&'static str),
    OpenMetrics,
    Dora,
    Metrics,
    Deployments,
    Incidents,
    SlowestChanges,
    UnreviewedChanges,
    Explain,
    Filters,
    Sql,
    Push(Table),
}

impl Route {
    fn need(self) -> Need {
        match self {
            Route::Asset(_) => Need::Nothing,
            Route::Sql => Need::Role(Role::Analyst),
            Route::Push(_) => Need::Push,
            _ => Need::Role(Role::Viewer),
        }
    }

    /// Answers that depend only on the warehouse's state, the principal's
    /// teams and the request: kept in the answer cache.
    fn cached(self) -> bool {
        !matches!(self, Route::Asset(_) | Route::Sql | Route::Push(_))
    }
}

const ROUTES: &str = "/, /metrics, /api/v1/dora/metrics, /api/v1/metrics, /api/v1/deployments, \
                      /api/v1/incidents, /api/v1/changes/slowest, /api/v1/changes/unreviewed, /api/v1/explain/deployment, /api/v1/filters, /api/v1/sql";

impl Server {
    fn route(&self, method: &Method, path: &str) -> Option<Route> {
        let pushes = self.access.has_ingest_token() || self.access.required().unwrap_or(false);
        Some(match (method, path) {
            (&Method::GET, p) if super::dashboard::asset(p).is_some() => {
                Route::Asset(super::dashboard::asset(p).map_or("/", |a| a.path))
            }
            (&Method::GET, "/metrics") => Route::OpenMetrics,
            (&Method::GET, "/api/v1/dora/metrics") => Route::Dora,
            (&Method::GET, "/api/v1/metrics") => Route::Metrics,
            (&Method::GET, "/api/v1/deployments") => Route::Deployments,
            (&Method::GET, "/api/v1/incidents") => Route::Incidents,
            (&Method::GET, "/api/v1/changes/slowest") => Route::SlowestChanges,
            (&Method::GET, "/api/v1/changes/unreviewed") => Route::UnreviewedChanges,
            (&Method::GET, "/api/v1/explain/deployment") => Route::Explain,
            (&Method::GET, "/api/v1/filters") => Route::Filters,
            (&Method::GET | &Method::POST, "/api/v1/sql") => Route::Sql,
            (&Method::POST, "/api/v1/deployments") if pushes => Route::Push(Table::Deployments),
            (&Method::POST, "/api/v1/incidents") if pushes => Route::Push(Table::Incidents),
            _ => return None,
        })
    }

    pub(super) async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        let params: BTreeMap<String, String> = request
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let mut filters = request.uri().query().unwrap_or("").to_string();
        let Some(route) = self.route(&method, &path) else {
            let response = json_reply(
                StatusCode::NOT_FOUND,
                &json!({ "message": format!("not found: {ROUTES}") }),
            );
            self.log(&anonymous(), &method, &path, &filters, &response);
            return response;
        };
        let principal = match self.access.authorize(request.headers(), route.need()) {
            Ok(p) => p,
            Err(denied) => {
                let response = json_reply(denied.status, &json!({ "message": denied.message }));
                self.log(&denied.principal, &method, &path, &filters, &response);
                return response;
            }
        };
        let key = route.cached().then(|| {
            format!(
                "{path}?{params:?} teams={:?} day={}",
                principal.teams,
                Timestamp::now().date()
            )
        });
        let answer = match &key {
            Some(key) => match self.answers.get(&self.stamp(), key) {
                Some(hit) => Ok(hit),
                None => {
                    let stamp = self.stamp();
                    let answer = self
                        .answer(route, &principal, &params, request, &mut filters)
                        .await;
                    if let Ok(response) = &answer
                        && response.status() == StatusCode::OK
                    {
                        self.answers.put(&stamp, key.clone(), response);
                    }
                    answer
                }
            },
            None => {
                self.answer(route, &principal, &params, request, &mut filters)
                    .await
            }
        };
        let response = answer.unwrap_or_else(|Failure(status, message)| {
            json_reply(status, &json!({ "message": message }))
        });
        self.log(&principal, &method, &path, &filters, &response);
        response
    }

    /// The warehouse's state now ("" when it cannot be read: no caching),
    /// with the commit version of an object-store warehouse's copy.
    fn stamp(&self) -> String {
        let stamp = self
            .warehouse
            .snapshot()
            .map(|s| s.stamp())
            .unwrap_or_default();
        match &self.follow {
            Some(f) if !stamp.is_empty() => format!("v{}:{stamp}", f.version()),
            _ => stamp,
        }
    }

    async fn answer(
        self: &Arc<Self>,
        route: Route,
        principal: &Principal,
        params: &BTreeMap<String, String>,
        request: Request<Incoming>,
        filters: &mut String,
    ) -> Answer {
        match route {
            Route::Asset(path) => Ok(super::dashboard::reply(path)),
            Route::OpenMetrics => self.openmetrics(principal).await,
            Route::Dora => self.dora(params, principal).await,
            Route::Metrics => self.metrics_api(params, principal).await,
            Route::Deployments => {
                self.list(super::lists::List::Deployments, params, principal)
                    .await
            }
            Route::Incidents => {
                self.list(super::lists::List::Incidents, params, principal)
                    .await
            }
            Route::SlowestChanges => {
                self.list(super::lists::List::SlowestChanges, params, principal)
                    .await
            }
            Route::UnreviewedChanges => {
                self.list(super::lists::List::UnreviewedChanges, params, principal)
                    .await
            }
            Route::Explain => self.explain_api(params, principal).await,
            Route::Filters => self.filters_api(principal).await,
            Route::Sql => {
                let query = if request.method() == Method::POST {
                    let body = self.body(request).await?;
                    *filters = body.chars().take(4096).collect();
                    body
                } else {
                    match params.get("q") {
                        Some(q) => q.clone(),
                        None => {
                            return Err(
                                Error::usage("q", "give the query as ?q=... or POST it").into()
                            );
                        }
                    }
                };
                self.sql(query, principal.role == Some(Role::Admin)).await
            }
            Route::Push(table) => self.push(table, &principal.name, request).await,
        }
    }

    fn log(
        &self,
        principal: &Principal,
        method: &Method,
        path: &str,
        filters: &str,
        response: &Response<Full<Bytes>>,
    ) {
        self.audit.record(&super::audit::Entry {
            time: Timestamp::now().to_string(),
            token: principal.name.clone(),
            role: principal.role_name().to_string(),
            method: method.to_string(),
            route: path.to_string(),
            filters: filters.to_string(),
            status: response.status().as_u16(),
            rows: response.extensions().get::<Rows>().map(|r| r.0),
            changes: response.extensions().get::<Changes>().map(|c| c.0.clone()),
        });
    }

    /// `POST /api/v1/<table>`: validates the body like `import` and
    /// upserts it (see the module docs).
    /// Each accepted push is one `syncs` run (source `push`, scope the
    /// token's name); a rejected body writes nothing.
    async fn push(
        self: &Arc<Self>,
        table: Table,
        token: &str,
        request: Request<Incoming>,
    ) -> Answer {
        let body = self.body(request).await?;
        let server = self.clone();
        let remote = self.follow.is_some();
        let scope = format!("token:{token}");
        let remote_scope = scope.clone();
        let written = tokio::task::spawn_blocking(move || {
            let batch = crate::ingest::files::read_json_body(table, &body)?;
            let keys = key_list(&batch);
            if remote {
                let batches = crate::ingest::keep_last_per_key(table, vec![batch])?;
                return Ok((batches, None, keys));
            }
            let _one_at_a_time = server.writes.lock().unwrap_or_else(|p| p.into_inner());
            let batches = crate::ingest::keep_last_per_key(table, vec![batch])?;
            let run = server.warehouse.begin_sync("push", &scope)?;
            let result = run.upsert(table, &batches);
            run.end_sync(result).map(|r| (Vec::new(), Some(r), keys))
        })
        .await
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        // On an object-store warehouse: committed there (`follow.rs`).
        let written = match (written, &self.follow) {
            (Ok((batches, None, keys)), Some(follow)) => follow
                .push(self, table, &remote_scope, batches)
                .await
                .map(|r| (r, keys)),
            (Ok((_, report, keys)), _) => Ok((report.unwrap_or_default(), keys)),
            (Err(e), _) => Err(e),
        };
        match written {
            Ok((report, keys)) => {
                let mut response = json_reply(
                    StatusCode::OK,
                    &json!({
                        "table": table.to_string(),
                        "written": report.written,
                        "replaced": report.replaced,
                        "total": report.total,
                    }),
                );
                response
                    .extensions_mut()
                    .insert(Rows(report.written as u64));
                response
                    .extensions_mut()
                    .insert(Changes(format!("{table}: {keys}")));
                Ok(response)
            }
            Err(Error::Input {
                line,
                column,
                message,
                ..
            }) => Ok(json_reply(
                StatusCode::BAD_REQUEST,
                &json!({
                    "message": format!("item {line}: field `{column}`: {message}; nothing was written"),
                    "item": line,
                    "field": column,
                }),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The request body as text, refused with 413 as soon as it is known to
    /// be larger than `--max-body` (from its Content-Length, or while it
    /// streams), never buffered past the limit.
    pub(super) async fn body(
        &self,
        request: Request<Incoming>,
    ) -> std::result::Result<String, Failure> {
        let max = self.options.limits.max_body;
        let too_large = || {
            Failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {max} bytes (--max-body)"),
            )
        };
        let declared = request
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let body = Limited::new(request.into_body(), max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    Failure(
                        StatusCode::BAD_REQUEST,
                        format!("cannot read the body: {e}"),
                    )
                }
            })?
            .to_bytes();
        String::from_utf8(body.to_vec())
            .map_err(|_| Failure(StatusCode::BAD_REQUEST, "the body is not UTF-8 text".into()))
    }
}

fn anonymous() -> Principal {
    Principal {
        name: "-".into(),
        role: None,
        teams: Vec::new(),
    }
}

/// The pushed rows' ids, for the audit log (at most 100 named).
fn key_list(batch: &datafusion::arrow::array::RecordBatch) -> String {
    use datafusion::arrow::array::AsArray;
    let Ok(i) = batch.schema().index_of("id") else {
        return format!("{} rows", batch.num_rows());
    };
    let Some(ids) = batch.column(i).as_string_opt::<i32>() else {
        return format!("{} rows", batch.num_rows());
    };
    let mut shown: Vec<&str> = ids.iter().flatten().take(100).collect();
    shown.sort_unstable();
    let more = batch.num_rows().saturating_sub(shown.len());
    if more > 0 {
        format!("{} (and {more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
