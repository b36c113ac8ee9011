//! The provenance section of `explain`: where a row came from (its
//! `_source`, `_scope`, `_fetched_at`, `_sync` and `_origin` columns, see
//! `store::provenance`) and the `syncs` row of the run that wrote it.
//!
//! Generic over the canonical tables: a table and its key values are all it
//! needs, so a table added to `store::schema` is explained with no work.

use std::fmt::Write as _;

use crate::engine::{Engine, queries::string_literal};
use crate::error::Result;
use crate::store::schema::Table;

/// The "Provenance:" section for the row of `table` whose key columns have
/// `key` values (in [`Table::key`] order), or one line saying it has none.
pub async fn section(engine: &Engine, table: Table, key: &[&str]) -> Result<String> {
    let filter = table
        .key()
        .iter()
        .zip(key)
        .map(|(column, value)| format!("CAST({column} AS VARCHAR) = {}", string_literal(value)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let batches = engine
        .sql(&format!(
            "SELECT _source, _scope, _fetched_at, _sync, _origin FROM {table} WHERE {filter} \
             LIMIT 1"
        ))
        .await?
        .1;
    match super::rows(&batches).into_iter().next() {
        Some(row) => describe(engine, &row).await,
        None => Ok(String::new()),
    }
}

/// Each row of `table` matching the SQL `filter` (in `order`), named by its
/// `label` columns, with its "Provenance:" section indented below it: the
/// reviews of a change, whose keys hold a timestamp.
pub async fn each(
    engine: &Engine,
    table: Table,
    filter: &str,
    label: &[&str],
    order: &str,
) -> Result<String> {
    let batches = engine
        .sql(&format!(
            "SELECT {}, _source, _scope, _fetched_at, _sync, _origin FROM {table} \
             WHERE {filter} ORDER BY {order}",
            label.join(", ")
        ))
        .await?
        .1;
    let mut out = String::new();
    for row in super::rows(&batches) {
        let name: Vec<&str> = label.iter().map(|c| row[*c].as_str()).collect();
        let _ = writeln!(out, "  {}", name.join(" "));
        for line in describe(engine, &row).await?.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    Ok(out)
}

/// A row's provenance columns and its run's `syncs` row, in words.
async fn describe(
    engine: &Engine,
    row: &std::collections::HashMap<String, String>,
) -> Result<String> {
    let mut out = String::new();
    if row["_source"].is_empty() {
        let _ = writeln!(
            out,
            "Provenance: not recorded (the row was written before doralens recorded provenance)."
        );
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "Provenance: {} {}, fetched {}, sync {}",
        row["_source"], row["_scope"], row["_fetched_at"], row["_sync"]
    );
    if !row["_origin"].is_empty() {
        let _ = writeln!(out, "  from: {}", row["_origin"]);
    }
    let sync = engine
        .sql(&format!(
            "SELECT source, started_at, finished_at, \"rows\", outcome, message FROM syncs \
             WHERE id = {}",
            string_literal(&row["_sync"])
        ))
        .await?
        .1;
    match super::rows(&sync).into_iter().next() {
        Some(s) => {
            let _ = writeln!(
                out,
                "  run: {} from {} to {}, {} row(s) upserted, {}{}",
                s["source"],
                s["started_at"],
                s["finished_at"],
                s["rows"],
                s["outcome"],
                if s["message"].is_empty() {
                    String::new()
                } else {
                    format!(": {}", s["message"])
                }
            );
        }
        None => {
            let _ = writeln!(out, "  run: no `syncs` row (the run did not finish)");
        }
    }
    Ok(out)
}
