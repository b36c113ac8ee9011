//! User files and pushed JSON: `doralens import` reads CSV and NDJSON
//! ([`csv_reader`], [`ndjson_reader`]) behind [`RecordReader`]; the push
//! endpoint's bodies are NDJSON lines' objects. Every row is validated by
//! [`validate::RowBuilder`] before anything is written.

pub mod csv_reader;
pub mod ndjson_reader;
pub mod validate;

use std::path::Path;

use datafusion::arrow::array::RecordBatch;

use crate::error::{Error, Result};
use crate::store::schema::Table;
use crate::store::warehouse::{UpsertReport, Warehouse};
use validate::RowBuilder;

/// A file format that yields rows for a canonical table.
pub trait RecordReader {
    fn read(&self, path: &Path, rows: &mut RowBuilder) -> Result<()>;
}

/// Picks the reader for a file by its extension.
pub fn reader_for(path: &Path) -> Result<Box<dyn RecordReader>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => Ok(Box::new(csv_reader::CsvReader)),
        Some("ndjson") | Some("jsonl") => Ok(Box::new(ndjson_reader::NdjsonReader)),
        _ => Err(Error::InputFile {
            file: path.to_path_buf(),
            message: "unknown file type: name it .csv, .ndjson or .jsonl".into(),
        }),
    }
}

/// Parses and validates one file completely.
pub fn read_file(table: Table, path: &Path) -> Result<RecordBatch> {
    let reader = reader_for(path)?;
    if !path.exists() {
        return Err(Error::InputFile {
            file: path.to_path_buf(),
            message: "no such file".into(),
        });
    }
    let mut rows = RowBuilder::new(table, path);
    reader.read(path, &mut rows)?;
    rows.finish()
}

/// Parses and validates a JSON request body (one object, or an array of
/// objects, each shaped like an NDJSON import line) for `table`. Errors are
/// `Error::Input` with `line` the item's 1-based position.
///
/// Each row's `_origin` is `POST /api/v1/<table> item <n>`.
pub fn read_json_body(table: Table, body: &str) -> Result<RecordBatch> {
    use serde_json::Value;
    let origin = Path::new("request body");
    let mut rows = RowBuilder::new(table, origin).origins(format!("POST /api/v1/{table}"));
    let items = match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(object @ Value::Object(_)) => vec![object],
        Ok(_) => {
            return Err(rows.error(1, "*", "expected a JSON object or an array of objects"));
        }
        Err(e) => return Err(rows.error(e.line(), "*", format!("invalid JSON: {e}"))),
    };
    let mut values = vec![validate::RawValue::Null; table.columns().len()];
    for (i, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(rows.error(i + 1, "*", "expected a JSON object"));
        };
        ndjson_reader::push_object(&mut rows, i + 1, object, &mut values)?;
    }
    rows.finish()
}

/// Imports files into one table: all files are validated first, then
/// written in one upsert, so a rejected import changes nothing. A key that
/// appears in two files is taken from the later file.
pub fn import_files(warehouse: &Warehouse, table: Table, paths: &[&Path]) -> Result<UpsertReport> {
    let mut batches = Vec::with_capacity(paths.len());
    for path in paths {
        batches.push(read_file(table, path)?);
    }
    // Each file alone has already been checked for duplicates.
    let merged = if batches.len() < 2 {
        batches
    } else {
        super::keep_last_per_key(table, batches)?
    };
    warehouse.upsert(table, &merged)
}
