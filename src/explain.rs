//! `doralens explain deployment <id>` and `doralens explain incident <id>`:
//! why a number is what it is, in words, from the same views the metrics
//! use (`queries/explain/`).
//!
//! - A deployment: whether it is a production deployment, whether it
//!   counts as failed and by which links (an incident naming it, an
//!   incident's root-cause commit it shipped, a rollback, an incident
//!   inferred by timing), its recovery, why it is rework, and the commits
//!   it shipped with their lead times.
//! - An incident: the deployment it counts against and the rule that
//!   linked it, or why it links to none.

use std::collections::HashMap;
use std::fmt::Write as _;

use datafusion::arrow::array::RecordBatch;

use crate::base::time::{Span, Timestamp};
use crate::engine::{Engine, queries};
use crate::error::{Error, Result};
use crate::metrics::{self, MetricsOptions};
use crate::store::schema::Table;

mod provenance;

/// An explain file's statements, checked to be `expected` many. The first
/// needs no metric views and runs alone (its answer chooses the window the
/// views are registered for); the others run after.
fn statement_list(file: &queries::QueryFile, id: &str, expected: usize) -> Result<Vec<String>> {
    let params = HashMap::from([("id", queries::string_literal(id))]);
    let list = queries::bundled_statement_list(file, &params)?;
    if list.len() != expected {
        return Err(Error::BundledQuery {
            file: file.path,
            message: format!("expected {expected} statements, found {}", list.len()),
        });
    }
    Ok(list)
}

/// Rows of a result as text cells by column name ("" for null).
fn rows(batches: &[RecordBatch]) -> Vec<HashMap<String, String>> {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::datatypes::{DataType, TimeUnit};
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let mut row = HashMap::new();
            for (i, field) in b.schema().fields().iter().enumerate() {
                let column = b.column(i);
                let value = if column.is_null(r) {
                    String::new()
                } else if let DataType::Timestamp(TimeUnit::Microsecond, _) = column.data_type() {
                    use datafusion::arrow::array::AsArray;
                    use datafusion::arrow::datatypes::TimestampMicrosecondType;
                    Timestamp::from_micros(
                        column.as_primitive::<TimestampMicrosecondType>().value(r),
                    )
                    .to_string()
                } else {
                    datafusion::arrow::util::display::array_value_to_string(column, r)
                        .unwrap_or_default()
                };
                row.insert(field.name().clone(), value);
            }
            out.push(row);
        }
    }
    out
}

fn duration(seconds: &str) -> String {
    let Ok(s) = seconds.parse::<f64>() else {
        return "–".into();
    };
    crate::render::table::format_duration(s)
}

fn not_found(what: &str, id: &str) -> Error {
    Error::usage(
        "<id>",
        format!(
            "no {what} `{id}` in the warehouse; list them with `doralens sql \"SELECT id FROM {what}s\"`"
        ),
    )
}

/// The explanation of one deployment, as text, ending with where its row
/// came from.
pub async fn deployment(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let mut out = deployment_reasons(engine, base, id).await?;
    out.push_str(&provenance::section(engine, Table::Deployments, &[id]).await?);
    Ok(out)
}

async fn deployment_reasons(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let file = &queries::EXPLAIN_DEPLOYMENT;
    let statements = statement_list(file, id, 6)?;
    // The deployment first: the views are registered for a window holding
    // only its finish.
    let batches = engine.bundled_statement(file, &statements[0]).await?.1;
    let Some(d) = rows(&batches).into_iter().next() else {
        return Err(not_found("deployment", id));
    };
    let finished = Timestamp::parse_rfc3339(&d["finished_at"]).unwrap_or_default();
    let mut opts = base.clone();
    opts.from = finished;
    opts.to = finished + Span::from_micros(1);
    opts.interval = None;
    opts.group = None;
    metrics::register_views(engine, &opts).await?;
    let results = engine.run_statements(file, &statements[1..]).await?;
    let [production, links, recovery, rework, commits] = &results[..] else {
        unreachable!("statement_list checked the count");
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deployment {id}: service {}, repo {}, environment {}, status {}, sha {}\nfinished {}",
        d["service"], d["repo"], d["environment"], d["status"], d["sha"], d["finished_at"]
    );
    let is_production = rows(production)
        .first()
        .is_some_and(|r| r["production"] != "0");
    if !is_production {
        let _ = writeln!(
            out,
            "\nNot a production deployment (production is a successful deployment whose \
             environment matches `{}`), so no metric counts it.",
            base.production.source
        );
        return Ok(out);
    }
    let links = rows(links);
    if links.is_empty() {
        let _ = writeln!(
            out,
            "\nFailed: no. No incident names it or a commit it shipped, no rollback undid it, \
             and no incident of {} was opened within {} after it.",
            d["service"],
            crate::render::table::format_duration(base.incident_window.as_secs_f64())
        );
    } else {
        let _ = writeln!(out, "\nFailed: yes, linked by");
        for l in &links {
            let why = match l["link"].as_str() {
                "incident.deployment_id" => format!(
                    "incident {}: it names this deployment (deployment_id), explicit",
                    l["incident_id"]
                ),
                "incident.sha" => format!(
                    "incident {}: its root-cause commit shipped in this deployment (sha), explicit",
                    l["incident_id"]
                ),
                "incident.inferred" => format!(
                    "incident {}: opened within {} after this, the latest production deployment of \
                     its service (inferred by timing)",
                    l["incident_id"],
                    crate::render::table::format_duration(base.incident_window.as_secs_f64())
                ),
                "rollback" => {
                    "a rollback: a later deployment went back to an earlier sha, explicit"
                        .to_string()
                }
                other => other.to_string(),
            };
            let _ = writeln!(out, "  - {why}");
        }
        if let Some(r) = rows(recovery).first() {
            if r["open_failure"] == "true" {
                let _ = writeln!(
                    out,
                    "Recovery: open (a linked incident is unresolved); left out of recovery time."
                );
            } else if r["recovery_s"].is_empty() {
                let _ = writeln!(
                    out,
                    "Recovery: ended {} before the deployment finished (bad data), left out.",
                    r["recovered_at"]
                );
            } else {
                let _ = writeln!(
                    out,
                    "Recovery: {} (at {}: the last linked incident resolved or rollback finished)",
                    duration(&r["recovery_s"]),
                    r["recovered_at"]
                );
            }
        }
    }
    let rework: Vec<String> = rows(rework)
        .into_iter()
        .map(|r| r["reason"].clone())
        .collect();
    let _ = writeln!(
        out,
        "Rework: {}",
        if rework.is_empty() {
            "no".to_string()
        } else {
            format!("yes ({})", rework.join(", "))
        }
    );
    let commits = rows(commits);
    let _ = writeln!(out, "Shipped {} commit(s):", commits.len());
    for c in &commits {
        let lead = if c["baseline"] == "true" {
            "baseline (the service's first deployment; not a lead time)".to_string()
        } else if c["lead_time_s"].is_empty() {
            "authored after the deployment (clock skew), left out".to_string()
        } else {
            format!("lead time {}", duration(&c["lead_time_s"]))
        };
        let sha = &c["sha"][..c["sha"].len().min(10)];
        let message = c["message"].lines().next().unwrap_or("");
        let _ = writeln!(out, "  {} {sha}  {lead}  {message}", c["repo"]);
    }
    Ok(out)
}

/// The explanation of one incident, as text, ending with where its row
/// came from.
pub async fn incident(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let mut out = incident_links(engine, base, id).await?;
    out.push_str(&provenance::section(engine, Table::Incidents, &[id]).await?);
    Ok(out)
}

async fn incident_links(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let file = &queries::EXPLAIN_INCIDENT;
    let statements = statement_list(file, id, 4)?;
    let batches = engine.bundled_statement(file, &statements[0]).await?.1;
    let Some(i) = rows(&batches).into_iter().next() else {
        return Err(not_found("incident", id));
    };
    // Links may reach any deployment in history: the whole of it.
    let mut opts = base.clone();
    opts.from = Timestamp::EPOCH;
    opts.to = Timestamp::now() + Span::days(366 * 50);
    opts.interval = None;
    opts.group = None;
    metrics::register_views(engine, &opts).await?;
    let results = engine.run_statements(file, &statements[1..]).await?;
    let [links, named, latest] = &results[..] else {
        unreachable!("statement_list checked the count");
    };
    let mut out = String::new();
    let service = if i["service"].is_empty() {
        "no service".to_string()
    } else {
        format!("service {}", i["service"])
    };
    let _ = writeln!(
        out,
        "incident {id}: {service}, created {}, {}",
        i["created_at"],
        if i["resolved_at"].is_empty() {
            "still open".to_string()
        } else {
            format!("resolved {}", i["resolved_at"])
        }
    );
    let links = rows(links);
    if !links.is_empty() {
        for l in &links {
            let rule = match l["link"].as_str() {
                "incident.deployment_id" => "explicitly: its deployment_id names it".to_string(),
                "incident.sha" => {
                    format!("explicitly: it shipped the root-cause commit {}", i["sha"])
                }
                "incident.inferred" => format!(
                    "inferred: the latest production deployment of {} finished at or before the \
                     incident, within {}",
                    l["service"],
                    crate::render::table::format_duration(base.incident_window.as_secs_f64())
                ),
                other => other.to_string(),
            };
            let _ = writeln!(
                out,
                "Counts against deployment {} (finished {}), {rule}.",
                l["deployment_id"], l["finished_at"]
            );
        }
        return Ok(out);
    }
    let why = if !i["deployment_id"].is_empty() {
        match rows(named).first() {
            None => format!(
                "its deployment_id `{}` names no deployment in the warehouse (a typo, or one not \
                 synced yet); the link counts once that deployment is there",
                i["deployment_id"]
            ),
            Some(d) if d["production"] == "0" => format!(
                "its deployment_id names {}, which is not a production deployment (environment \
                 {}, status {})",
                d["id"], d["environment"], d["status"]
            ),
            Some(d) => format!("its deployment {} is outside the history read", d["id"]),
        }
    } else if !i["sha"].is_empty() {
        format!(
            "no production deployment{} shipped its root-cause commit {} (is that commit in the \
             warehouse, and a full sha or a unique prefix?)",
            if i["service"].is_empty() {
                String::new()
            } else {
                format!(" of {}", i["service"])
            },
            i["sha"]
        )
    } else if i["service"].is_empty() {
        "it names no deployment, commit or service, so nothing links it; it counts only in the \
         organisation's time to restore"
            .to_string()
    } else if base.incident_window == Span::ZERO {
        "it names no deployment or commit, and inference is off (--incident-window 0)".to_string()
    } else {
        match rows(latest).first() {
            None => format!(
                "no production deployment of {} finished before it",
                i["service"]
            ),
            Some(d) => format!(
                "the latest production deployment of {} before it, {} (finished {}), is more than \
                 {} earlier",
                i["service"],
                d["id"],
                d["finished_at"],
                crate::render::table::format_duration(base.incident_window.as_secs_f64())
            ),
        }
    };
    let _ = writeln!(out, "Counts against no deployment: {why}.");
    Ok(out)
}

/// The explanation of one change (`repo`, `number`): its row, the commits
/// it holds, and where each came from.
pub async fn change(engine: &Engine, repo: &str, number: &str) -> Result<String> {
    use queries::string_literal as lit;
    let batches = engine
        .sql(&format!(
            "SELECT title, author, created_at, merged_at, base_branch, merge_sha FROM changes \
             WHERE repo = {} AND CAST(number AS VARCHAR) = {}",
            lit(repo),
            lit(number)
        ))
        .await?
        .1;
    let Some(c) = rows(&batches).into_iter().next() else {
        return Err(Error::usage(
            "<number>",
            format!(
                "no change {repo}#{number} in the warehouse; list them with \
                 `doralens sql \"SELECT repo, number FROM changes\"`"
            ),
        ));
    };
    let mut out = String::new();
    let merged = if c["merged_at"].is_empty() {
        "not merged".to_string()
    } else {
        format!(
            "merged {} into {} as {}",
            c["merged_at"], c["base_branch"], c["merge_sha"]
        )
    };
    let _ = writeln!(
        out,
        "change {repo}#{number}: {}\nby {}, opened {}, {merged}",
        c["title"], c["author"], c["created_at"]
    );
    out.push_str(&provenance::section(engine, Table::Changes, &[repo, number]).await?);
    let commits = engine
        .sql(&format!(
            "SELECT sha FROM change_commits WHERE repo = {} AND CAST(number AS VARCHAR) = {} \
             ORDER BY sha",
            lit(repo),
            lit(number)
        ))
        .await?
        .1;
    let commits = rows(&commits);
    let _ = writeln!(out, "Holds {} commit(s):", commits.len());
    for c in &commits {
        let _ = writeln!(out, "  {}", c["sha"]);
        let section = provenance::section(engine, Table::Commits, &[repo, &c["sha"]]).await?;
        for line in section.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    Ok(out)
}
