//! The embedded warehouse: a directory of Parquet files.
//!
//! Layout (see ARCHITECTURE.md):
//!
//! ```text
//! <root>/
//!   .lock                      advisory lock held by writers
//!   <table>/_manifest.json     the table's live segments; replaced atomically
//!   <table>/seg-000001.parquet immutable data segment
//!   <table>/seg-000001.keys    sorted 64-bit hashes of its natural keys
//!   _derived/<name>.parquet    derived tables (attribution), stamped with
//!                              the input versions they were computed from
//!   _state/<name>.json         small documents such as sync cursors
//! ```
//!
//! A write never modifies a file in place: new segments are written under
//! fresh names, then the manifest is swapped by rename. A crash at any point
//! leaves either the old manifest (and some unreferenced files, removed by the
//! next write) or the new one; readers only open files the manifest names.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::keys::{self, KeyColumns};
use super::schema::Table;
use crate::error::{Error, Result};

/// Rows per segment written by one upsert. Bounds the cost of rewriting a
/// segment when a later import replaces one of its rows.
pub const SEGMENT_ROWS: usize = 1 << 20;
/// Rows per Parquet row group: DataFusion parallelises scans by row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;
const MANIFEST: &str = "_manifest.json";
const MANIFEST_FORMAT: u32 = 1;
const STAMP_KEY: &str = "doralens.stamp";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// Increases on every committed write; derived tables record it.
    pub version: u64,
    pub next_segment: u64,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    pub file: String,
    pub keys: String,
    pub rows: usize,
}

impl Manifest {
    pub fn rows(&self) -> usize {
        self.segments.iter().map(|s| s.rows).sum()
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertReport {
    pub written: usize,
    pub replaced: usize,
    pub total: usize,
}

#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
}

/// Held while writing; released on drop.
pub struct WriteLock {
    _file: File,
}

impl Warehouse {
    /// Opens (creating when missing) a warehouse directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io("cannot create warehouse", &root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("cannot open warehouse", &root, e))?;
        Ok(Warehouse { root })
    }

    /// Opens a warehouse that must already exist (for read-only commands, so
    /// a mistyped `--warehouse` is an error rather than an empty result).
    pub fn open_existing(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::Usage {
                option: "--warehouse".into(),
                message: format!(
                    "no warehouse at {}; import data first (doralens import, doralens ingest), \
                     try `doralens demo`, or point --warehouse / DORALENS_WAREHOUSE at an existing one",
                    root.display()
                ),
            });
        }
        Warehouse::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.name())
    }

    /// Takes the writer lock (blocking while another doralens writes).
    pub fn lock(&self) -> Result<WriteLock> {
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("cannot create lock file", &path, e))?;
        file.lock()
            .map_err(|e| Error::io("cannot lock warehouse", &path, e))?;
        Ok(WriteLock { _file: file })
    }

    pub fn manifest(&self, table: Table) -> Result<Manifest> {
        let path = self.table_dir(table).join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => {
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| Error::Warehouse {
                        path: path.clone(),
                        message: format!(
                            "manifest is not valid JSON ({e}); restore it from a backup or re-import the table"
                        ),
                    })?;
                if m.format != MANIFEST_FORMAT {
                    return Err(Error::Warehouse {
                        path,
                        message: format!(
                            "manifest format {} is not supported by this doralens (expects {MANIFEST_FORMAT})",
                            m.format
                        ),
                    });
                }
                Ok(m)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                format: MANIFEST_FORMAT,
                ..Manifest::default()
            }),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    /// Absolute paths of the table's live Parquet files.
    pub fn table_files(&self, table: Table) -> Result<Vec<PathBuf>> {
        let dir = self.table_dir(table);
        Ok(self
            .manifest(table)?
            .segments
            .iter()
            .map(|s| dir.join(&s.file))
            .collect())
    }

    pub fn version(&self, table: Table) -> Result<u64> {
        Ok(self.manifest(table)?.version)
    }

    /// Reads the whole table (optionally only some columns, by name). Files
    /// are decoded in parallel, one thread per core; rows keep file order.
    pub fn read_table(&self, table: Table, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
        read_files_parallel(&self.table_files(table)?, columns)
    }

    /// The rows of `table` whose text column `column` equals `value`, with
    /// `columns` (all when None; a projection must include `column`). Row groups whose min/max
    /// statistics exclude `value` are not read: a forge sync writes one
    /// repository per segment, so one repository's commits cost a read of
    /// that repository, not of the warehouse.
    pub fn read_table_where(
        &self,
        table: Table,
        columns: Option<&[&str]>,
        column: &str,
        value: &str,
    ) -> Result<Vec<RecordBatch>> {
        read_files_parallel_where(&self.table_files(table)?, columns, Some((column, value)))
    }

    /// Inserts rows, replacing rows with the same natural key. `batches` must
    /// have the table's canonical schema and no key twice.
    pub fn upsert(&self, table: Table, batches: &[RecordBatch]) -> Result<UpsertReport> {
        let _lock = self.lock()?;
        let schema = table.schema();
        let dir = self.table_dir(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let mut manifest = self.manifest(table)?;
        self.remove_unreferenced(&dir, &manifest);

        let new_data = concat_batches(&schema, batches)?;
        let new_keys = KeyColumns::new(table, &new_data);
        let mut new_hashes: Vec<u64> = (0..new_data.num_rows()).map(|r| new_keys.hash(r)).collect();
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
            let exact = exact_new.get_or_insert_with(|| {
                (0..new_data.num_rows())
                    .map(|r| new_keys.exact(r))
                    .collect()
            });
            let old = concat_batches(&schema, &read_parquet(&dir.join(&seg.file), None)?)?;
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

        let mut to_write = rewritten;
        to_write.push(new_data);
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
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        atomic_write(&dir.join(MANIFEST), |f| f.write_all(&json))?;
        sync_dir(&dir);
        for seg in obsolete {
            let _ = fs::remove_file(dir.join(&seg.file));
            let _ = fs::remove_file(dir.join(&seg.keys));
        }
        Ok(UpsertReport {
            written: batches.iter().map(|b| b.num_rows()).sum(),
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
            &table.schema(),
            std::slice::from_ref(batch),
            None,
        )?;
        let key_cols = KeyColumns::new(table, batch);
        let mut hashes: Vec<u64> = (0..batch.num_rows()).map(|r| key_cols.hash(r)).collect();
        hashes.sort_unstable();
        let bytes = keys::encode(&hashes);
        atomic_write(&dir.join(&keys_file), |f| f.write_all(&bytes))?;
        Ok(Segment {
            file,
            keys: keys_file,
            rows: batch.num_rows(),
        })
    }

    /// Files left behind by a write that crashed before its manifest swap.
    fn remove_unreferenced(&self, dir: &Path, manifest: &Manifest) {
        let live: HashSet<&str> = manifest
            .segments
            .iter()
            .flat_map(|s| [s.file.as_str(), s.keys.as_str()])
            .collect();
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_data = name.starts_with("seg-") || name.contains(".tmp-");
            if is_data && !live.contains(name.as_ref()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn derived_dir(&self, name: &str) -> PathBuf {
        self.root.join("_derived").join(name)
    }

    /// The part files of a derived table (empty when it was never written).
    pub fn derived_files(&self, name: &str) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.derived_dir(name)) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("parquet"))
            .collect();
        files.sort();
        files
    }

    /// The stamp a derived table was written with, if every part has it.
    pub fn derived_stamp(&self, name: &str) -> Option<String> {
        let mut stamp: Option<String> = None;
        let files = self.derived_files(name);
        if files.is_empty() {
            return None;
        }
        for path in files {
            let file = File::open(path).ok()?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
            let this = builder
                .metadata()
                .file_metadata()
                .key_value_metadata()?
                .iter()
                .find(|kv| kv.key == STAMP_KEY)
                .and_then(|kv| kv.value.clone())?;
            match &stamp {
                Some(s) if *s != this => return None,
                _ => stamp = Some(this),
            }
        }
        stamp
    }

    /// Writes a derived table as one Parquet part per element of `parts`,
    /// in parallel, into a fresh directory that then replaces the old one.
    /// A reader that looks in between finds no table (or stamps that do not
    /// match) and recomputes it; it never reads a half-written file.
    /// `incompressible` names columns of random-looking values (shas, keys):
    /// they are written plain, without a dictionary or compression, which
    /// cannot shrink them but cost time on every write and read.
    pub fn write_derived(
        &self,
        name: &str,
        schema: &SchemaRef,
        parts: &[Vec<RecordBatch>],
        stamp: &str,
        incompressible: &[&str],
    ) -> Result<()> {
        self.write_derived_streamed(
            name,
            schema,
            parts.len(),
            stamp,
            incompressible,
            &|part, sink| parts[part].iter().try_for_each(|b| sink(b.clone())),
        )
    }

    /// [`Warehouse::write_derived`] for a table too large to hold in memory
    /// twice: `produce(part, sink)` hands part `part`'s batches to `sink` one
    /// at a time, and each is encoded as it arrives. Parts are produced and
    /// written on their own threads.
    pub fn write_derived_streamed(
        &self,
        name: &str,
        schema: &SchemaRef,
        parts: usize,
        stamp: &str,
        incompressible: &[&str],
        produce: &(dyn Fn(usize, &mut BatchSink) -> Result<()> + Sync),
    ) -> Result<()> {
        let dir = self.derived_dir(name);
        let parent = dir.parent().expect("derived dir");
        fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
        let fresh = parent.join(format!("{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&fresh);
        fs::create_dir_all(&fresh).map_err(|e| Error::io("cannot create", &fresh, e))?;
        let part_numbers: Vec<usize> = (0..parts.max(1)).collect();
        crate::on_threads(&part_numbers, |&i| {
            let path = fresh.join(format!("part-{i:03}.parquet"));
            write_parquet_tuned(&path, schema, Some(stamp), incompressible, &mut |sink| {
                if i < parts { produce(i, sink) } else { Ok(()) }
            })
        })
        .into_iter()
        .collect::<Result<()>>()?;
        let old = parent.join(format!("{name}.old-{}", std::process::id()));
        if dir.exists() {
            fs::rename(&dir, &old).map_err(|e| Error::io("cannot replace", &dir, e))?;
        }
        fs::rename(&fresh, &dir).map_err(|e| Error::io("cannot replace", &dir, e))?;
        let _ = fs::remove_dir_all(&old);
        sync_dir(parent);
        Ok(())
    }

    pub fn read_state(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let path = self.root.join("_state").join(format!("{name}.json"));
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Warehouse {
                    path,
                    message: format!("state file is not valid JSON: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    pub fn write_state(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        let dir = self.root.join("_state");
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let bytes = serde_json::to_vec_pretty(value).expect("json");
        atomic_write(&dir.join(format!("{name}.json")), |f| f.write_all(&bytes))
    }
}

/// Reads many Parquet files on all cores; batches keep the files' order.
pub fn read_files_parallel(
    files: &[PathBuf],
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>> {
    read_files_parallel_where(files, columns, None)
}

fn read_files_parallel_where(
    files: &[PathBuf],
    columns: Option<&[&str]>,
    only: Option<(&str, &str)>,
) -> Result<Vec<RecordBatch>> {
    let threads = crate::cores().min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Vec<RecordBatch>>>> =
        (0..files.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= files.len() {
                        break;
                    }
                    let r = read_parquet_where(&files[i], columns, only);
                    slots.lock().expect("no panics while holding")[i] = Some(r);
                }
            });
        }
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r.expect("every file read")?);
    }
    Ok(out)
}

pub fn read_parquet(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    read_parquet_where(path, columns, None)
}

/// The row groups of a Parquet file whose min/max statistics for the text
/// column `column` admit `value` (all of them when the file has no such
/// column or no statistics).
pub fn row_groups_holding(
    metadata: &datafusion::parquet::file::metadata::ParquetMetaData,
    column: &str,
    value: &str,
) -> Vec<usize> {
    use datafusion::parquet::file::statistics::Statistics;
    let all = 0..metadata.num_row_groups();
    let leaf = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == column);
    let Some(leaf) = leaf else {
        return all.collect();
    };
    let wanted = value.as_bytes();
    all.filter(|&g| {
        // Truncated statistics stay conservative: a shortened min is
        // smaller, a shortened max is rounded up.
        match metadata.row_group(g).column(leaf).statistics() {
            Some(Statistics::ByteArray(s)) => {
                s.min_bytes_opt().is_none_or(|min| min <= wanted)
                    && s.max_bytes_opt().is_none_or(|max| wanted <= max)
            }
            _ => true,
        }
    })
    .collect()
}

/// [`read_parquet`], keeping only rows whose text column equals a value
/// (`only`), and skipping row groups whose statistics rule it out.
fn read_parquet_where(
    path: &Path,
    columns: Option<&[&str]>,
    only: Option<(&str, &str)>,
) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(64 * 1024);
    if let Some((column, value)) = only {
        let groups = row_groups_holding(builder.metadata(), column, value);
        builder = builder.with_row_groups(groups);
    }
    if let Some(cols) = columns {
        let schema = builder.schema().clone();
        let indices: Vec<usize> = cols
            .iter()
            .map(|c| {
                schema.index_of(c).map_err(|_| Error::Warehouse {
                    path: path.to_path_buf(),
                    message: format!("column `{c}` is missing from this file"),
                })
            })
            .collect::<Result<_>>()?;
        let mask =
            datafusion::parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), indices);
        builder = builder.with_projection(mask);
    }
    let reader = builder.build()?;
    let batches = reader.map(|b| b.map_err(Error::from));
    let Some((column, value)) = only else {
        return batches.collect();
    };
    batches
        .map(|batch| {
            let batch = batch?;
            let Some(text) = batch.column_by_name(column) else {
                return Err(Error::Warehouse {
                    path: path.to_path_buf(),
                    message: format!("column `{column}` is missing from this file"),
                });
            };
            let keep: BooleanArray = text
                .as_string::<i32>()
                .iter()
                .map(|v| Some(v == Some(value)))
                .collect();
            Ok(filter_record_batch(&batch, &keep)?)
        })
        .collect()
}

/// Writes Parquet atomically (temp file, fsync, rename).
pub fn write_parquet(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    stamp: Option<&str>,
) -> Result<()> {
    write_parquet_tuned(path, schema, stamp, &[], &mut |sink| {
        batches.iter().try_for_each(|b| sink(b.clone()))
    })
}

/// Receives a table's batches one at a time (see
/// [`Warehouse::write_derived_streamed`]).
pub type BatchSink<'a> = dyn FnMut(RecordBatch) -> Result<()> + 'a;

/// [`write_parquet`], with `incompressible` columns written plain and
/// uncompressed (see [`Warehouse::write_derived`]).
pub fn write_parquet_tuned(
    path: &Path,
    schema: &SchemaRef,
    stamp: Option<&str>,
    incompressible: &[&str],
    produce: &mut dyn FnMut(&mut BatchSink) -> Result<()>,
) -> Result<()> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for column in incompressible {
        let path = datafusion::parquet::schema::types::ColumnPath::from(*column);
        props = props
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
            .set_column_encoding(path, datafusion::parquet::basic::Encoding::PLAIN);
    }
    if let Some(stamp) = stamp {
        props = props.set_key_value_metadata(Some(vec![KeyValue::new(
            STAMP_KEY.to_string(),
            stamp.to_string(),
        )]));
    }
    let props = props.build();
    let mut result: Result<()> = Ok(());
    atomic_write(path, |f| {
        let mut writer = ArrowWriter::try_new(f, Arc::clone(schema), Some(props))
            .map_err(std::io::Error::other)?;
        let mut sink = |b: RecordBatch| -> Result<()> { Ok(writer.write(&b)?) };
        if let Err(e) = produce(&mut sink) {
            result = Err(e);
            return Err(std::io::Error::other("parquet write failed"));
        }
        writer.close().map_err(std::io::Error::other)?;
        Ok(())
    })
    .and(result)
}

/// Writes `path` through a temporary file in the same directory, fsyncs it
/// and renames it into place, so readers see the old or the new content only.
pub fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!("{name}.tmp-{}", std::process::id()));
    let run = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    run().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
