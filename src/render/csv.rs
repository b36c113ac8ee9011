//! CSV: a header row, then one line per row; nulls are empty cells.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;

use super::Exporter;
use crate::error::{Error, Result};

pub struct CsvExporter;

impl Exporter for CsvExporter {
    fn write(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        out: &mut dyn Write,
    ) -> Result<()> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            // The arrow writer only writes a header with the first batch.
            let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return writeln!(out, "{}", header.join(","))
                .map_err(|e| Error::io("cannot write", "<output>", e));
        }
        let mut writer = WriterBuilder::new().with_header(true).build(&mut *out);
        for b in batches {
            writer.write(b)?;
        }
        Ok(())
    }
}
