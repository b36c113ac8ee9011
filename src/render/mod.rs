//! Output formats for query and metric results, one file per format behind
//! [`Exporter`]. Data goes to the writer given (stdout or a file); nothing
//! here logs.

pub mod csv;
pub mod import_files;
pub mod json;
pub mod metric_chart;
pub mod openmetrics;
pub mod parquet;
pub mod plot;
pub mod svg;
pub mod table;

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Parquet,
}

pub trait Exporter {
    /// True when the output is binary and must not go to a terminal.
    fn is_binary(&self) -> bool {
        false
    }
    fn write(&self, schema: &SchemaRef, batches: &[RecordBatch], out: &mut dyn Write)
    -> Result<()>;
}

pub fn exporter(format: Format) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(table::TableExporter),
        Format::Json => Box::new(json::JsonExporter),
        Format::Csv => Box::new(csv::CsvExporter),
        Format::Parquet => Box::new(parquet::ParquetExporter),
    }
}
