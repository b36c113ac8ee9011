//! Provenance: where every stored row came from, and the `syncs` log of
//! the runs that wrote them (issue #22, part 5).
//!
//! A run (an `ingest` source, an `import`, a push, `generate`, `demo`)
//! starts with [`Warehouse::begin_sync`], which allocates its sync id and
//! returns the warehouse *stamped* with a [`Stamp`]. Every
//! [`Warehouse::upsert`] through a stamped warehouse appends the
//! [`PROVENANCE`] columns the rows do not bring themselves (`_source`,
//! `_scope`, `_fetched_at`, `_sync`, `_origin`), counts the rows, and
//! every [`Warehouse::write_state`] remembers the cursor it replaced and
//! the one it wrote. A sink that knows a finer scope or origin (a forge's
//! repository and the requests a resource was read with, a tracker's
//! scope, an imported file's line) narrows the stamp with
//! [`Warehouse::in_scope`], or brings `_scope` / `_origin` columns of its
//! own; no ingestor maps provenance itself, and a table added to
//! `schema.rs` gets it with no work. [`Warehouse::end_sync`] appends the
//! run's `syncs` row, ok or failed, in its own atomic commit: rows and
//! cursors already committed stay, as they always did.
//!
//! Segments written before provenance existed lack the columns; every
//! reader conforms them ([`conform`]: null provenance), so old warehouses
//! read and upsert unchanged, and no upgrade step is needed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array,
};
use serde_json::Value;

use super::buffer::{Cell, TableBuffer};
use super::schema::{PROVENANCE, TIMESTAMP_TZ, Table};
use super::warehouse::Warehouse;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};

/// The state document holding the next sync sequence number.
const SEQUENCE: &str = "syncs";
/// Cursors larger than this are summarised in `syncs` rather than copied
/// (git's per-commit path masks can be megabytes).
const CURSOR_COPY_BYTES: usize = 4096;

/// What a run stamps on the rows it writes.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub sync: String,
    pub source: String,
    pub scope: String,
    pub origin: Option<String>,
    started: Timestamp,
    run: Arc<Mutex<RunRecord>>,
}

/// What the run did so far, shared by every narrowed stamp of the run.
#[derive(Debug, Default)]
struct RunRecord {
    rows: BTreeMap<&'static str, usize>,
    scopes: BTreeSet<String>,
    /// state name → (before the run, last written).
    cursors: BTreeMap<String, (Option<Value>, Value)>,
}

impl Stamp {
    fn record(&self) -> std::sync::MutexGuard<'_, RunRecord> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn count_rows(&self, table: Table, rows: usize) {
        let mut record = self.record();
        *record.rows.entry(table.name()).or_default() += rows;
        record.scopes.insert(self.scope.clone());
    }

    /// Remembers a cursor write: the first `before` of the run is kept.
    pub(super) fn note_cursor(&self, name: &str, before: Option<Value>, after: &Value) {
        let mut record = self.record();
        record.scopes.insert(self.scope.clone());
        let after = summarised(after);
        record
            .cursors
            .entry(name.to_string())
            .and_modify(|e| e.1 = after.clone())
            .or_insert_with(|| (before.as_ref().map(summarised), after));
    }
}

/// A run's record as the cells of its `syncs` row.
struct Summary {
    rows: usize,
    by_table: String,
    scopes: Vec<String>,
    before: Option<String>,
    after: Option<String>,
}

impl Stamp {
    fn summary(&self) -> Summary {
        let record = self.record();
        let mut scopes: Vec<String> = record.scopes.iter().cloned().collect();
        if scopes.is_empty() && !self.scope.is_empty() {
            scopes.push(self.scope.clone());
        }
        let json = |after: bool| {
            let map: serde_json::Map<String, Value> = record
                .cursors
                .iter()
                .filter_map(|(k, (before, last))| {
                    let v = if after { Some(last) } else { before.as_ref() };
                    v.map(|v| (k.clone(), v.clone()))
                })
                .collect();
            (!map.is_empty()).then(|| Value::Object(map).to_string())
        };
        Summary {
            rows: record.rows.values().sum(),
            by_table: serde_json::to_string(&record.rows).expect("counts serialise"),
            scopes,
            before: json(false),
            after: json(true),
        }
    }
}

fn summarised(value: &Value) -> Value {
    let bytes = serde_json::to_vec(value).map(|b| b.len()).unwrap_or(0);
    if bytes > CURSOR_COPY_BYTES {
        Value::String(format!("({bytes}-byte document, not copied)"))
    } else {
        value.clone()
    }
}

/// `batch` (its own columns, and any provenance columns it brings) as the
/// table's stored schema: missing provenance columns come from `stamp`,
/// or are null without one (rows of an old segment, a test's warehouse).
pub fn conform(table: Table, batch: &RecordBatch, stamp: Option<&Stamp>) -> Result<RecordBatch> {
    let schema = table.stored_schema();
    if batch.schema().fields() == schema.fields() && stamp.is_none() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let now = Timestamp::now().micros();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        if let Some(column) = batch.column_by_name(field.name()) {
            columns.push(column.clone());
            continue;
        }
        let is_provenance = PROVENANCE.iter().any(|c| c.name == field.name());
        let text = |v: Option<&str>| -> ArrayRef {
            match v {
                Some(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, rows))),
                None => new_null_array(field.data_type(), rows),
            }
        };
        let column = match stamp.filter(|_| is_provenance) {
            None => new_null_array(field.data_type(), rows),
            Some(s) => match field.name().as_str() {
                "_source" => text(Some(&s.source)),
                "_scope" => text(Some(&s.scope)),
                "_sync" => text(Some(&s.sync)),
                "_origin" => text(s.origin.as_deref()),
                "_fetched_at" => Arc::new(
                    TimestampMicrosecondArray::from(vec![now; rows]).with_timezone(TIMESTAMP_TZ),
                ),
                other => {
                    return Err(Error::Internal(format!(
                        "provenance column {other} has no value"
                    )));
                }
            },
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

impl Warehouse {
    /// Starts a run: allocates its sync id (`<start>-<sequence>`, the
    /// sequence counted per warehouse under the writer lock, so ids are
    /// unique even when the clock is stopped by `DORALENS_NOW`) and
    /// returns this warehouse stamped for it.
    pub fn begin_sync(&self, source: &str, scope: &str) -> Result<Warehouse> {
        let started = Timestamp::now();
        let sequence = {
            let _lock = self.lock()?;
            let plain = self.unstamped();
            let next = plain
                .read_state(SEQUENCE)?
                .and_then(|v| v.get("next").and_then(Value::as_u64))
                .unwrap_or(1);
            plain.write_state(SEQUENCE, &serde_json::json!({ "next": next + 1 }))?;
            next
        };
        let compact: String = started
            .to_string()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(15)
            .collect();
        let stamp = Stamp {
            sync: format!("{compact}Z-{sequence:04}"),
            source: source.to_string(),
            scope: scope.to_string(),
            origin: None,
            started,
            run: Arc::default(),
        };
        Ok(self.with_stamp(Some(Arc::new(stamp))))
    }

    /// This warehouse for rows of one scope (and origin) of the run; the
    /// same warehouse when no run is being recorded.
    pub fn in_scope(&self, scope: impl Into<String>, origin: Option<String>) -> Warehouse {
        match self.provenance() {
            None => self.clone(),
            Some(stamp) => {
                let mut narrowed = stamp.clone();
                narrowed.scope = scope.into();
                narrowed.origin = origin;
                self.with_stamp(Some(Arc::new(narrowed)))
            }
        }
    }

    /// Ends the run begun by [`Warehouse::begin_sync`]: appends its `syncs`
    /// row (ok, or failed with the error) and gives `result` back. When the
    /// row cannot be written, a failed run keeps its own error (the other
    /// is said on stderr).
    pub fn end_sync<T>(&self, result: Result<T>) -> Result<T> {
        let Some(stamp) = self.provenance() else {
            return result;
        };
        let failure = result.as_ref().err().map(|e| e.to_string());
        match (self.write_sync_row(stamp, failure.as_deref()), result) {
            (Ok(()), result) => result,
            (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(original)) => {
                eprintln!("warning: the failed run could not be recorded in `syncs`: {e}");
                Err(original)
            }
        }
    }

    fn write_sync_row(&self, stamp: &Stamp, failure: Option<&str>) -> Result<()> {
        let summary = stamp.summary();
        let (before, after) = (summary.before.as_deref(), summary.after.as_deref());
        let mut buffer = TableBuffer::new(Table::Syncs);
        buffer.push(&[
            Cell::Text(&stamp.sync),
            Cell::Text(&stamp.source),
            Cell::List(&summary.scopes),
            Cell::Time(stamp.started.micros()),
            Cell::Time(Timestamp::now().micros()),
            Cell::Int(summary.rows as i64),
            Cell::Text(&summary.by_table),
            before.into(),
            after.into(),
            Cell::Text(if failure.is_some() { "failed" } else { "ok" }),
            failure.into(),
        ]);
        self.unstamped().upsert(Table::Syncs, &[buffer.finish()?])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::production::ProductionPattern;
    use crate::engine::Engine;
    use crate::store::parquet_io::write_parquet;
    use crate::store::testing::{deployments, temp_warehouse};

    /// A segment written before provenance (the table's own columns only)
    /// reads with null provenance, and a stamped upsert beside it (which
    /// rewrites that segment) keeps both rows readable.
    #[tokio::test(flavor = "multi_thread")]
    async fn segments_from_before_provenance_read_and_upsert_unchanged() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["keep", "old"]))
            .unwrap();
        // Rewrite the segment as an old doralens wrote it.
        let dir = wh.table_dir(Table::Deployments);
        let table = Table::Deployments;
        write_parquet(
            &dir.join("seg-000001.parquet"),
            &table.schema(),
            &deployments(&["keep", "old"]),
            None,
        )
        .unwrap();
        let manifest = dir.join("_manifest.json");
        let mut json: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        json["segments"][0].as_object_mut().unwrap().remove("bytes");
        std::fs::write(&manifest, serde_json::to_vec(&json).unwrap()).unwrap();

        let sql = "SELECT id, _source, _sync IS NULL AS unstamped FROM deployments ORDER BY id";
        let read = async |wh: &Warehouse| {
            let engine = Engine::open(wh, &ProductionPattern::default())
                .await
                .unwrap();
            let batches = engine.sql(sql).await.unwrap().1;
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        };
        let before = read(&wh).await;
        assert!(
            before.contains("| old  |         | true      |"),
            "{before}"
        );

        // "old" is replaced, so its old segment is rewritten with "keep".
        let run = wh.begin_sync("test", "scope").unwrap();
        run.upsert(table, &deployments(&["old"])).unwrap();
        run.end_sync(Ok(())).unwrap();
        let after = read(&wh).await;
        assert!(after.contains("| keep |         | true      |"), "{after}");
        assert!(after.contains("| old  | test    | false     |"), "{after}");
        let syncs = wh.manifest(Table::Syncs).unwrap();
        assert_eq!(syncs.segments.len(), 1);
    }
}
