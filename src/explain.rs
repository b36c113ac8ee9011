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
//! - A change (`repo#number`): its reviews, each with why it does or does
//!   not make the change four-eyes, the verdict, and the production
//!   deployment that placed it (docs/metrics.md section 8).
//! - Flag changes over a window: the share of production flag changes that
//!   went through a change request, overall and per team, and each direct
//!   change (docs/metrics.md section 9.7).

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
    statements_with(file, &params, expected)
}

/// [`statement_list`] with any parameters.
fn statements_with(
    file: &queries::QueryFile,
    params: &HashMap<&str, String>,
    expected: usize,
) -> Result<Vec<String>> {
    let list = queries::bundled_statement_list(file, params)?;
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

/// The explanation of flag changes over a window: the gated share, overall
/// and per team, then each direct production change.
pub async fn flag_changes(engine: &Engine, base: &MetricsOptions) -> Result<String> {
    let file = &queries::EXPLAIN_FLAG_CHANGES;
    let statements = statements_with(file, &HashMap::new(), 3)?;
    let mut opts = base.clone();
    opts.interval = None;
    opts.group = Some(metrics::Grouping::Team);
    metrics::register_views(engine, &opts).await?;
    let results = engine.run_statements(file, &statements).await?;
    let [total, teams, direct] = &results[..] else {
        unreachable!("statements_with checked the count");
    };
    let share = |changes: &str, gated: &str| -> String {
        let (Ok(c), Ok(g)) = (changes.parse::<f64>(), gated.parse::<f64>()) else {
            return "–".into();
        };
        if c == 0.0 {
            "–".into()
        } else {
            format!("{:.0} % gated", 100.0 * g / c)
        }
    };
    let mut out = String::new();
    let t = rows(total).into_iter().next().unwrap_or_default();
    let changes = t.get("changes").cloned().unwrap_or_default();
    let gated = t.get("gated").cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "Production flag changes from {} to {} (environments matching `{}`): {changes}, {gated} \
         through a change request ({}).",
        opts.from,
        opts.to,
        base.production.source,
        share(&changes, &gated)
    );
    let teams = rows(teams);
    if !teams.is_empty() {
        let _ = writeln!(
            out,
            "\nBy team (a flag belongs to the teams of its service):"
        );
        for r in &teams {
            let _ = writeln!(
                out,
                "  {}: {} change(s), {} gated ({})",
                r["team"],
                r["changes"],
                r["gated"],
                share(&r["changes"], &r["gated"])
            );
        }
    }
    let direct = rows(direct);
    let _ = writeln!(
        out,
        "\n{} direct production change(s) (no change request):",
        direct.len()
    );
    for d in &direct {
        let service = if d["service"].is_empty() {
            String::new()
        } else {
            format!(" (service {})", d["service"])
        };
        let actor = if d["actor"].is_empty() {
            "unknown actor"
        } else {
            d["actor"].as_str()
        };
        let _ = writeln!(
            out,
            "  {} {}/{}{service} in {}: {} by {actor}",
            d["at"], d["project"], d["flag_key"], d["environment"], d["kind"]
        );
    }
    Ok(out)
}

/// `repo#number` into its parts.
pub fn parse_change(id: &str) -> Result<(String, i64)> {
    id.rsplit_once('#')
        .and_then(|(repo, n)| Some((repo.to_string(), n.parse::<i64>().ok()?)))
        .filter(|(repo, _)| !repo.is_empty())
        .ok_or_else(|| {
            Error::usage(
                "<change>",
                format!("`{id}` is not <repo>#<number>, e.g. acme/api#42"),
            )
        })
}

/// The explanation of one change (`repo#number`), as text: its reviews and
/// four-eyes verdict, then the commits it holds and where each row came
/// from.
pub async fn change(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let mut out = change_reviews(engine, base, id).await?;
    let (repo, number) = parse_change(id)?;
    out.push_str(&change_sources(engine, &repo, &number.to_string()).await?);
    Ok(out)
}

/// A change's reviews and four-eyes verdict.
async fn change_reviews(engine: &Engine, base: &MetricsOptions, id: &str) -> Result<String> {
    let (repo, number) = parse_change(id)?;
    let file = &queries::EXPLAIN_CHANGE;
    let params = HashMap::from([
        ("repo", queries::string_literal(&repo)),
        ("number", number.to_string()),
    ]);
    let statements = statements_with(file, &params, 4)?;
    let batches = engine.bundled_statement(file, &statements[0]).await?.1;
    let Some(c) = rows(&batches).into_iter().next() else {
        return Err(Error::usage(
            "<change>",
            format!(
                "no change `{id}` in the warehouse; list them with `doralens sql \"SELECT repo, \
                 number FROM changes\"`"
            ),
        ));
    };
    // The first shipping deployment may lie anywhere in history.
    let mut opts = base.clone();
    opts.from = Timestamp::EPOCH;
    opts.to = Timestamp::now() + Span::days(366 * 50);
    opts.interval = None;
    opts.group = None;
    metrics::register_views(engine, &opts).await?;
    let results = engine.run_statements(file, &statements[1..]).await?;
    let [reviews, verdict, shipped] = &results[..] else {
        unreachable!("statements_with checked the count");
    };
    let mut out = String::new();
    let author = if c["author"].is_empty() {
        "unknown author".to_string()
    } else {
        format!("by {}", c["author"])
    };
    let _ = writeln!(
        out,
        "change {id}: {} ({author}), opened {}, {}",
        c["title"],
        c["created_at"],
        if c["merged_at"].is_empty() {
            "not merged".to_string()
        } else {
            format!("merged {} as {}", c["merged_at"], c["merge_sha"])
        }
    );
    let reviews = rows(reviews);
    let _ = writeln!(out, "\n{} review(s):", reviews.len());
    for r in &reviews {
        let why = match r["verdict"].as_str() {
            "approval" => "counts: an approval by someone else before the merge".to_string(),
            "" => "the change is not merged".to_string(),
            "by a bot" => format!(
                "does not count: {} is a bot (bot logins: {})",
                r["reviewer"],
                if base.bots.globs.is_empty() {
                    "none".to_string()
                } else {
                    base.bots.globs.join(", ")
                }
            ),
            "author unknown" => {
                "does not count: the change's author is unknown, so nobody can tell it was \
                 someone else"
                    .to_string()
            }
            "commented" | "changes_requested" => "not an approval".to_string(),
            other => format!("does not count: {other}"),
        };
        let _ = writeln!(
            out,
            "  {} {} {}  {why}",
            r["submitted_at"], r["reviewer"], r["state"]
        );
    }
    if c["merged_at"].is_empty() {
        return Ok(out);
    }
    if let Some(v) = rows(verdict).first() {
        if v["four_eyes"] == "true" {
            let _ = writeln!(
                out,
                "Four-eyes: yes (last approval {}, {} before the merge).",
                v["last_approval_at"],
                duration(&v["approval_to_merge_s"])
            );
        } else {
            let _ = writeln!(
                out,
                "Four-eyes: NO, no second pair of eyes ({}).",
                v["reason"]
            );
        }
        if v["first_review_at"].is_empty() {
            let _ = writeln!(out, "First review by someone else before the merge: none.");
        } else {
            let _ = writeln!(
                out,
                "First review by someone else: {} ({} after opening).",
                v["first_review_at"],
                duration(&v["time_to_first_review_s"])
            );
        }
    }
    let shipped = rows(shipped);
    match shipped.first() {
        None => {
            let _ = writeln!(
                out,
                "Not in production yet: no production deployment shipped {}, so no review metric \
                 counts it.",
                c["merge_sha"]
            );
        }
        Some(d) if d["baseline"] == "true" => {
            let _ = writeln!(
                out,
                "Shipped by {} ({}, {}), the service's first known deployment (baseline): left \
                 out of the review metrics, as of lead time.",
                d["deployment_id"], d["service"], d["finished_at"]
            );
        }
        Some(d) => {
            let _ = writeln!(
                out,
                "Reached production with {} ({}, finished {}): it counts in that deployment's \
                 groups and bucket.",
                d["deployment_id"], d["service"], d["finished_at"]
            );
        }
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

/// Where a change's row came from, the commits it holds and its reviews,
/// and where each of those came from.
async fn change_sources(engine: &Engine, repo: &str, number: &str) -> Result<String> {
    use queries::string_literal as lit;
    let mut out = String::new();
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
    let filter = format!(
        "repo = {} AND CAST(number AS VARCHAR) = {}",
        lit(repo),
        lit(number)
    );
    let reviews = provenance::each(
        engine,
        Table::Reviews,
        &filter,
        &["reviewer", "state", "submitted_at"],
        "submitted_at, reviewer",
    )
    .await?;
    if !reviews.is_empty() {
        let _ = writeln!(out, "Its reviews came from:");
        out.push_str(&reviews);
    }
    Ok(out)
}
