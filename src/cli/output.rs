//! Where results go: stdout or a file written atomically, in the format
//! asked for.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::render::{self, Format};

/// Metric rows; the readable table leaves out the 95% interval columns
/// (JSON, CSV and Parquet keep them).
pub fn emit_metrics(
    format: Format,
    output: Option<&Path>,
    table: &crate::metrics::MetricsTable,
) -> Result<()> {
    emit_metrics_columns(format, output, table, None)
}

/// [`emit_metrics`] with `--columns` for the readable table.
pub fn emit_metrics_columns(
    format: Format,
    output: Option<&Path>,
    table: &crate::metrics::MetricsTable,
    columns: Option<&[String]>,
) -> Result<()> {
    if format != Format::Table {
        return emit(format, output, &table.schema, &table.batches);
    }
    let text = render::table::metrics_table(&table.schema, &table.batches, columns)?;
    match output {
        Some(path) => crate::store::warehouse::atomic_write(path, |f| f.write_all(text.as_bytes())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Writes a result to stdout or, atomically, to a file.
pub fn emit(
    format: Format,
    output: Option<&Path>,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<()> {
    let exporter = render::exporter(format);
    match output {
        Some(path) => {
            let mut result = Ok(());
            crate::store::warehouse::atomic_write(path, |f| {
                let mut w = std::io::BufWriter::new(f);
                result = exporter.write(schema, batches, &mut w);
                w.flush()
            })?;
            result
        }
        None => {
            if exporter.is_binary() {
                return Err(Error::usage(
                    "--format",
                    "parquet output is binary: add --output FILE",
                ));
            }
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            exporter.write(schema, batches, &mut lock)?;
            lock.flush()
                .map_err(|e| Error::io("cannot write", "<stdout>", e))
        }
    }
}
