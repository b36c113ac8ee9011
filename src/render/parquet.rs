//! Parquet: the result as one Parquet file (binary: needs `--output`).

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;

use super::Exporter;
use crate::error::Result;

pub struct ParquetExporter;

impl Exporter for ParquetExporter {
    fn is_binary(&self) -> bool {
        true
    }

    fn write(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        out: &mut dyn Write,
    ) -> Result<()> {
        let mut buffer = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buffer, schema.clone(), None)?;
        for b in batches {
            writer.write(b)?;
        }
        writer.close()?;
        out.write_all(&buffer)
            .map_err(|e| crate::Error::io("cannot write", "<output>", e))
    }
}
