//! Query and metric results for programs and notebooks. The library's own
//! results are Arrow [`RecordBatch`]es (DataFusion's, zero-copy); with the
//! cargo feature `polars`, [`to_polars`] turns them into a polars
//! `DataFrame`.
//!
//! **Zero-copy where the types allow.** Each Arrow array crosses through
//! the Arrow C Data Interface (arrow-rs exports it, polars-arrow imports
//! it): integers, floats, booleans, timestamps and their null masks keep
//! their buffers. Polars then converts what it stores differently:
//! - `Utf8` strings (i32 offsets) become polars' string views (a copy of
//!   the text: polars has no offset-based string column);
//! - `List<Utf8>` (`parents`, `labels`) becomes a polars `List(String)`
//!   with large (i64) offsets and string views (a copy);
//! - `Timestamp(Microsecond, "UTC")` becomes `Datetime(us, "UTC")`
//!   (zero-copy).

use arrow::ffi::{FFI_ArrowSchema, to_ffi};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use polars::prelude::{Column, DataFrame, PlSmallStr, Series};

use crate::error::{Error, Result};

fn interop_error(column: &str, e: impl std::fmt::Display) -> Error {
    Error::Warehouse {
        path: std::path::PathBuf::from("<polars>"),
        message: format!("column `{column}` cannot be handed to polars: {e}"),
    }
}

/// One Arrow array as a polars array, through the C Data Interface.
fn to_polars_array(name: &str, array: &dyn Array) -> Result<Box<dyn polars_arrow::array::Array>> {
    let (ffi_array, ffi_schema) = to_ffi(&array.to_data()).map_err(|e| interop_error(name, e))?;
    // SAFETY: both structs are the C Data Interface's `ArrowArray` and
    // `ArrowSchema` (repr(C), the same layout in both crates). The schema
    // is only read here and released by arrow-rs when it drops; the
    // array's ownership (its release callback) moves to polars, which
    // releases it when the last polars array over its buffers goes.
    unsafe {
        let schema =
            &*(&ffi_schema as *const FFI_ArrowSchema as *const polars_arrow::ffi::ArrowSchema);
        let field =
            polars_arrow::ffi::import_field_from_c(schema).map_err(|e| interop_error(name, e))?;
        let moved: polars_arrow::ffi::ArrowArray = std::mem::transmute(ffi_array);
        polars_arrow::ffi::import_array_from_c(moved, field.dtype().clone())
            .map_err(|e| interop_error(name, e))
    }
}

/// Batches as one polars DataFrame, column by column (one chunk per batch).
pub fn to_polars(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name();
        let chunks = batches
            .iter()
            .map(|b| to_polars_array(name, b.column(i).as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let series = if chunks.is_empty() {
            let empty = datafusion::arrow::array::new_empty_array(field.data_type());
            Series::from_arrow(
                PlSmallStr::from(name.as_str()),
                to_polars_array(name, &empty)?,
            )
        } else {
            Series::from_arrow_chunks(PlSmallStr::from(name.as_str()), chunks)
        }
        .map_err(|e| interop_error(name, e))?;
        columns.push(series.into());
    }
    let height = batches.iter().map(RecordBatch::num_rows).sum();
    DataFrame::new(height, columns).map_err(|e| interop_error("*", e))
}

impl crate::metrics::MetricsTable {
    /// The metric rows as a polars DataFrame (feature `polars`).
    pub fn to_polars(&self) -> Result<DataFrame> {
        to_polars(&self.schema, &self.batches)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        BooleanArray, Float64Array, Int64Array, ListBuilder, StringArray, StringBuilder,
        TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use polars::prelude::{AnyValue, DataType as PlType, TimeUnit as PlUnit};

    use super::*;

    #[test]
    fn every_column_kind_arrives_with_its_values_and_nulls() {
        let mut lists = ListBuilder::new(StringBuilder::new());
        lists.values().append_value("a");
        lists.values().append_value("b");
        lists.append(true);
        lists.append(true);
        lists.append(false);
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(Float64Array::from(vec![Some(0.5), None, Some(2.0)])),
                Arc::new(StringArray::from(vec![Some("api"), Some("web"), None])),
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![0, 1_000_000, 86_400_000_000])
                        .with_timezone("UTC"),
                ),
                Arc::new(lists.finish()),
            ],
        )
        .unwrap();
        // Two batches: two chunks, rows in order.
        let df = to_polars(&schema, &[batch.clone(), batch]).unwrap();
        assert_eq!(df.shape(), (6, 6));
        let n = df.column("n").unwrap().i64().unwrap();
        assert_eq!(n.get(4), Some(2));
        let x = df.column("x").unwrap().f64().unwrap();
        assert_eq!((x.get(0), x.get(1), x.get(5)), (Some(0.5), None, Some(2.0)));
        let s = df.column("s").unwrap().str().unwrap();
        assert_eq!((s.get(1), s.get(2)), (Some("web"), None));
        let b = df.column("b").unwrap().bool().unwrap();
        assert_eq!((b.get(0), b.get(1)), (Some(true), None));
        let t = df.column("t").unwrap();
        assert!(
            matches!(t.dtype(), PlType::Datetime(PlUnit::Microseconds, Some(tz)) if tz.as_str() == "UTC"),
            "{:?}",
            t.dtype()
        );
        assert!(matches!(
            t.get(2).unwrap(),
            AnyValue::Datetime(86_400_000_000, _, _)
        ));
        let l = df.column("l").unwrap().list().unwrap();
        assert_eq!(l.get_as_series(0).unwrap().len(), 2);
        assert!(l.get_as_series(2).is_none());
    }

    #[test]
    fn no_batches_is_an_empty_frame_with_the_columns() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let df = to_polars(&schema, &[]).unwrap();
        assert_eq!(df.shape(), (0, 1));
    }
}
