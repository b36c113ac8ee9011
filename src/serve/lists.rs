//! The dashboard's APIs (each also usable from a script):
//!
//! - `GET /api/v1/metrics?from=&to=&interval=&by=&team=&service=&repo=&benchmark=&compare=previous`:
//!   `{"rows": [...]}`, the rows `doralens metrics --format json` prints for
//!   the same options (`to` exclusive, as `--to`); with `compare=previous`
//!   also `previous` (the same rows for the period of the same length
//!   ending at `from`) and `change` (each headline metric's difference,
//!   current minus previous, for the one-row answer); and `metrics`, the
//!   headline metrics' catalogue (title, unit, level, interval and sample
//!   size columns).
//! - `GET /api/v1/deployments?...&only=failed|rework|rolled_back&limit=`,
//!   `GET /api/v1/incidents?...&limit=`, `GET /api/v1/changes/slowest?...&limit=`:
//!   `{"rows": [...], "total": N}`, the drill-down lists (queries/dashboard/);
//!   the slowest changes of forge-synced repositories carry `change_url`
//!   and `commit_url`.
//! - `GET /api/v1/changes/unreviewed?...&limit=`: `{"rows": [...], "total":
//!   N}`, the changes that reached production in the window without a
//!   second pair of eyes (`queries/report/unreviewed_changes.sql`: repo,
//!   number, title, author, merged_at, deployment_id, deployed_at, reason),
//!   newest first, with `change_url` for forge-synced repositories.
//! - `GET /api/v1/filters`: `{"teams", "services", "repos"}`, what the
//!   filters offer.
//! - `GET /api/v1/explain/deployment?id=`: `{"id", "text"}`, the text of
//!   `doralens explain deployment`.
//!
//! A token limited to teams sees only those teams: a `team=` outside them
//! is 403, and without `team=` every answer (organisation totals included)
//! is computed over its teams only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::auth::Principal;
use super::routes::Rows;
use super::{Answer, Failure, Server, json_reply};
use crate::base::time::{Span, Timestamp};
use crate::engine::queries;
use crate::error::Error;
use crate::metrics::interval::{self, Interval};
use crate::metrics::levels::{Benchmark, BenchmarkName};
use crate::metrics::scope::Scope;
use crate::metrics::{self, Grouping, MetricsOptions, catalogue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Deployments,
    Incidents,
    SlowestChanges,
    UnreviewedChanges,
}

fn list_param(params: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

impl Server {
    /// The metric options of a dashboard request: its window, interval,
    /// grouping, benchmark and filters, narrowed to the principal's teams.
    pub(super) fn request_options(
        &self,
        params: &BTreeMap<String, String>,
        principal: &Principal,
    ) -> std::result::Result<MetricsOptions, Failure> {
        let to = match params.get("to").filter(|s| !s.is_empty()) {
            Some(d) => interval::parse_instant("to", d)?,
            None => Timestamp::now().start_of_day() + Span::days(1),
        };
        let from = match params.get("from").filter(|s| !s.is_empty()) {
            Some(d) => interval::parse_instant("from", d)?,
            None => to - Span::days(metrics::DEFAULT_WINDOW_DAYS),
        };
        let max_days = self.options.limits.dora_max_days;
        if to - from > Span::days(max_days) {
            return Err(Error::usage(
                "from",
                format!(
                    "the range {from} to {to} is longer than {max_days} days, the most this server \
                     answers (--dora-max-days); ask for a shorter range"
                ),
            )
            .into());
        }
        let mut opts = self.metric_options(from, to);
        opts.interval = match params.get("interval").map(String::as_str) {
            None | Some("") | Some("none") => None,
            Some("day") => Some(Interval::Day),
            Some("week") => Some(Interval::Week),
            Some("month") => Some(Interval::Month),
            Some("quarter") => Some(Interval::Quarter),
            Some(other) => {
                return Err(Error::usage(
                    "interval",
                    format!("unknown interval `{other}`; valid: day, week, month, quarter, none"),
                )
                .into());
            }
        };
        opts.group = match params.get("by").map(String::as_str) {
            None | Some("") => None,
            Some("team") => Some(Grouping::Team),
            Some("service") => Some(Grouping::Service),
            Some("repo") => Some(Grouping::Repo),
            Some(other) => {
                return Err(Error::usage(
                    "by",
                    format!("unknown grouping `{other}`; valid: team, service, repo"),
                )
                .into());
            }
        };
        if let Some(name) = params.get("benchmark").filter(|s| !s.is_empty()) {
            let name = BenchmarkName::from_id(name).ok_or_else(|| {
                let valid: Vec<&str> = BenchmarkName::EVERY.iter().map(|b| b.id()).collect();
                Error::usage(
                    "benchmark",
                    format!("unknown benchmark `{name}`; valid: {}", valid.join(", ")),
                )
            })?;
            opts.benchmark = Benchmark::load(name)?;
        }
        opts.scope = Scope {
            teams: list_param(params, "team"),
            services: list_param(params, "service"),
            repos: list_param(params, "repo"),
        }
        .normalized();
        opts.scope.teams = allowed_teams(principal, &opts.scope.teams)?;
        opts.validate()?;
        Ok(opts)
    }

    /// `GET /api/v1/metrics`.
    pub(super) async fn metrics_api(
        self: &Arc<Self>,
        params: &BTreeMap<String, String>,
        principal: &Principal,
    ) -> Answer {
        let opts = self.request_options(params, principal)?;
        let compare = match params.get("compare").map(String::as_str) {
            None | Some("") => false,
            Some("previous") => true,
            Some(other) => {
                return Err(Error::usage(
                    "compare",
                    format!("unknown comparison `{other}`; valid: previous"),
                )
                .into());
            }
        };
        let engine = self.engine().await?;
        let value = self
            .in_session(&engine, super::Bound::Answer, |session| async move {
                let table = metrics::compute(&session, &opts).await?;
                let rows = json_rows(&table.batches)?;
                let mut answer = json!({ "rows": rows, "metrics": headline_catalogue() });
                // One row (the tiles): its DORA 2025 scores beside the levels.
                if let [row] = rows.as_slice() {
                    answer["scores"] = scores_of(row)?;
                }
                if compare {
                    let mut before = opts.clone();
                    before.to = opts.from;
                    before.from = opts.from - (opts.to - opts.from);
                    let previous = json_rows(&metrics::compute(&session, &before).await?.batches)?;
                    answer["change"] = change(&rows, &previous);
                    answer["previous"] = Value::Array(previous);
                    answer["previous_window"] =
                        json!({ "from": before.from.to_string(), "to": before.to.to_string() });
                }
                Ok(answer)
            })
            .await?;
        let n = value["rows"].as_array().map_or(0, Vec::len) as u64;
        let mut response = json_reply(StatusCode::OK, &value);
        response.extensions_mut().insert(Rows(n));
        Ok(response)
    }

    /// The drill-down lists.
    pub(super) async fn list(
        self: &Arc<Self>,
        list: List,
        params: &BTreeMap<String, String>,
        principal: &Principal,
    ) -> Answer {
        let mut opts = self.request_options(params, principal)?;
        opts.group = None;
        opts.interval = None;
        let limit: usize = match params.get("limit") {
            None => 100,
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| Error::usage("limit", "must be a number from 1 to 10000"))?,
        };
        let only = match (list, params.get("only").map(String::as_str)) {
            (_, None | Some("")) => "true",
            (List::Deployments, Some("failed")) => "failed",
            (List::Deployments, Some("rework")) => "rework",
            (List::Deployments, Some("rolled_back")) => "rolled_back",
            (_, Some(other)) => {
                return Err(Error::usage(
                    "only",
                    format!("unknown `{other}`; valid for /api/v1/deployments: failed, rework, rolled_back"),
                )
                .into());
            }
        };
        // One query file each, but the slowest changes: two statements, the
        // second built from the first's rows (metrics::slowest_changes).
        let file = match list {
            List::Deployments => Some(queries::DASHBOARD_DEPLOYMENTS),
            List::Incidents => Some(queries::DASHBOARD_INCIDENTS),
            List::SlowestChanges => None,
            List::UnreviewedChanges => Some(queries::UNREVIEWED_CHANGES),
        };
        let query_params = HashMap::from([
            ("limit", limit.to_string()),
            ("only", only.to_string()),
            ("from", queries::timestamp_literal(opts.from)),
            ("to", queries::timestamp_literal(opts.to)),
        ]);
        // The forge pages of synced repositories (pull request, commit).
        let links = if matches!(list, List::SlowestChanges | List::UnreviewedChanges) {
            crate::store::links::WebLinks::load(&self.warehouse)
        } else {
            Default::default()
        };
        let engine = self.engine().await?;
        let value = self
            .in_session(&engine, super::Bound::Answer, |session| async move {
                metrics::register_views(&session, &opts).await?;
                let batches = match &file {
                    Some(file) => session.bundled(file, &query_params).await?.1,
                    None => metrics::slowest_changes(&session, &query_params).await?,
                };
                let mut rows = json_rows(&batches)?;
                for row in &mut rows {
                    let Some(link) = row["repo"].as_str().and_then(|r| links.get(r)) else {
                        continue;
                    };
                    let commit = row["sha"].as_str().map(|sha| link.commit_url(sha));
                    let change = row["number"].as_i64().map(|n| link.change_url(n));
                    if list == List::SlowestChanges {
                        row["commit_url"] = json!(commit);
                    }
                    row["change_url"] = json!(change);
                }
                let total = rows.first().and_then(|r| r["total"].as_u64()).unwrap_or(0);
                for row in &mut rows {
                    if let Some(o) = row.as_object_mut() {
                        o.remove("total");
                    }
                }
                Ok(json!({ "rows": rows, "total": total }))
            })
            .await?;
        let n = value["rows"].as_array().map_or(0, Vec::len) as u64;
        let mut response = json_reply(StatusCode::OK, &value);
        response.extensions_mut().insert(Rows(n));
        Ok(response)
    }

    /// `GET /api/v1/explain/deployment?id=`: the same text as `doralens
    /// explain deployment`; a deployment of a service outside the token's
    /// teams is 404, as if it did not exist.
    pub(super) async fn explain_api(
        self: &Arc<Self>,
        params: &BTreeMap<String, String>,
        principal: &Principal,
    ) -> Answer {
        let id = params
            .get("id")
            .filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| Error::usage("id", "give the deployment as ?id=..."))?;
        let opts = self.metric_options(Timestamp::from_micros(0), Timestamp::now());
        let teams = principal.teams.clone();
        let engine = self.engine().await?;
        let text = self
            .in_session(&engine, super::Bound::Answer, |session| async move {
                if !teams.is_empty() {
                    let list: Vec<String> =
                        teams.iter().map(|t| queries::string_literal(t)).collect();
                    let (_, batches) = session
                        .sql(&format!(
                            "SELECT count(*) AS n FROM deployments d WHERE d.id = {} AND d.service IN \
                             (SELECT service FROM teams WHERE team IN ({}))",
                            queries::string_literal(&id),
                            list.join(", ")
                        ))
                        .await?;
                    let rows = json_rows(&batches)?;
                    if rows.first().and_then(|r| r["n"].as_u64()) != Some(1) {
                        return Ok(None);
                    }
                }
                crate::explain::deployment(&session, &opts, &id)
                    .await
                    .map(|t| Some((id, t)))
            })
            .await?;
        match text {
            Some((id, text)) => {
                let mut response = json_reply(StatusCode::OK, &json!({ "id": id, "text": text }));
                response.extensions_mut().insert(Rows(1));
                Ok(response)
            }
            None => Err(Failure(
                StatusCode::NOT_FOUND,
                "no such deployment among your teams' services".into(),
            )),
        }
    }
}

impl Server {
    /// `GET /api/v1/filters`: the teams, services and repositories the
    /// filters offer (the principal's teams and what they deploy only).
    pub(super) async fn filters_api(self: &Arc<Self>, principal: &Principal) -> Answer {
        let teams = principal.teams.clone();
        let engine = self.engine().await?;
        let value = self
            .in_session(&engine, super::Bound::Answer, |session| async move {
                let (team_cond, service_cond) = if teams.is_empty() {
                    ("true".to_string(), "true".to_string())
                } else {
                    let list: Vec<String> =
                        teams.iter().map(|t| queries::string_literal(t)).collect();
                    let list = list.join(", ");
                    (
                        format!("team IN ({list})"),
                        format!("service IN (SELECT service FROM teams WHERE team IN ({list}))"),
                    )
                };
                let column = |sql: String| {
                    let session = &session;
                    async move {
                        let (_, batches) = session.sql(&sql).await?;
                        Ok::<_, Error>(
                            json_rows(&batches)?
                                .into_iter()
                                .filter_map(|r| r["v"].as_str().map(str::to_string))
                                .collect::<Vec<_>>(),
                        )
                    }
                };
                let service_source = if teams.is_empty() {
                    "SELECT service FROM deployments UNION SELECT service FROM teams"
                } else {
                    "SELECT service FROM teams"
                };
                Ok(json!({
                    "teams": column(format!(
                        "SELECT DISTINCT team AS v FROM teams WHERE {team_cond} ORDER BY v"
                    ))
                    .await?,
                    "services": column(format!(
                        "SELECT DISTINCT service AS v FROM ({service_source}) s WHERE {service_cond} ORDER BY v"
                    ))
                    .await?,
                    "repos": column(format!(
                        "SELECT DISTINCT repo AS v FROM deployments WHERE {service_cond} ORDER BY v"
                    ))
                    .await?,
                }))
            })
            .await?;
        Ok(json_reply(StatusCode::OK, &value))
    }
}

/// The teams a request may read: those asked for, each of which must be
/// the principal's; or, when none is asked for, all of the principal's.
pub(super) fn allowed_teams(
    principal: &Principal,
    asked: &[String],
) -> std::result::Result<Vec<String>, Failure> {
    if principal.teams.is_empty() {
        return Ok(asked.to_vec());
    }
    if asked.is_empty() {
        let mut teams = principal.teams.clone();
        teams.sort();
        return Ok(teams);
    }
    if let Some(other) = asked.iter().find(|t| !principal.teams.contains(t)) {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            format!(
                "the token `{}` may read only {}; not `{other}`",
                principal.name,
                principal.teams.join(", ")
            ),
        ));
    }
    Ok(asked.to_vec())
}

/// Rows as `--format json` writes them (the same writer).
pub(super) fn json_rows(batches: &[RecordBatch]) -> crate::error::Result<Vec<Value>> {
    let mut buf = Vec::new();
    crate::render::exporter(crate::render::Format::Json).write(
        &batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty())),
        batches,
        &mut buf,
    )?;
    Ok(serde_json::from_slice(&buf).unwrap_or_default())
}

/// Each headline metric: current minus previous (null when either is).
fn change(rows: &[Value], previous: &[Value]) -> Value {
    let (Some(now), Some(before)) = (rows.first(), previous.first()) else {
        return json!({});
    };
    if rows.len() != 1 || previous.len() != 1 {
        return json!({});
    }
    let mut out = serde_json::Map::new();
    for column in catalogue::headline().map(|m| m.column) {
        let delta = match (now[column].as_f64(), before[column].as_f64()) {
            (Some(a), Some(b)) => json!(a - b),
            _ => Value::Null,
        };
        out.insert(column.to_string(), delta);
    }
    Value::Object(out)
}

/// The DORA 2025 scores of one metrics row, each with the published 2025
/// average (`src/metrics/scores.rs`), whatever the levels' benchmark.
fn scores_of(row: &Value) -> crate::error::Result<Value> {
    let compared = metrics::scores::compare(|m| row[m].as_f64())?;
    Ok(Value::Array(
        compared
            .iter()
            .map(|c| {
                json!({
                    "column": c.column,
                    "metric": c.metric,
                    "title": c.title,
                    "score": c.score,
                    "average": c.average.as_ref().map(|a| a.mean),
                    "std": c.average.as_ref().map(|a| a.std),
                })
            })
            .collect(),
    ))
}

/// The headline metrics as the page shows them.
fn headline_catalogue() -> Value {
    let list: Vec<Value> = catalogue::headline()
        .map(|m| {
            json!({
                "column": m.column,
                "title": m.title,
                "short": m.short,
                "unit": format!("{:?}", m.unit).to_lowercase(),
                "higher_is_better": m.higher_is_better,
                "level": m.level,
                "interval": m.interval.map(|(low, high)| json!([low, high])),
                "sample": m.sample,
            })
        })
        .collect();
    Value::Array(list)
}
