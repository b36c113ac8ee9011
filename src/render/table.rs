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
