//! The window's slowest commits with the change that brought each: the
//! dashboard's `/api/v1/changes/slowest` and the weekly report's list
//! (`queries/slowest_changes.sql`, two statements).

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, TimestampMicrosecondType};

use crate::base::time::Timestamp;
use crate::engine::Engine;
use crate::engine::queries::{self, string_literal, timestamp_literal};
use crate::error::{Error, Result};

/// The window's slowest commits and the change that brought each
/// (`queries/slowest_changes.sql`, over the views [`super::register_views`] put in
/// place): its first statement finds them, its second names them with the
/// first one's rows as literals. `params` gives `limit` (and whatever else
/// the caller's other lists share).
pub async fn slowest_changes(
    engine: &Engine,
    params: &HashMap<&str, String>,
) -> Result<Vec<RecordBatch>> {
    let file = &queries::SLOWEST_CHANGES;
    let mut params = params.clone();
    for name in ["slow", "slow_repos", "slow_shas"] {
        params.insert(name, "NULL".into());
    }
    let first = queries::bundled_statement_list(file, &params)?;
    let (_, slow) = engine.bundled_statement(file, &first[0]).await?;
    let (rows, repos, shas) = slow_literals(&slow).map_err(|message| Error::BundledQuery {
        file: file.path,
        message,
    })?;
    params.insert("slow", rows);
    params.insert("slow_repos", repos);
    params.insert("slow_shas", shas);
    let second = queries::bundled_statement_list(file, &params)?;
    Ok(engine.bundled_statement(file, &second[1]).await?.1)
}

/// The slow commits as SQL literals: the VALUES rows (typed, so that one
/// row of NULLs stands for none), and their repositories and shas as
/// literal lists (NULL, which matches nothing, when empty).
fn slow_literals(batches: &[RecordBatch]) -> std::result::Result<(String, String, String), String> {
    let mut rows = Vec::new();
    let mut repos = BTreeSet::new();
    let mut shas = BTreeSet::new();
    for b in batches {
        let text = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| format!("the slow commits have no text column `{name}`"))
        };
        let (repo, sha, deployment) = (text("repo")?, text("sha")?, text("deployment_id")?);
        let deployed = b
            .column_by_name("deployed_at")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or("the slow commits have no timestamp `deployed_at`")?;
        let lead = b
            .column_by_name("lead_time_s")
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or("the slow commits have no number `lead_time_s`")?;
        for r in 0..b.num_rows() {
            let (repo, sha) = (string_literal(repo.value(r)), string_literal(sha.value(r)));
            rows.push(format!(
                "(CAST({repo} AS VARCHAR), CAST({sha} AS VARCHAR), CAST({} AS VARCHAR), {}, CAST('{:?}' AS DOUBLE))",
                string_literal(deployment.value(r)),
                timestamp_literal(Timestamp::from_micros(deployed.value(r))),
                lead.value(r)
            ));
            repos.insert(repo);
            shas.insert(sha);
        }
    }
    if rows.is_empty() {
        rows.push(
            "(CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), \
             arrow_cast(NULL, 'Timestamp(Microsecond, Some(\"UTC\"))'), CAST(NULL AS DOUBLE))"
                .to_string(),
        );
    }
    let list = |set: BTreeSet<String>| {
        if set.is_empty() {
            "NULL".to_string()
        } else {
            set.into_iter().collect::<Vec<_>>().join(", ")
        }
    };
    Ok((rows.join(", "), list(repos), list(shas)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::{Span, parse_instant};
    use crate::metrics::{MetricsOptions, register_views};

    /// Regression (the dashboard's 1.4 s slowest-changes list): the two
    /// statements name the same commits and changes as the one join they
    /// replaced, kept here as the reference: every window and limit, a
    /// team's scope, and a window with no deployment at all.
    #[tokio::test]
    async fn slowest_changes_in_two_steps_equal_the_one_join() {
        let end = parse_instant("end", "2026-11-02").unwrap();
        let (_dir, engine) =
            crate::engine::generated_engine(&crate::ingest::synthetic::GeneratorConfig {
                seed: 11,
                teams: 3,
                days: 90,
                scale: 1.0,
                end,
                incident_rate: 1.0,
            })
            .await;
        let reference = queries::QueryFile {
            path: "the one join (test)",
            sql: include_str!("slowest_changes_one_join.sql"),
        };
        let (_, teams) = engine
            .sql("SELECT min(team) AS team FROM teams")
            .await
            .unwrap();
        let team = teams[0].column(0).as_string::<i32>().value(0).to_string();
        let mut named = 0;
        for (days_back, days, limit, scoped) in [
            (90, 90, 20, false),
            (30, 7, 5, false),
            (60, 30, 500, true),
            (90, 90, 100_000, false),
            (200, 10, 20, false), // before the first deployment
        ] {
            let mut opts = MetricsOptions::defaults(end);
            opts.from = end - Span::days(days_back);
            opts.to = opts.from + Span::days(days);
            if scoped {
                opts.scope.teams = vec![team.clone()];
            }
            let session = engine.fork(None).unwrap();
            register_views(&session, &opts).await.unwrap();
            let params = HashMap::from([("limit", limit.to_string())]);
            let two = slowest_changes(&session, &params).await.unwrap();
            let (_, one) = session.bundled(&reference, &params).await.unwrap();
            let shown = |b: &[RecordBatch]| {
                datafusion::arrow::util::pretty::pretty_format_batches(b)
                    .unwrap()
                    .to_string()
            };
            assert_eq!(shown(&two), shown(&one), "{days_back} days back, {days}");
            let rows: usize = two.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(rows == 0, days_back == 200, "{days_back} days back: {rows}");
            named += two
                .iter()
                .map(|b| b.num_rows() - b.column_by_name("number").unwrap().null_count())
                .sum::<usize>();
        }
        assert!(named > 0, "some slow commits name their change");
    }
}
