//! NDJSON files (`.ndjson`, `.jsonl`): one JSON object per line, keys are
//! column names; lists are JSON arrays; absent keys and `null` are null.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::RecordReader;
use crate::error::{Error, Result};
use crate::ingest::files::validate::{RawValue, RowBuilder};

pub struct NdjsonReader;

impl RecordReader for NdjsonReader {
    fn read(&self, path: &Path, rows: &mut RowBuilder) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        let table = rows.table();
        let width = table.columns().len();
        let mut values = vec![RawValue::Null; width];
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let lineno = i + 1;
            let line = line.map_err(|e| Error::Input {
                file: path.to_path_buf(),
                line: lineno,
                column: "*".into(),
                message: format!("cannot read line: {e}; save the file as UTF-8"),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let object = match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(o)) => o,
                Ok(_) => {
                    return Err(rows.error(lineno, "*", "expected a JSON object, one per line"));
                }
                Err(e) => {
                    return Err(rows.error(lineno, "*", format!("invalid JSON: {e}")));
                }
            };
            push_object(rows, lineno, &object, &mut values)?;
        }
        Ok(())
    }
}

/// Validates one JSON object as a row of `rows`' table and appends it;
/// `lineno` names it in errors (an NDJSON line, an item of a pushed array).
/// `values` is scratch space, one per column.
pub fn push_object(
    rows: &mut RowBuilder,
    lineno: usize,
    object: &serde_json::Map<String, Value>,
    values: &mut [RawValue],
) -> Result<()> {
    let names: Vec<String> = object.keys().cloned().collect();
    // Required columns may not be absent from any line.
    let mapping = rows.map_header(&names, lineno)?;
    values.iter_mut().for_each(|v| *v = RawValue::Null);
    for ((name, value), &col) in object.iter().zip(&mapping) {
        values[col] = match value {
            Value::Null => RawValue::Null,
            Value::String(s) => RawValue::Text(s.clone()),
            Value::Number(n) => RawValue::Text(n.to_string()),
            Value::Bool(b) => RawValue::Text(b.to_string()),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(n) => out.push(n.to_string()),
                        _ => {
                            return Err(rows.error(
                                lineno,
                                name,
                                "list items must be strings, e.g. [\"a\",\"b\"]",
                            ));
                        }
                    }
                }
                RawValue::List(out)
            }
            Value::Object(_) => {
                return Err(rows.error(
                    lineno,
                    name,
                    "nested objects are not supported; use a string, number, array or null",
                ));
            }
        };
    }
    rows.push(lineno, values)
}
