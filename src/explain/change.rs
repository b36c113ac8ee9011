//! `explain change <repo#number>`: a change's reviews, its four-eyes
//! verdict and where its rows came from.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::engine::{Engine, queries};
use crate::error::{Error, Result};
use crate::metrics::MetricsOptions;
use crate::store::schema::Table;

use super::{duration, over_all_history, provenance, rows, statements_with};

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
    let results = over_all_history(engine, base, file, &statements[1..]).await?;
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
