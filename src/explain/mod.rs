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

use datafusion::arrow::array::RecordBatch;

use crate::base::time::{Span, Timestamp};
use crate::engine::{Engine, queries};
use crate::error::{Error, Result};
use crate::metrics::{self, MetricsOptions};

mod change;
mod deployment;
mod flag_changes;
mod incident;
mod provenance;

pub use change::{change, parse_change};
pub use deployment::deployment;
pub use flag_changes::flag_changes;
pub use incident::incident;

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

/// Runs `statements` over views registered for the whole of history, as
/// one organisation (a link or a first shipping deployment may lie
/// anywhere in it).
async fn over_all_history(
    engine: &Engine,
    base: &MetricsOptions,
    file: &queries::QueryFile,
    statements: &[String],
) -> Result<Vec<Vec<RecordBatch>>> {
    let mut opts = base.clone();
    opts.from = Timestamp::EPOCH;
    opts.to = Timestamp::now() + Span::days(366 * 50);
    opts.interval = None;
    opts.group = None;
    metrics::register_views(engine, &opts).await?;
    engine.run_statements(file, statements).await
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
