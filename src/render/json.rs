//! JSON: an array of flat objects; numbers as JSON numbers, nulls as null,
//! timestamps as RFC 3339 strings.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::{WriterBuilder, writer::JsonArray};

use super::Exporter;
use crate::error::{Error, Result};

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn write(
        &self,
        _schema: &SchemaRef,
        batches: &[RecordBatch],
        out: &mut dyn Write,
    ) -> Result<()> {
        let io = |e| Error::io("cannot write", "<output>", e);
        if batches.iter().all(|b| b.num_rows() == 0) {
            return out.write_all(b"[]\n").map_err(io);
        }
        let mut writer = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, JsonArray>(&mut *out);
        for b in batches {
            writer.write(b)?;
        }
        writer.finish()?;
        drop(writer);
        out.write_all(b"\n").map_err(io)
    }
}
