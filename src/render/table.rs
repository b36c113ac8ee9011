//! A readable table for terminals: durations as `3.2h`, rates as `12.5%`.
//! The machine formats (json, csv, parquet) keep raw seconds and fractions.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;

use super::Exporter;
use crate::error::{Error, Result};

pub struct TableExporter;

impl Exporter for TableExporter {
    fn write(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        out: &mut dyn Write,
    ) -> Result<()> {
        let io = |e| Error::io("cannot write", "<output>", e);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return writeln!(out, "(no rows; columns: {})", names.join(", ")).map_err(io);
        }
        let readable: Vec<RecordBatch> = batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(humanise)
            .collect::<Result<_>>()?;
        writeln!(out, "{}", pretty_format_batches(&readable)?).map_err(io)
    }
}

fn humanise(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let options = FormatOptions::default().with_null("");
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name();
        let text: StringArray = if column.data_type() == &DataType::Float64 {
            let v = column.as_primitive::<Float64Type>();
            (0..v.len())
                .map(|i| v.is_valid(i).then(|| format_float(name, v.value(i))))
                .collect()
        } else {
            let f = ArrayFormatter::try_new(column.as_ref(), &options)?;
            (0..column.len())
                .map(|i| column.is_valid(i).then(|| f.value(i).to_string()))
                .collect()
        };
        fields.push(Field::new(name, DataType::Utf8, true));
        columns.push(Arc::new(text));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn format_float(column: &str, v: f64) -> String {
    if column.ends_with("_s") {
        format_duration(v)
    } else if column.ends_with("_rate") {
        format!("{:.1}%", v * 100.0)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `45s`, `12.5m`, `3.2h`, `4.1d`.
pub fn format_duration(seconds: f64) -> String {
    let (value, unit) = if seconds < 60.0 {
        (seconds, "s")
    } else if seconds < 3600.0 {
        (seconds / 60.0, "m")
    } else if seconds < 86400.0 {
        (seconds / 3600.0, "h")
    } else {
        (seconds / 86400.0, "d")
    };
    let s = format!("{value:.1}");
    format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
}

/// Metric rows for people (`--format table` of `metrics` and `demo`), from
/// the metric catalogue's titles and units:
/// - one row of output (one group, no intervals): one metric per line,
///   with its level and 95% interval;
/// - several rows: the group and bucket, then `columns` (default: the five
///   headline metrics), each value followed by its level.
///
/// The machine formats (json, csv, parquet) are unaffected.
pub fn metrics_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    columns: Option<&[String]>,
) -> Result<String> {
    use crate::metrics::catalogue::{self, METRICS};
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows == 0 {
        return Ok("(no rows: no production deployment or incident in the window)\n".into());
    }
    let group = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .find(|n| matches!(*n, "team" | "service" | "repo"));
    let bucketed = schema.index_of("interval_start").is_ok();
    let cell = |batch: &RecordBatch, column: &str, row: usize| -> Option<f64> {
        let i = batch.schema().index_of(column).ok()?;
        let a = batch.column(i);
        if a.is_null(row) {
            return None;
        }
        match a.data_type() {
            DataType::Float64 => Some(a.as_primitive::<Float64Type>().value(row)),
            DataType::Int64 => Some(
                a.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(row) as f64,
            ),
            _ => None,
        }
    };
    let text = |batch: &RecordBatch, column: &str, row: usize| -> Option<String> {
        let i = batch.schema().index_of(column).ok()?;
        let a = batch.column(i);
        if a.is_null(row) {
            return None;
        }
        let f = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()).ok()?;
        Some(f.value(row).to_string())
    };
    let mut out = String::new();
    if rows == 1 && group.is_none() && !bucketed {
        let batch = batches.iter().find(|b| b.num_rows() > 0).expect("one row");
        let mut lines = vec![[
            "Metric".to_string(),
            "Value".to_string(),
            "Level".to_string(),
            "95% interval".to_string(),
        ]];
        for m in METRICS {
            let value = cell(batch, m.column, 0);
            let level = m.level.and_then(|l| text(batch, l, 0)).unwrap_or_default();
            let range = m
                .interval
                .and_then(|(lo, hi)| Some((cell(batch, lo, 0)?, cell(batch, hi, 0)?)))
                .map(|(lo, hi)| {
                    format!(
                        "{} to {}",
                        format_value(m.unit, lo),
                        format_value(m.unit, hi)
                    )
                })
                .unwrap_or_default();
            lines.push([
                m.title.to_string(),
                value.map_or("–".into(), |v| format_value(m.unit, v)),
                level,
                range,
            ]);
        }
        write_aligned(&mut out, &lines, &[false, true, false, false]);
        return Ok(out);
    }
    let chosen: Vec<&catalogue::Metric> = match columns {
        Some(names) => names
            .iter()
            .map(|n| {
                catalogue::by_column(n).ok_or_else(|| {
                    Error::usage(
                        "--columns",
                        format!(
                            "unknown column `{n}`; valid: {}",
                            METRICS
                                .iter()
                                .map(|m| m.column)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?,
        None => METRICS.iter().filter(|m| m.headline).collect(),
    };
    let mut header = Vec::new();
    let mut right = Vec::new();
    if let Some(g) = group {
        header.push(g.to_string());
        right.push(false);
    }
    if bucketed {
        header.push("from".to_string());
        right.push(false);
    }
    for m in &chosen {
        header.push(m.short.to_string());
        right.push(true);
    }
    let mut lines = vec![header];
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut line = Vec::new();
            if let Some(g) = group {
                let name = text(batch, g, row).unwrap_or_default();
                line.push(if name.chars().count() > 20 {
                    format!("{}…", name.chars().take(19).collect::<String>())
                } else {
                    name
                });
            }
            if bucketed {
                line.push(
                    text(batch, "interval_start", row)
                        .map(|t| t.chars().take(10).collect())
                        .unwrap_or_default(),
                );
            }
            for m in &chosen {
                let value =
                    cell(batch, m.column, row).map_or("–".into(), |v| format_value(m.unit, v));
                let level = m.level.and_then(|l| text(batch, l, row));
                line.push(match level {
                    Some(l) => format!("{value} {l}"),
                    None => value,
                });
            }
            lines.push(line);
        }
    }
    write_aligned(&mut out, &lines, &right);
    Ok(out)
}

/// A value in its unit, for people.
pub fn format_value(unit: crate::metrics::catalogue::Unit, v: f64) -> String {
    use crate::metrics::catalogue::Unit;
    match unit {
        Unit::Count => format!("{}", v as i64),
        Unit::PerDay => format!("{v:.2}/d"),
        Unit::Seconds => format_duration(v),
        Unit::Ratio => format!("{:.1}%", v * 100.0),
        Unit::Number => format_number(v),
    }
}

/// A plain quantity: whole numbers as they are, others to one decimal
/// (`12`, `2.5`).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Columns separated by two spaces, padded to their widest cell; `right`
/// aligns numbers; a rule under the header.
fn write_aligned<R: AsRef<[String]>>(out: &mut String, lines: &[R], right: &[bool]) {
    use std::fmt::Write as _;
    let n = lines.first().map_or(0, |l| l.as_ref().len());
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            lines
                .iter()
                .map(|l| l.as_ref()[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (k, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .as_ref()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                if right.get(i).copied().unwrap_or(false) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if k == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * n.saturating_sub(1);
            let _ = writeln!(out, "{}", "─".repeat(total));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(45.0), "45s");
        assert_eq!(format_duration(90.0), "1.5m");
        assert_eq!(format_duration(3600.0 * 3.25), "3.2h");
        assert_eq!(format_duration(86400.0 * 2.0), "2d");
    }
}
