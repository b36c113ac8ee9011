//! Validates raw text values against a canonical table and builds Arrow
//! arrays. Every rejection names the file, line and column and says what the
//! expected form is; nothing is written until a whole file has passed.

use datafusion::arrow::array::RecordBatch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::buffer::{Cell, TableBuffer};
use crate::store::schema::{ColumnKind, DEPLOYMENT_STATUSES, Table};

/// One cell as a reader found it, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Text(String),
    List(Vec<String>),
}

/// Accumulates validated rows for one table from one file.
pub struct RowBuilder {
    table: Table,
    file: PathBuf,
    buffer: TableBuffer,
    seen_keys: HashMap<String, usize>,
    key_indices: Vec<usize>,
    rows: usize,
}

use crate::base::time::parse_rfc3339;

impl RowBuilder {
    pub fn new(table: Table, file: &Path) -> Self {
        RowBuilder {
            table,
            file: file.to_path_buf(),
            buffer: TableBuffer::new(table),
            seen_keys: HashMap::new(),
            key_indices: table.key_indices(),
            rows: 0,
        }
    }

    pub fn error(&self, line: usize, column: &str, message: impl Into<String>) -> Error {
        Error::Input {
            file: self.file.clone(),
            line,
            column: column.to_string(),
            message: message.into(),
        }
    }

    /// Maps input column names to canonical column positions. Rejects unknown
    /// and repeated names and missing required columns.
    pub fn map_header(&self, names: &[String], line: usize) -> Result<Vec<usize>> {
        let mut mapping = Vec::with_capacity(names.len());
        let mut present = vec![false; self.table.columns().len()];
        for name in names {
            let name = name.trim();
            let Some(idx) = self.table.column_index(name) else {
                return Err(self.error(
                    line,
                    name,
                    format!(
                        "unknown column for table `{}`; expected columns: {}",
                        self.table,
                        self.column_list()
                    ),
                ));
            };
            if present[idx] {
                return Err(self.error(line, name, "column appears twice in the header"));
            }
            present[idx] = true;
            mapping.push(idx);
        }
        if let Some(missing) = self
            .table
            .columns()
            .iter()
            .zip(&present)
            .find(|(c, p)| !c.nullable && !**p)
        {
            return Err(self.error(
                line,
                missing.0.name,
                format!(
                    "required column is missing from the header; table `{}` needs: {}",
                    self.table,
                    self.required_list()
                ),
            ));
        }
        Ok(mapping)
    }

    fn column_list(&self) -> String {
        self.table
            .columns()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn required_list(&self) -> String {
        self.table
            .columns()
            .iter()
            .filter(|c| !c.nullable)
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Adds one row. `values[i]` is the value of canonical column `i`
    /// (`RawValue::Null` when the input had none).
    pub fn push(&mut self, line: usize, values: &[RawValue]) -> Result<()> {
        debug_assert_eq!(values.len(), self.table.columns().len());
        // Validate the whole row before appending anything, so a rejected
        // row never leaves the builders out of step.
        let mut parsed: Vec<Parsed> = Vec::with_capacity(values.len());
        for (spec, value) in self.table.columns().iter().zip(values) {
            parsed.push(self.parse_cell(line, spec, value)?);
        }
        let mut key = String::new();
        for &i in &self.key_indices {
            match &parsed[i] {
                Parsed::Text(Some(s)) => crate::store::keys::push_key_text(&mut key, s),
                Parsed::Int(Some(v)) => crate::store::keys::push_key_int(&mut key, *v),
                _ => crate::store::keys::push_key_text(&mut key, ""),
            }
        }
        if let Some(first) = self.seen_keys.insert(key, line) {
            let key_desc = self.table.key().join(", ");
            return Err(self.error(
                line,
                &key_desc,
                format!(
                    "duplicate key: line {first} has the same ({key_desc}); each key may appear once per file"
                ),
            ));
        }
        let cells: Vec<Cell<'_>> = parsed
            .iter()
            .map(|p| match p {
                Parsed::Text(v) => Cell::from(v.as_deref()),
                Parsed::Int(v) => v.map_or(Cell::Null, Cell::Int),
                Parsed::Timestamp(v) => v.map_or(Cell::Null, Cell::Time),
                Parsed::List(items) => Cell::List(items),
            })
            .collect();
        self.buffer.push(&cells);
        self.rows += 1;
        Ok(())
    }

    fn parse_cell(
        &self,
        line: usize,
        spec: &crate::store::schema::ColumnSpec,
        value: &RawValue,
    ) -> Result<Parsed> {
        let text = match value {
            RawValue::Null => None,
            RawValue::Text(s) if s.trim().is_empty() => None,
            RawValue::Text(s) => Some(s.as_str()),
            RawValue::List(items) => {
                if spec.kind == ColumnKind::TextList {
                    return Ok(Parsed::List(
                        items
                            .iter()
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    ));
                }
                return Err(self.error(
                    line,
                    spec.name,
                    format!("got a list, expected {}", spec.kind.expected_form()),
                ));
            }
        };
        let Some(text) = text else {
            if spec.kind == ColumnKind::TextList {
                return Ok(Parsed::List(Vec::new()));
            }
            if !spec.nullable {
                return Err(self.error(
                    line,
                    spec.name,
                    format!("value is required, expected {}", spec.kind.expected_form()),
                ));
            }
            return Ok(match spec.kind {
                ColumnKind::Integer => Parsed::Int(None),
                ColumnKind::Timestamp => Parsed::Timestamp(None),
                _ => Parsed::Text(None),
            });
        };
        Ok(match spec.kind {
            ColumnKind::Text => Parsed::Text(Some(text.to_string())),
            ColumnKind::OneOf(values) => {
                let lower = text.trim().to_ascii_lowercase();
                if !values.contains(&lower.as_str()) {
                    return Err(self.error(
                        line,
                        spec.name,
                        format!(
                            "bad {} {}, expected {}",
                            if *values == DEPLOYMENT_STATUSES[..] {
                                "status"
                            } else {
                                "value"
                            },
                            quote_cell(text),
                            spec.kind.expected_form()
                        ),
                    ));
                }
                Parsed::Text(Some(lower))
            }
            ColumnKind::Integer => match text.trim().parse::<i64>() {
                Ok(v) => Parsed::Int(Some(v)),
                Err(_) => {
                    return Err(self.error(
                        line,
                        spec.name,
                        format!("{} is not {}", quote_cell(text), spec.kind.expected_form()),
                    ));
                }
            },
            ColumnKind::Timestamp => match parse_rfc3339(text) {
                Some(v) => Parsed::Timestamp(Some(v)),
                None => {
                    return Err(self.error(
                        line,
                        spec.name,
                        format!(
                            "cannot parse {} as a timestamp, expected {}",
                            quote_cell(text),
                            spec.kind.expected_form()
                        ),
                    ));
                }
            },
            ColumnKind::TextList => Parsed::List(
                text.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn finish(mut self) -> Result<RecordBatch> {
        self.buffer.finish()
    }
}

/// A cell as an error message shows it: in backticks, cut to its first
/// 100 bytes (at a character boundary) with its full size, so a huge bad
/// cell does not flood the terminal.
pub fn quote_cell(text: &str) -> String {
    const SHOWN: usize = 100;
    if text.len() <= SHOWN {
        return format!("`{text}`");
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("`{}…` ({} bytes)", &text[..end], text.len())
}

enum Parsed {
    Text(Option<String>),
    Int(Option<i64>),
    Timestamp(Option<i64>),
    List(Vec<String>),
}
