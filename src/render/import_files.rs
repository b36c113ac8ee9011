//! Writes canonical-table rows in the form `doralens import` reads back:
//! CSV with `;`-joined lists, or NDJSON with JSON arrays; timestamps as
//! RFC 3339 in UTC. Used by `generate --out`.

use std::io::Write;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};

use crate::error::{Error, Result};
use crate::metrics::interval::format_instant;

enum Value {
    Null,
    Text(String),
    Int(i64),
    List(Vec<String>),
}

fn cell(column: &dyn Array, row: usize) -> Value {
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Utf8 => Value::Text(column.as_string::<i32>().value(row).to_string()),
        DataType::Int64 => Value::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::Timestamp(..) => Value::Text(format_instant(
            column.as_primitive::<TimestampMicrosecondType>().value(row),
        )),
        DataType::List(_) => {
            let list = column.as_list::<i32>().value(row);
            let items = list.as_string::<i32>();
            Value::List(items.iter().flatten().map(str::to_string).collect())
        }
        other => Value::Text(format!("<{other}>")),
    }
}

pub fn write_import_file(
    batch: &RecordBatch,
    csv: bool,
    header: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let schema = batch.schema();
    let io = |e| Error::io("cannot write", "<generated file>", e);
    if csv {
        let mut w = csv::WriterBuilder::new().from_writer(out);
        let map =
            |e: csv::Error| Error::io("cannot write", "<generated file>", std::io::Error::other(e));
        if header {
            w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
                .map_err(map)?;
        }
        for row in 0..batch.num_rows() {
            let fields: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| match cell(c.as_ref(), row) {
                    Value::Null => String::new(),
                    Value::Text(s) => s,
                    Value::Int(i) => i.to_string(),
                    Value::List(items) => items.join(";"),
                })
                .collect();
            w.write_record(&fields).map_err(map)?;
        }
        w.flush().map_err(io)?;
    } else {
        for row in 0..batch.num_rows() {
            let mut object = serde_json::Map::new();
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                let value = match cell(column.as_ref(), row) {
                    Value::Null => continue,
                    Value::Text(s) => serde_json::Value::String(s),
                    Value::Int(i) => serde_json::Value::from(i),
                    Value::List(items) => serde_json::Value::from(items),
                };
                object.insert(field.name().clone(), value);
            }
            serde_json::to_writer(&mut *out, &object).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
        }
    }
    Ok(())
}
