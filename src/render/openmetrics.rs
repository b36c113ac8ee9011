//! OpenMetrics text (`export --format openmetrics`, `serve`'s `/metrics`)
//! for Prometheus scraping.
//!
//! One gauge family per metric, in base units: durations in `_seconds`,
//! rates as `_ratio` in [0, 1], deployment frequency per second
//! (`doralens_deployment_frequency_per_second`; per day × 86 400). The
//! organisation's values carry no label; each team's carry `team`, the one
//! label (teams are few; no sha, service or incident labels, whose
//! cardinality grows without bound). A null statistic (no samples) is left
//! out rather than written as NaN. The text ends with `# EOF`.

use std::fmt::Write as _;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::Result;

/// One labelled set of rows: the organisation (`label` None) or one row
/// per team (`label` Some("team"), the group column of the batches).
pub struct Scope<'a> {
    pub label: Option<&'a str>,
    pub batches: &'a [RecordBatch],
}

fn value(batch: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    let idx = batch.schema().index_of(column).ok()?;
    let array = batch.column(idx);
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row) as f64),
        _ => None,
    }
}

/// Label values escaped per OpenMetrics (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

pub fn render(scopes: &[Scope<'_>]) -> Result<String> {
    let mut out = String::new();
    let families = crate::metrics::catalogue::METRICS
        .iter()
        .filter_map(|m| m.openmetrics.map(|o| (o.family, o.help, m.column, o.scale)));
    for (family, help, column, scale) in families {
        let _ = writeln!(out, "# TYPE {family} gauge");
        if family.ends_with("_seconds") {
            let _ = writeln!(out, "# UNIT {family} seconds");
        } else if family.ends_with("_ratio") {
            let _ = writeln!(out, "# UNIT {family} ratio");
        }
        let _ = writeln!(out, "# HELP {family} {help}");
        for scope in scopes {
            for batch in scope.batches {
                let labels = scope
                    .label
                    .and_then(|l| batch.schema().index_of(l).ok().map(|i| (l, i)));
                for row in 0..batch.num_rows() {
                    let Some(v) = value(batch, column, row) else {
                        continue;
                    };
                    match labels {
                        Some((name, idx)) => {
                            let group = batch.column(idx).as_string::<i32>().value(row);
                            let _ = writeln!(
                                out,
                                "{family}{{{name}=\"{}\"}} {}",
                                escape(group),
                                number(v * scale)
                            );
                        }
                        None => {
                            let _ = writeln!(out, "{family} {}", number(v * scale));
                        }
                    }
                }
            }
        }
    }
    out.push_str("# EOF\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
