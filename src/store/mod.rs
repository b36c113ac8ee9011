//! Storage: the canonical schemas and the Parquet warehouse.

pub mod buffer;
mod derived;
pub mod keys;
mod leftovers;
pub mod links;
mod lock;
mod manifest;
mod parquet_io;
pub mod provenance;
#[cfg(feature = "cloud")]
pub mod remote;
pub mod rows;
pub mod schema;
mod state;
mod upsert;
mod vacuum;
pub mod warehouse;

/// True when a `--warehouse` value names an object store (`scheme://...`,
/// see [`remote`] with the `cloud` feature) rather than a directory.
pub fn is_url(location: &str) -> bool {
    location.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Rows and readings shared by the store's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use datafusion::arrow::array::{AsArray, RecordBatch};

    use super::buffer::TableBuffer;
    use super::rows::DeploymentRow;
    use super::schema::Table;
    use super::warehouse::Warehouse;
    use crate::base::time::Timestamp;
    use crate::error::{Error, Result};

    /// A warehouse in a fresh temporary directory, removed with the guard.
    pub fn temp_warehouse() -> (tempfile::TempDir, Warehouse) {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Warehouse::open(tmp.path()).unwrap();
        (tmp, wh)
    }

    /// The file and the message of an [`Error::Warehouse`]; panics on
    /// anything else.
    pub fn warehouse_error<T: std::fmt::Debug>(result: Result<T>) -> (PathBuf, String) {
        match result {
            Err(Error::Warehouse { path, message }) => (path, message),
            other => panic!("expected a warehouse error, got {other:?}"),
        }
    }

    /// One `deployments` batch, a row per `(id, status)`.
    pub fn deployment_rows(rows: &[(&str, &str)]) -> Vec<RecordBatch> {
        let mut buffer = TableBuffer::new(Table::Deployments);
        for (id, status) in rows {
            DeploymentRow {
                id: id.to_string(),
                repo: "acme/api".into(),
                sha: "a".repeat(40),
                environment: "production".into(),
                status: status.to_string(),
                finished_at: Timestamp::from_micros(1_700_000_060_000_000),
                ..DeploymentRow::default()
            }
            .push(&mut buffer);
        }
        vec![buffer.finish().unwrap()]
    }

    /// One successful deployment per id.
    pub fn deployments(ids: &[&str]) -> Vec<RecordBatch> {
        let rows: Vec<(&str, &str)> = ids.iter().map(|id| (*id, "success")).collect();
        deployment_rows(&rows)
    }

    /// A text column's values across `batches`, sorted.
    pub fn texts(batches: &[RecordBatch], column: &str) -> Vec<String> {
        let mut out: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let col = b.column_by_name(column).expect("column present");
                col.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_told_from_directories() {
        assert!(super::is_url("s3://bucket/prefix"));
        assert!(super::is_url("file:///tmp/w"));
        assert!(!super::is_url("doralens-warehouse"));
        assert!(!super::is_url("./a://b"));
        assert!(!super::is_url("/tmp/x"));
    }
}
