//! Appends typed rows to a canonical table's Arrow builders. Used by every
//! ingestor (file import, the generator) so each one only maps its source's
//! fields to [`Cell`]s.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};

use super::schema::{ColumnKind, TIMESTAMP_TZ, Table};
use crate::error::Result;

/// One value. The caller guarantees it matches the column's kind and
/// nullability (the import parser validates before appending).
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    /// Microseconds since the epoch, UTC.
    Time(i64),
    List(&'a [String]),
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Cell::Null, Cell::Text)
    }
}

enum Column {
    Text(StringBuilder),
    Int(Int64Builder),
    Time(TimestampMicrosecondBuilder),
    List(ListBuilder<StringBuilder>),
}

pub struct TableBuffer {
    table: Table,
    columns: Vec<Column>,
    rows: usize,
}

impl TableBuffer {
    pub fn new(table: Table) -> Self {
        let columns = table
            .columns()
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Text | ColumnKind::OneOf(_) => Column::Text(StringBuilder::new()),
                ColumnKind::Integer => Column::Int(Int64Builder::new()),
                ColumnKind::Timestamp => {
                    Column::Time(TimestampMicrosecondBuilder::new().with_timezone(TIMESTAMP_TZ))
                }
                ColumnKind::TextList => Column::List(ListBuilder::new(StringBuilder::new())),
            })
            .collect();
        TableBuffer {
            table,
            columns,
            rows: 0,
        }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a row; `cells` are in the table's column order.
    pub fn push(&mut self, cells: &[Cell<'_>]) {
        debug_assert_eq!(cells.len(), self.columns.len(), "{}", self.table);
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            match (column, *cell) {
                (Column::Text(b), Cell::Text(s)) => b.append_value(s),
                (Column::Text(b), Cell::Null) => b.append_null(),
                (Column::Int(b), Cell::Int(v)) => b.append_value(v),
                (Column::Int(b), Cell::Null) => b.append_null(),
                (Column::Time(b), Cell::Time(v)) => b.append_value(v),
                (Column::Time(b), Cell::Null) => b.append_null(),
                (Column::List(b), Cell::List(items)) => {
                    for item in items {
                        b.values().append_value(item);
                    }
                    b.append(true);
                }
                (Column::List(b), Cell::Null) => b.append(true),
                (_, cell) => panic!("{}: cell {cell:?} does not fit its column", self.table),
            }
        }
        self.rows += 1;
    }

    /// Takes the rows so far as a batch and leaves the buffer empty.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Column::Text(b) => Arc::new(b.finish()),
                    Column::Int(b) => Arc::new(b.finish()),
                    Column::Time(b) => Arc::new(b.finish()),
                    Column::List(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.table.schema(), arrays)?)
    }
}
