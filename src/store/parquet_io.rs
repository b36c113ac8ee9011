//! Reading and writing the warehouse's Parquet files: segments and the
//! parts of derived sets, written atomically, read in parallel, optionally
//! only the rows (and row groups) holding one value of a text column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::base::fs::atomic_write;
use crate::error::{Error, Result};

/// Rows per Parquet row group: DataFusion parallelises scans by row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// The key of the file metadata that records the inputs a file was
/// computed from.
const STAMP_KEY: &str = "doralens.stamp";

/// Reads many Parquet files on all cores; batches keep the files' order.
pub fn read_files_parallel(
    files: &[PathBuf],
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>> {
    read_files_parallel_where(files, columns, None)
}

pub(super) fn read_files_parallel_where(
    files: &[PathBuf],
    columns: Option<&[&str]>,
    only: Option<(&str, &str)>,
) -> Result<Vec<RecordBatch>> {
    let read: Vec<Vec<RecordBatch>> = files
        .par_iter()
        .map(|f| read_parquet_where(f, columns, only))
        .collect::<Result<_>>()?;
    Ok(read.into_iter().flatten().collect())
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
/// [`DerivedWriter::write_streamed`](super::warehouse::DerivedWriter::write_streamed)).
pub type BatchSink<'a> = dyn FnMut(RecordBatch) -> Result<()> + 'a;

/// [`write_parquet`], with `incompressible` columns written plain and
/// uncompressed (see
/// [`DerivedWriter::write`](super::warehouse::DerivedWriter::write)).
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::store::schema::Table;
    use crate::store::testing::{deployments, texts, warehouse_error};

    fn metadata(path: &Path) -> Arc<datafusion::parquet::file::metadata::ParquetMetaData> {
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        Arc::new(reader.metadata().clone())
    }

    /// A file of one text column `repo`, two rows per row group.
    fn repos_file(path: &Path, repos: &[&str]) {
        let schema = Arc::new(Schema::new(vec![Field::new("repo", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(repos.to_vec()))],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn parquet_round_trips_with_its_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("part.parquet");
        let batches = deployments(&["d1", "d2", "d3"]);
        write_parquet(&path, &Table::Deployments.schema(), &batches, Some("4,2")).unwrap();
        assert_eq!(read_parquet(&path, None).unwrap(), batches);
        let stamp: Vec<_> = metadata(&path)
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .iter()
            .filter(|kv| kv.key == STAMP_KEY)
            .map(|kv| kv.value.clone())
            .collect();
        assert_eq!(stamp, [Some("4,2".to_string())]);
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }

    #[test]
    fn a_projection_reads_only_the_named_columns() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("part.parquet");
        let batches = deployments(&["d1", "d2"]);
        write_parquet(&path, &Table::Deployments.schema(), &batches, None).unwrap();
        let read = read_parquet(&path, Some(&["status", "id"])).unwrap();
        let columns: Vec<_> = read[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(columns, ["id", "status"], "in the file's order");
        assert_eq!(texts(&read, "id"), ["d1", "d2"]);
        let (p, message) = warehouse_error(read_parquet(&path, Some(&["id", "nope"])));
        assert_eq!(p, path);
        assert!(message.contains("`nope`"), "{message}");
    }

    #[test]
    fn files_read_in_parallel_keep_their_order() {
        let tmp = tempfile::tempdir().unwrap();
        let schema = Table::Deployments.schema();
        let mut files = Vec::new();
        for name in ["c", "a", "b"] {
            let path = tmp.path().join(format!("{name}.parquet"));
            write_parquet(&path, &schema, &deployments(&[name]), None).unwrap();
            files.push(path);
        }
        let read = read_files_parallel(&files, Some(&["id"])).unwrap();
        let ids: Vec<String> = read
            .iter()
            .flat_map(|b| texts(std::slice::from_ref(b), "id"))
            .collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }

    #[test]
    fn row_groups_holding_a_value_are_told_by_their_statistics() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("repos.parquet");
        repos_file(&path, &["a/x", "a/y", "b/x", "b/y", "c/x", "c/x"]);
        let meta = metadata(&path);
        assert_eq!(meta.num_row_groups(), 3);
        assert_eq!(row_groups_holding(&meta, "repo", "a/x"), [0]);
        assert_eq!(row_groups_holding(&meta, "repo", "b/x"), [1]);
        assert_eq!(row_groups_holding(&meta, "repo", "c/x"), [2]);
        // Between two groups' ranges, and past them all: none to read.
        assert!(row_groups_holding(&meta, "repo", "a/z").is_empty());
        assert!(row_groups_holding(&meta, "repo", "d").is_empty());
        // No such column: every group may hold it.
        assert_eq!(row_groups_holding(&meta, "nope", "a/x"), [0, 1, 2]);
    }

    #[test]
    fn reading_where_keeps_only_the_rows_holding_the_value() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("repos.parquet");
        repos_file(&path, &["a", "b", "b", "c", "b", "d"]);
        let files = [path.clone()];
        let read = read_files_parallel_where(&files, None, Some(("repo", "b"))).unwrap();
        assert_eq!(texts(&read, "repo"), ["b", "b", "b"]);
        let none = read_files_parallel_where(&files, None, Some(("repo", "z"))).unwrap();
        assert_eq!(none.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
        let (p, _) = warehouse_error(read_files_parallel_where(&files, None, Some(("nope", "b"))));
        assert_eq!(p, path);
    }

    #[test]
    fn incompressible_columns_are_written_plain() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("part.parquet");
        let batches = deployments(&["d1", "d2"]);
        write_parquet_tuned(
            &path,
            &Table::Deployments.schema(),
            None,
            &["sha"],
            &mut |sink| batches.iter().try_for_each(|b| sink(b.clone())),
        )
        .unwrap();
        let meta = metadata(&path);
        let group = meta.row_group(0);
        let compression = |name: &str| {
            group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .map(|c| c.compression())
                .unwrap()
        };
        assert_eq!(compression("sha"), Compression::UNCOMPRESSED);
        assert_eq!(compression("repo"), Compression::SNAPPY);
        assert_eq!(read_parquet(&path, None).unwrap(), batches);
    }

    #[test]
    fn a_failing_producer_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("part.parquet");
        let batches = deployments(&["d1"]);
        let result = write_parquet_tuned(
            &path,
            &Table::Deployments.schema(),
            None,
            &[],
            &mut |sink| {
                sink(batches[0].clone())?;
                Err(Error::Warehouse {
                    path: PathBuf::from("source"),
                    message: "gave up".into(),
                })
            },
        );
        assert!(result.is_err());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
