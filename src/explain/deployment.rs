//! `explain deployment <id>`: whether it is a production deployment, why
//! it counts as failed or rework, its recovery and the commits it shipped.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::base::time::{Span, Timestamp};
use crate::engine::{Engine, queries};
use crate::error::Result;
use crate::metrics::{self, MetricsOptions};
use crate::store::schema::Table;

use super::{duration, not_found, provenance, rows, statement_list};

/// The explanation of one deployment, as text, ending with where its row
/// came from.
pub async fn deployment(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let mut out = deployment_reasons(engine, base, id).await?;
    out.push_str(&provenance::section(engine, Table::Deployments, &[id]).await?);
    Ok(out)
}

async fn deployment_reasons(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let file = &queries::EXPLAIN_DEPLOYMENT;
    let statements = statement_list(file, id, 8)?;
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
    let [
        production,
        links,
        recovery,
        rework,
        commits,
        changes,
        action,
    ] = &results[..]
    else {
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
        if let Some(a) = rows(action).first()
            && let Some(line) = recovery_action(a)
        {
            let _ = writeln!(out, "{line}");
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
    let changes = rows(changes);
    if !changes.is_empty() {
        let unreviewed = changes.iter().filter(|c| c["four_eyes"] != "true").count();
        let _ = writeln!(
            out,
            "First brought {} merged change(s) to production, {unreviewed} without a second pair \
             of eyes:",
            changes.len()
        );
        for c in &changes {
            let verdict = if c["four_eyes"] == "true" {
                "four-eyes".to_string()
            } else {
                format!("WITHOUT a second pair of eyes ({})", c["reason"])
            };
            let _ = writeln!(
                out,
                "  {}#{}  {verdict}  {}",
                c["repo"], c["number"], c["title"]
            );
        }
    }
    Ok(out)
}

/// The recovery action line of a failed deployment (`failure_recoveries`),
/// none for an open failure.
fn recovery_action(a: &HashMap<String, String>) -> Option<String> {
    let action = match a["recovery_action"].as_str() {
        "" => return None,
        "rollback" => "rollback (a rollback undid it)".to_string(),
        "flag" => {
            let how = if a["recovery_flag_link"] == "incident.recovery_flag" {
                "a linked incident names it in recovery_flag"
            } else {
                "turned back in production between the deployment and its recovery, and the \
                 deployment shipped it"
            };
            let blast = if a["blast_radius"].is_empty() {
                "blast radius unknown: no production event of the flag before the failure was \
                 caught"
                    .to_string()
            } else {
                format!(
                    "blast radius {} % of users (its exposure when the failure was caught)",
                    a["blast_radius"]
                )
            };
            format!("flag `{}` ({how}); {blast}", a["recovery_flag"])
        }
        "hotfix" => format!(
            "hotfix (deployment {} of the same service shipped new commits before the recovery)",
            a["hotfix_deployment_id"]
        ),
        _ => "unknown (no rollback, flag turned back or later deployment of the service before \
              the recovery)"
            .to_string(),
    };
    Some(format!("Recovered by: {action}"))
}
