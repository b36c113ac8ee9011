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
            writer.write(&join_lists(b)?)?;
        }
        Ok(())
    }
}

/// CSV has no lists: list cells become `;`-joined text, the form
/// `doralens import` reads back.
fn join_lists(batch: &RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use std::sync::Arc;
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !matches!(field.data_type(), DataType::List(_)) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let lists = column.as_list::<i32>();
        let joined: StringArray = (0..lists.len())
            .map(|i| -> Result<Option<String>> {
                if lists.is_null(i) {
                    return Ok(None);
                }
                let items = lists.value(i);
                let f = ArrayFormatter::try_new(items.as_ref(), &FormatOptions::default())?;
                Ok(Some(
                    (0..items.len())
                        .map(|j| f.value(j).to_string())
                        .collect::<Vec<_>>()
                        .join(";"),
                ))
            })
            .collect::<Result<_>>()?;
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(Arc::new(joined));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
