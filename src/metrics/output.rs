//! The metrics rows' columns, derived from the metric catalogue: the group
//! and bucket, then the [`Part::Main`] metrics, their levels (under a scored
//! benchmark, dora-2025, followed by the score columns of
//! [`super::scores`]), the 95%
//! intervals (Wilson first, then the SQL's), the [`Part::Links`]
//! counts and the [`Part::Governance`] metrics (each with its interval). `queries/metrics.sql` must return exactly the catalogued columns
//! it is asked for: an extra or a missing column is an error, never
//! silently dropped.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimestampMicrosecondType,
};

use super::catalogue::{self, METRICS, Method, Part};
use super::{MetricsOptions, scores, stats};
use crate::error::{Error, Result};
use crate::store::schema::timestamp_type;

/// The output schema for these options (also when there are no rows, so
/// CSV still gets a header).
pub fn schema(opts: &MetricsOptions) -> SchemaRef {
    let mut fields = Vec::new();
    if let Some(g) = opts.group {
        fields.push(Field::new(g.column(), DataType::Utf8, false));
    }
    if opts.interval.is_some() {
        fields.push(Field::new("interval_start", timestamp_type(), false));
    }
    let typed = |m: &catalogue::Metric| {
        let (t, nullable) = m.unit.arrow_type();
        Field::new(m.column, t, nullable)
    };
    fields.extend(catalogue::part(Part::Main).map(typed));
    for (_, level) in catalogue::levelled() {
        fields.push(Field::new(level, DataType::Utf8, true));
    }
    if opts.benchmark.scored() {
        for name in scores::columns() {
            fields.push(Field::new(name, DataType::Float64, true));
        }
    }
    for name in catalogue::interval_columns() {
        fields.push(Field::new(name, DataType::Float64, true));
    }
    fields.extend(catalogue::part(Part::Links).map(typed));
    for (m, name) in catalogue::governance_columns() {
        if name == m.column {
            fields.push(typed(m));
        } else {
            fields.push(Field::new(name, DataType::Float64, true));
        }
    }
    Arc::new(Schema::new(fields))
}

/// The columns `queries/metrics.sql` returns besides `grp` and
/// `interval_start`: every metric, and the intervals the SQL computes.
fn sql_columns() -> impl Iterator<Item = &'static str> {
    let sql_bounds = catalogue::with_intervals()
        .filter(|m| m.interval_method == Method::Sql)
        .filter_map(|m| m.interval)
        .flat_map(|(low, high)| [low, high]);
    let governance = catalogue::governance_columns()
        .map(|(_, name)| name)
        .filter(|name| !METRICS.iter().any(|m| m.column == *name));
    METRICS
        .iter()
        .map(|m| m.column)
        .chain(sql_bounds)
        .chain(governance)
}

/// An error when the SQL's columns are not the catalogue's.
fn check_sql_columns(schema: &Schema) -> Result<()> {
    let bad = |message: String| Error::BundledQuery {
        file: "metrics.sql",
        message,
    };
    for field in schema.fields() {
        let name = field.name().as_str();
        if !matches!(name, "grp" | "interval_start") && !sql_columns().any(|c| c == name) {
            return Err(bad(format!(
                "returns `{name}`, which the metric catalogue (src/metrics/catalogue.rs) lacks"
            )));
        }
    }
    for name in sql_columns() {
        if schema.index_of(name).is_err() {
            return Err(bad(format!(
                "does not return `{name}`, which the metric catalogue lists"
            )));
        }
    }
    Ok(())
}

/// Renames or drops the group column, drops `interval_start` for
/// whole-window rows, types the metrics by their unit, and adds the level
/// and interval columns, in [`schema`]'s order.
pub fn shape(batches: &[RecordBatch], opts: &MetricsOptions) -> Result<MetricsTable> {
    let schema = self::schema(opts);
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        check_sql_columns(&batch.schema())?;
        let column = |name: &str| -> Result<ArrayRef> {
            Ok(batch.column(batch.schema().index_of(name)?).clone())
        };
        let typed = |m: &catalogue::Metric| -> Result<ArrayRef> {
            Ok(cast(&column(m.column)?, &m.unit.arrow_type().0)?)
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        if opts.group.is_some() {
            columns.push(column("grp")?);
        }
        if opts.interval.is_some() {
            columns.push(column("interval_start")?);
        }
        for m in catalogue::part(Part::Main) {
            columns.push(typed(m)?);
        }
        for (metric, _) in catalogue::levelled() {
            let values = cast(&column(metric)?, &DataType::Float64)?;
            let values = values.as_primitive::<Float64Type>();
            let levels: StringArray = (0..values.len())
                .map(|r| {
                    let v = values.is_valid(r).then(|| values.value(r));
                    opts.benchmark.level(metric, v)
                })
                .collect();
            columns.push(Arc::new(levels));
        }
        if opts.benchmark.scored() {
            let mut values = Vec::new();
            for (metric, _) in catalogue::scored() {
                let v = cast(&column(metric)?, &DataType::Float64)?;
                values.push((metric, v));
            }
            let rows: Vec<Vec<Option<f64>>> = (0..batch.num_rows())
                .map(|r| {
                    scores::row(&opts.benchmark, |metric| {
                        let (_, v) = values.iter().find(|(m, _)| *m == metric)?;
                        let v = v.as_primitive::<Float64Type>();
                        v.is_valid(r).then(|| v.value(r))
                    })
                })
                .collect();
            for i in 0..scores::columns().count() {
                let column: Float64Array = rows.iter().map(|row| row[i]).collect();
                columns.push(Arc::new(column));
            }
        }
        for m in catalogue::with_intervals() {
            let Some((low, high)) = m.interval else {
                continue;
            };
            match m.interval_method {
                Method::Wilson { successes, trials } => {
                    let (x, n) = (counts(&column(successes)?)?, counts(&column(trials)?)?);
                    let bounds: Vec<Option<(f64, f64)>> = x
                        .iter()
                        .zip(&n)
                        .map(|(x, n)| stats::wilson(*x, *n))
                        .collect();
                    let low: Float64Array = bounds.iter().map(|b| b.map(|b| b.0)).collect();
                    let high: Float64Array = bounds.iter().map(|b| b.map(|b| b.1)).collect();
                    columns.push(Arc::new(low));
                    columns.push(Arc::new(high));
                }
                Method::Sql => {
                    for name in [low, high] {
                        columns.push(cast(&column(name)?, &DataType::Float64)?);
                    }
                }
            }
        }
        for m in catalogue::part(Part::Links) {
            columns.push(typed(m)?);
        }
        for (m, name) in catalogue::governance_columns() {
            if name == m.column {
                columns.push(typed(m)?);
            } else {
                columns.push(cast(&column(name)?, &DataType::Float64)?);
            }
        }
        out.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok(MetricsTable {
        schema,
        batches: out,
    })
}

/// A count column as non-negative integers (null as 0).
fn counts(column: &ArrayRef) -> Result<Vec<u64>> {
    let c = cast(column, &DataType::Int64)?;
    Ok(c.as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.unwrap_or(0).max(0) as u64)
        .collect())
}

/// The docs/metrics.md section 6 table.
pub struct MetricsTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl MetricsTable {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// A numeric column, row by row (counts and statistics alike); all
    /// nulls when the column is absent.
    pub fn floats(&self, name: &str) -> Vec<Option<f64>> {
        use datafusion::arrow::datatypes::{Float64Type, Int64Type};
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            let Ok(i) = batch.schema().index_of(name) else {
                out.extend(std::iter::repeat_n(None, batch.num_rows()));
                continue;
            };
            let column = batch.column(i);
            for r in 0..batch.num_rows() {
                out.push(column.is_valid(r).then(|| match column.data_type() {
                    DataType::Int64 => column.as_primitive::<Int64Type>().value(r) as f64,
                    _ => column.as_primitive::<Float64Type>().value(r),
                }));
            }
        }
        out
    }

    /// A text column (the group), row by row.
    pub fn strings(&self, name: &str) -> Vec<String> {
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            match batch.schema().index_of(name) {
                Ok(i) => {
                    let c = batch.column(i).as_string::<i32>();
                    out.extend((0..batch.num_rows()).map(|r| c.value(r).to_string()));
                }
                Err(_) => out.extend(std::iter::repeat_n(String::new(), batch.num_rows())),
            }
        }
        out
    }

    /// `interval_start`, row by row (µs; 0 without --interval).
    pub fn starts(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            match batch.schema().index_of("interval_start") {
                Ok(i) => {
                    let c = batch.column(i).as_primitive::<TimestampMicrosecondType>();
                    out.extend(c.values().iter().copied());
                }
                Err(_) => out.extend(std::iter::repeat_n(0, batch.num_rows())),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_schema(extra: Option<&'static str>, without: Option<&str>) -> Schema {
        let names = ["grp", "interval_start"]
            .into_iter()
            .chain(sql_columns())
            .chain(extra)
            .filter(|n| Some(*n) != without);
        Schema::new(
            names
                .map(|n| Field::new(n, DataType::Float64, true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_sql_column_the_catalogue_lacks_is_an_error_not_dropped() {
        assert!(check_sql_columns(&sql_schema(None, None)).is_ok());
        let extra = check_sql_columns(&sql_schema(Some("mean_time_to_coffee"), None));
        assert!(
            extra
                .unwrap_err()
                .to_string()
                .contains("mean_time_to_coffee")
        );
        let missing = check_sql_columns(&sql_schema(None, Some("rework_rate")));
        assert!(missing.unwrap_err().to_string().contains("rework_rate"));
        // The Wilson intervals are computed here, not in the SQL.
        assert!(check_sql_columns(&sql_schema(Some("rework_rate_low"), None)).is_err());
    }
}
