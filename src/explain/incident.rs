//! `explain incident <id>`: the deployment an incident counts against
//! and the rule that linked it, or why none.

use std::fmt::Write as _;

use crate::base::time::Span;
use crate::engine::{Engine, queries};
use crate::error::Result;
use crate::metrics::MetricsOptions;
use crate::store::schema::Table;

use super::{not_found, over_all_history, provenance, rows, statement_list};

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
    let results = over_all_history(engine, base, file, &statements[1..]).await?;
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
