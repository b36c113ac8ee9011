//! CSV files: a header row, columns by name in any order, list cells
//! separated by `;`, empty cells are null.

use std::path::Path;

use super::RecordReader;
use crate::error::{Error, Result};
use crate::ingest::files::validate::{RawValue, RowBuilder};

pub struct CsvReader;

impl RecordReader for CsvReader {
    fn read(&self, path: &Path, rows: &mut RowBuilder) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_path(path)
            .map_err(|e| csv_error(path, e))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .collect();
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::InputFile {
                file: path.to_path_buf(),
                message: "file is empty: expected a header row naming the columns".into(),
            });
        }
        let mapping = rows.map_header(&header, 1)?;
        let width = rows_width(rows);
        let mut values = vec![RawValue::Null; width];
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_error(path, e)),
            }
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            values.iter_mut().for_each(|v| *v = RawValue::Null);
            for (field, &col) in record.iter().zip(&mapping) {
                values[col] = RawValue::Text(field.to_string());
            }
            rows.push(line, &values)?;
        }
        Ok(())
    }
}

fn rows_width(rows: &RowBuilder) -> usize {
    rows.table().columns().len()
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "row has {len} fields but the header has {expected_len}; quote fields that contain commas"
        ),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8; save the file as UTF-8".to_string(),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => e.to_string(),
    };
    match line {
        Some(line) => Error::Input {
            file: path.to_path_buf(),
            line,
            column: "*".into(),
            message,
        },
        None => Error::InputFile {
            file: path.to_path_buf(),
            message,
        },
    }
}
