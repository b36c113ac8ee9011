//! Writes by natural key: an upsert replaces the rows whose keys it brings,
//! a delete removes the rows it names. Each is one commit: the segments that
//! may hold such a key (told by their key index, `seg-*.keys`) are rewritten
//! without those rows, new rows go to fresh segments, and the manifest is
//! swapped; what it supersedes is retired for readers still reading it.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};

use super::keys::{self, KeyColumns};
use super::lock::try_exclusive_readers;
use super::manifest::{MANIFEST_FORMAT, Retired, Segment};
use super::parquet_io::{read_parquet, write_parquet};
use super::provenance::conform;
use super::schema::Table;
use super::vacuum::DEFAULT_RETENTION;
use super::warehouse::Warehouse;
use crate::base::fs::atomic_write;
use crate::base::time::Timestamp;
use crate::error::{Error, Result};

/// Rows per segment written by one upsert. Bounds the cost of rewriting a
/// segment when a later import replaces one of its rows.
pub const SEGMENT_ROWS: usize = 1 << 20;

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertReport {
    pub written: usize,
    pub replaced: usize,
    pub total: usize,
}

impl Warehouse {
    /// Inserts rows, replacing rows with the same natural key. `batches` must
    /// have the table's canonical schema and no key twice.
    ///
    /// Batches may also bring provenance columns of their own (an import's
    /// `_origin`); the others are filled from the run this handle records
    /// (`store::provenance`).
    pub fn upsert(&self, table: Table, batches: &[RecordBatch]) -> Result<UpsertReport> {
        let stamp = self.provenance().filter(|_| table.has_provenance());
        let stamped = batches
            .iter()
            .map(|b| conform(table, b, stamp))
            .collect::<Result<Vec<_>>>()?;
        let new_data = concat_batches(&table.stored_schema(), &stamped)?;
        let new_keys = KeyColumns::new(table, &new_data);
        let hashes: Vec<u64> = (0..new_data.num_rows()).map(|r| new_keys.hash(r)).collect();
        let exact = || {
            (0..new_data.num_rows())
                .map(|r| new_keys.exact(r))
                .collect()
        };
        let written = new_data.num_rows();
        let mut report = self.commit_change(table, hashes, &exact, Some(new_data.clone()))?;
        report.written = written;
        if let Some(stamp) = self.provenance() {
            stamp.count_rows(table, written);
        }
        Ok(report)
    }

    /// [`Warehouse::delete`] for a table keyed by one text `id`.
    pub fn delete_ids(&self, table: Table, ids: &[String]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let keys: Vec<Vec<String>> = ids.iter().map(|id| vec![id.clone()]).collect();
        self.delete(table, &keys)
    }

    /// Deletes the rows whose natural keys the rows of `batch` (of the
    /// table's schema) carry, whatever the key's column types. Returns how
    /// many rows went.
    pub fn delete_rows_of(&self, table: Table, batch: &RecordBatch) -> Result<usize> {
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let keys = KeyColumns::new(table, batch);
        let hashes: Vec<u64> = (0..batch.num_rows()).map(|r| keys.hash(r)).collect();
        let exact = || (0..batch.num_rows()).map(|r| keys.exact(r)).collect();
        Ok(self.commit_change(table, hashes, &exact, None)?.replaced)
    }

    /// Deletes the rows with these natural keys (each key's text parts, in
    /// the table's key order: tables whose keys are all text). Nothing is
    /// written when none of them is stored. Returns how many rows went.
    pub fn delete(&self, table: Table, keys_to_delete: &[Vec<String>]) -> Result<usize> {
        if keys_to_delete.is_empty() {
            return Ok(0);
        }
        let hashes: Vec<u64> = keys_to_delete
            .iter()
            .map(|k| keys::text_key_hash(k.iter().map(String::as_str)))
            .collect();
        let exact = || {
            keys_to_delete
                .iter()
                .map(|k| {
                    let mut s = String::new();
                    for part in k {
                        keys::push_key_text(&mut s, part);
                    }
                    s
                })
                .collect()
        };
        Ok(self.commit_change(table, hashes, &exact, None)?.replaced)
    }

    /// One write: removes the rows whose keys `hashes`/`exact` name from
    /// the segments that may hold them (rewriting those segments), appends
    /// `new_data`, and commits a new manifest (none when nothing changed).
    fn commit_change(
        &self,
        table: Table,
        mut new_hashes: Vec<u64>,
        exact_keys: &dyn Fn() -> HashSet<String>,
        new_data: Option<RecordBatch>,
    ) -> Result<UpsertReport> {
        let _lock = self.lock()?;
        let schema = table.stored_schema();
        let dir = self.table_dir(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let mut manifest = self.manifest(table)?;
        self.remove_unreferenced(&dir, &manifest);
        // With no reader reading, every retired file can go; else only
        // those past the retention period.
        let no_readers = try_exclusive_readers(self.root());
        let keep = if no_readers.is_some() {
            std::time::Duration::ZERO
        } else {
            DEFAULT_RETENTION
        };
        self.collect_retired(&dir, &mut manifest, keep);
        drop(no_readers);
        new_hashes.sort_unstable();
        new_hashes.dedup();

        // Segments holding (probably) a replaced key are rewritten without
        // those rows; the hash check is exact-key verified while filtering.
        let mut exact_new: Option<HashSet<String>> = None;
        let mut kept = Vec::with_capacity(manifest.segments.len());
        let mut obsolete = Vec::new();
        let mut replaced = 0usize;
        let mut rewritten: Vec<RecordBatch> = Vec::new();
        for seg in std::mem::take(&mut manifest.segments) {
            let seg_hashes = self.segment_hashes(&dir, &seg)?;
            if !keys::intersects(&new_hashes, &seg_hashes) {
                kept.push(seg);
                continue;
            }
            let exact = exact_new.get_or_insert_with(exact_keys);
            // A segment written before provenance gets null provenance.
            let old = read_parquet(&dir.join(&seg.file), None)?
                .iter()
                .map(|b| conform(table, b, None))
                .collect::<Result<Vec<_>>>()?;
            let old = concat_batches(&schema, &old)?;
            let old_keys = KeyColumns::new(table, &old);
            let keep: BooleanArray = (0..old.num_rows())
                .map(|r| Some(!exact.contains(&old_keys.exact(r))))
                .collect();
            let remaining = filter_record_batch(&old, &keep)?;
            replaced += old.num_rows() - remaining.num_rows();
            if remaining.num_rows() == old.num_rows() {
                kept.push(seg); // a hash collision only: nothing replaced
            } else {
                if remaining.num_rows() > 0 {
                    rewritten.push(remaining);
                }
                obsolete.push(seg);
            }
        }
        manifest.segments = kept;
        if new_data.is_none() && obsolete.is_empty() {
            return Ok(UpsertReport {
                written: 0,
                replaced: 0,
                total: manifest.rows(),
            });
        }

        let mut to_write = rewritten;
        to_write.extend(new_data);
        for batch in to_write {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = SEGMENT_ROWS.min(batch.num_rows() - offset);
                let part = batch.slice(offset, len);
                manifest.segments.push(self.write_segment(
                    table,
                    &dir,
                    &mut manifest.next_segment,
                    &part,
                )?);
                offset += len;
            }
        }
        manifest.version += 1;
        manifest.format = MANIFEST_FORMAT;
        if !obsolete.is_empty() {
            manifest.retired.push(Retired {
                files: obsolete
                    .iter()
                    .flat_map(|s| [s.file.clone(), s.keys.clone()])
                    .collect(),
                at_micros: Timestamp::now().micros(),
            });
        }
        self.commit_manifest(&dir, &manifest)?;
        // Readers that started before the swap may still read the retired
        // files; when none is reading, they can go now (they leave the
        // manifest's list at the next write, which finds them gone).
        if !obsolete.is_empty()
            && let Some(_exclusive) = try_exclusive_readers(self.root())
        {
            for seg in &obsolete {
                let _ = fs::remove_file(dir.join(&seg.file));
                let _ = fs::remove_file(dir.join(&seg.keys));
            }
            self.remove_retired_generations();
        }
        Ok(UpsertReport {
            written: 0,
            replaced,
            total: manifest.rows(),
        })
    }

    fn segment_hashes(&self, dir: &Path, seg: &Segment) -> Result<Vec<u64>> {
        let path = dir.join(&seg.keys);
        let bytes = fs::read(&path).map_err(|e| Error::io("cannot read key index", &path, e))?;
        keys::decode(&bytes).ok_or_else(|| Error::Warehouse {
            path,
            message: "key index is truncated; the warehouse was modified outside doralens".into(),
        })
    }

    fn write_segment(
        &self,
        table: Table,
        dir: &Path,
        next: &mut u64,
        batch: &RecordBatch,
    ) -> Result<Segment> {
        *next += 1;
        let file = format!("seg-{:06}.parquet", *next);
        let keys_file = format!("seg-{:06}.keys", *next);
        write_parquet(
            &dir.join(&file),
            &table.stored_schema(),
            std::slice::from_ref(batch),
            None,
        )?;
        let key_cols = KeyColumns::new(table, batch);
        let mut hashes: Vec<u64> = (0..batch.num_rows()).map(|r| key_cols.hash(r)).collect();
        hashes.sort_unstable();
        let bytes = keys::encode(&hashes);
        atomic_write(&dir.join(&keys_file), |f| f.write_all(&bytes))?;
        let path = dir.join(&file);
        let size = fs::metadata(&path)
            .map_err(|e| Error::io("cannot read", &path, e))?
            .len();
        Ok(Segment {
            file,
            keys: keys_file,
            rows: batch.num_rows(),
            bytes: Some(size),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{
        deployment_rows, deployments, temp_warehouse, texts, warehouse_error,
    };

    fn stored(wh: &Warehouse, column: &str) -> Vec<String> {
        texts(&wh.read_table(Table::Deployments, None).unwrap(), column)
    }

    fn segment_files(wh: &Warehouse) -> Vec<String> {
        let manifest = wh.manifest(Table::Deployments).unwrap();
        manifest.segments.into_iter().map(|s| s.file).collect()
    }

    #[test]
    fn an_upsert_replaces_rows_by_natural_key() {
        let (_tmp, wh) = temp_warehouse();
        let first = wh
            .upsert(Table::Deployments, &deployments(&["d1", "d2"]))
            .unwrap();
        assert_eq!(
            first,
            UpsertReport {
                written: 2,
                replaced: 0,
                total: 2
            }
        );
        let rows = deployment_rows(&[("d2", "failure"), ("d3", "success")]);
        let second = wh.upsert(Table::Deployments, &rows).unwrap();
        assert_eq!(
            second,
            UpsertReport {
                written: 2,
                replaced: 1,
                total: 3
            }
        );
        assert_eq!(stored(&wh, "id"), ["d1", "d2", "d3"]);
        assert_eq!(stored(&wh, "status"), ["failure", "success", "success"]);
        assert_eq!(wh.version(Table::Deployments).unwrap(), 2);
    }

    #[test]
    fn a_second_identical_upsert_changes_no_row() {
        let (_tmp, wh) = temp_warehouse();
        let batches = deployments(&["d1", "d2", "d3"]);
        wh.upsert(Table::Deployments, &batches).unwrap();
        let before = wh.read_table(Table::Deployments, None).unwrap();
        let again = wh.upsert(Table::Deployments, &batches).unwrap();
        assert_eq!((again.replaced, again.total), (3, 3));
        assert_eq!(wh.read_table(Table::Deployments, None).unwrap(), before);
        assert_eq!(segment_files(&wh).len(), 1, "the old segment was retired");
    }

    #[test]
    fn only_segments_holding_a_replaced_key_are_rewritten() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["a", "b"]))
            .unwrap();
        wh.upsert(Table::Deployments, &deployments(&["c", "d"]))
            .unwrap();
        assert_eq!(
            segment_files(&wh),
            ["seg-000001.parquet", "seg-000002.parquet"]
        );
        wh.upsert(Table::Deployments, &deployments(&["c"])).unwrap();
        // Segment 1 is untouched; segment 2 is rewritten as 3 (its rows
        // but `c`), and the new `c` is segment 4.
        assert_eq!(
            segment_files(&wh),
            [
                "seg-000001.parquet",
                "seg-000003.parquet",
                "seg-000004.parquet"
            ]
        );
        assert_eq!(stored(&wh, "id"), ["a", "b", "c", "d"]);
        let manifest = wh.manifest(Table::Deployments).unwrap();
        assert_eq!(manifest.next_segment, 4);
        assert_eq!(
            manifest.segments.iter().map(|s| s.rows).collect::<Vec<_>>(),
            [2, 1, 1]
        );
    }

    #[test]
    fn ids_select_and_delete_ids_removes_them() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["gh-1", "gh-2", "gl-1"]))
            .unwrap();
        let mut github = wh
            .ids(Table::Deployments, |id| id.starts_with("gh-"))
            .unwrap();
        github.sort();
        assert_eq!(github, ["gh-1", "gh-2"]);
        assert_eq!(wh.delete_ids(Table::Deployments, &[]).unwrap(), 0);
        assert_eq!(wh.version(Table::Deployments).unwrap(), 1, "no write");
        assert_eq!(wh.delete_ids(Table::Deployments, &github).unwrap(), 2);
        assert_eq!(stored(&wh, "id"), ["gl-1"]);
    }

    #[test]
    fn a_truncated_key_index_is_an_error_naming_it() {
        let (_tmp, wh) = temp_warehouse();
        wh.upsert(Table::Deployments, &deployments(&["d1"]))
            .unwrap();
        let index = wh.table_dir(Table::Deployments).join("seg-000001.keys");
        fs::write(&index, [1u8, 2, 3]).unwrap();
        let (path, message) = warehouse_error(wh.upsert(Table::Deployments, &deployments(&["d1"])));
        assert_eq!(path, index);
        assert!(message.contains("truncated"), "{message}");
        assert_eq!(wh.version(Table::Deployments).unwrap(), 1, "no commit");
    }
}
