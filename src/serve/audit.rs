//! The audit log: one line per `serve` request, appended to
//! `<warehouse>/_audit/audit.ndjson` (never rewritten; not a warehouse
//! table, so only an admin reads it: `doralens audit --since 7d`, or the
//! `audit` table of `/api/v1/sql` with an admin token).
//!
//! A line: `time` (RFC 3339), `token` (the token's name, never the token),
//! `role`, `method`, `route` (the path), `filters` (the query string, or
//! the SQL text), `status`, `rows` (rows or points answered), `changes`
//! (what a push wrote: `table: key, key, ...`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Serialize;

use crate::base::time::Timestamp;
use crate::error::{Error, Result};

/// One request, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub time: String,
    pub token: String,
    pub role: String,
    pub method: String,
    pub route: String,
    pub filters: String,
    pub status: u16,
    pub rows: Option<u64>,
    pub changes: Option<String>,
}

pub fn path(warehouse_root: &Path) -> PathBuf {
    warehouse_root.join("_audit").join("audit.ndjson")
}

/// The columns of the audit table.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("token", DataType::Utf8, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("route", DataType::Utf8, false),
        Field::new("filters", DataType::Utf8, false),
        Field::new("status", DataType::Int64, false),
        Field::new("rows", DataType::Int64, true),
        Field::new("changes", DataType::Utf8, true),
    ]))
}

/// The open log: lines are appended whole, one writer at a time.
pub struct AuditLog {
    file: Mutex<File>,
    path: PathBuf,
}

impl AuditLog {
    pub fn open(warehouse_root: &Path) -> Result<AuditLog> {
        let path = path(warehouse_root);
        let dir = path.parent().expect("has a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("cannot open the audit log", &path, e))?;
        Ok(AuditLog {
            file: Mutex::new(file),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line. A failure is reported on stderr (the answer has
    /// already been decided); it never names a token.
    pub fn record(&self, entry: &Entry) {
        let mut line = serde_json::to_vec(entry).expect("entry serializes");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(&line) {
            eprintln!(
                "warning: cannot append to the audit log {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The log's entries since `since`, oldest first, as the audit table.
pub fn read(warehouse_root: &Path, since: Option<Timestamp>) -> Result<Vec<RecordBatch>> {
    let path = path(warehouse_root);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("cannot read the audit log", &path, e)),
    };
    // A line cut by a crash mid-write is skipped, not an error.
    let mut kept = Vec::with_capacity(text.len());
    for line in text.split(|b| *b == b'\n') {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let at = v["time"].as_str().and_then(Timestamp::parse_rfc3339);
        if at.is_none() || since.is_some_and(|s| at.is_some_and(|a| a < s)) {
            continue;
        }
        kept.extend_from_slice(line);
        kept.push(b'\n');
    }
    let mut reader = datafusion::arrow::json::ReaderBuilder::new(schema())
        .build(std::io::Cursor::new(kept))
        .map_err(|e| Error::Warehouse {
            path: path.clone(),
            message: format!("the audit log cannot be read: {e}"),
        })?;
    let mut batches = Vec::new();
    for batch in &mut reader {
        batches.push(batch.map_err(|e| Error::Warehouse {
            path: path.clone(),
            message: format!("the audit log cannot be read: {e}"),
        })?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_append_and_read_back_since_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for (time, status) in [("2026-01-01T00:00:00Z", 200), ("2026-02-01T00:00:00Z", 401)] {
            log.record(&Entry {
                time: time.into(),
                token: "grafana".into(),
                role: "viewer".into(),
                method: "GET".into(),
                route: "/metrics".into(),
                filters: String::new(),
                status,
                rows: Some(3),
                changes: None,
            });
        }
        // A torn last line is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .unwrap()
            .write_all(b"{\"time\":\"2026-03")
            .unwrap();
        let all = read(dir.path(), None).unwrap();
        assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        let since = Timestamp::parse_rfc3339("2026-01-15T00:00:00Z");
        let late = read(dir.path(), since).unwrap();
        assert_eq!(late.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    }
}
