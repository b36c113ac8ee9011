//! Validates raw text values against a canonical table and builds Arrow
//! arrays. Every rejection names the file, line and column and says what the
//! expected form is; nothing is written until a whole file has passed.

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::buffer::{Cell, TableBuffer};
use crate::store::schema::{ColumnKind, Table};

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
    /// Each row's `_origin` (`<file>:<line>`), see [`RowBuilder::origins`].
    origins: StringBuilder,
    origin: Origin,
}

/// How a row's `_origin` is written: `<label><separator><line>`, and
/// whether the label is also the rows' `_scope` (a file's path).
struct Origin {
    label: String,
    separator: &'static str,
    scope: bool,
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
            origins: StringBuilder::new(),
            origin: Origin {
                label: std::path::absolute(file)
                    .unwrap_or_else(|_| file.to_path_buf())
                    .display()
                    .to_string(),
                separator: ":",
                scope: true,
            },
        }
    }

    /// Rows' `_origin` is `<label> item <n>` (a pushed body's items), and
    /// their `_scope` is the run's.
    pub fn origins(mut self, label: impl Into<String>) -> Self {
        self.origin = Origin {
            label: label.into(),
            separator: " item ",
            scope: false,
        };
        self
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
                Parsed::Int(Some(v)) | Parsed::Timestamp(Some(v)) => {
                    crate::store::keys::push_key_int(&mut key, *v)
                }
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
        self.origins.append_value(format!(
            "{}{}{line}",
            self.origin.label, self.origin.separator
        ));
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
                // Any case in, the list's own spelling stored.
                let Some(value) = values.iter().find(|v| v.eq_ignore_ascii_case(text.trim()))
                else {
                    return Err(self.error(
                        line,
                        spec.name,
                        format!(
                            "bad {} {}, expected {}",
                            spec.kind.noun(),
                            quote_cell(text),
                            spec.kind.expected_form()
                        ),
                    ));
                };
                Parsed::Text(Some(value.to_string()))
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

    /// The rows, with an `_origin` column (and `_scope`, for a file)
    /// after the table's columns: the upsert fills the other provenance
    /// columns from the run.
    pub fn finish(mut self) -> Result<RecordBatch> {
        let batch = self.buffer.finish()?;
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if self.origin.scope {
            fields.push(Field::new("_scope", DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from_iter_values(
                std::iter::repeat_n(self.origin.label.as_str(), batch.num_rows()),
            )));
        }
        fields.push(Field::new("_origin", DataType::Utf8, true));
        columns.push(Arc::new(self.origins.finish()));
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
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
