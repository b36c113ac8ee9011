//! A table's manifest, `<table>/_manifest.json`: its live segments and the
//! superseded ones still kept for readers. A write commits by replacing the
//! manifest atomically (rename); readers open only the files it names.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::schema::Table;
use super::warehouse::{Warehouse, sync_dir};
use crate::base::fs::atomic_write;
use crate::error::{Error, Result};

const MANIFEST: &str = "_manifest.json";
pub(super) const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// Increases on every committed write; derived tables record it.
    pub version: u64,
    pub next_segment: u64,
    pub segments: Vec<Segment>,
    /// Segments superseded by a write, kept until no reader can need them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retired>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    pub file: String,
    pub keys: String,
    pub rows: usize,
    /// Size of the Parquet file, checked before reading (absent in
    /// warehouses written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// A superseded segment's files and when they were superseded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retired {
    pub files: Vec<String>,
    pub at_micros: i64,
}

impl Manifest {
    pub fn rows(&self) -> usize {
        self.segments.iter().map(|s| s.rows).sum()
    }
}

impl Warehouse {
    /// The table's manifest (an empty one, at version 0, when the table
    /// was never written).
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

    pub(super) fn commit_manifest(&self, dir: &Path, manifest: &Manifest) -> Result<()> {
        let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
        atomic_write(&dir.join(MANIFEST), |f| f.write_all(&json))?;
        sync_dir(dir);
        Ok(())
    }

    /// Puts `manifest` in place as `table`'s manifest (a working copy of a
    /// remote warehouse is laid out this way; see `store::remote`).
    #[cfg(feature = "cloud")]
    pub(crate) fn install_manifest(&self, table: Table, manifest: &Manifest) -> Result<()> {
        let dir = self.table_dir(table);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let mut manifest = manifest.clone();
        manifest.format = MANIFEST_FORMAT;
        self.commit_manifest(&dir, &manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{temp_warehouse, warehouse_error};

    fn manifest_path(wh: &Warehouse) -> std::path::PathBuf {
        wh.table_dir(Table::Deployments).join(MANIFEST)
    }

    fn write_raw(wh: &Warehouse, bytes: &[u8]) {
        let dir = wh.table_dir(Table::Deployments);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(MANIFEST), bytes).unwrap();
    }

    #[test]
    fn a_table_never_written_has_an_empty_manifest_at_version_0() {
        let (_tmp, wh) = temp_warehouse();
        let m = wh.manifest(Table::Deployments).unwrap();
        assert_eq!(m.format, MANIFEST_FORMAT);
        assert_eq!((m.version, m.rows(), m.segments.len()), (0, 0, 0));
        assert!(!manifest_path(&wh).exists(), "reading creates nothing");
    }

    #[test]
    fn a_manifest_round_trips() {
        let (_tmp, wh) = temp_warehouse();
        let segment = |n: u64, rows, bytes| Segment {
            file: format!("seg-{n:06}.parquet"),
            keys: format!("seg-{n:06}.keys"),
            rows,
            bytes,
        };
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            version: 7,
            next_segment: 3,
            segments: vec![segment(2, 10, Some(4096)), segment(3, 5, None)],
            retired: vec![Retired {
                files: vec!["seg-000001.parquet".into(), "seg-000001.keys".into()],
                at_micros: 1_700_000_000_000_000,
            }],
        };
        let dir = wh.table_dir(Table::Deployments);
        fs::create_dir_all(&dir).unwrap();
        wh.commit_manifest(&dir, &manifest).unwrap();
        let read = wh.manifest(Table::Deployments).unwrap();
        assert_eq!(read, manifest);
        assert_eq!(read.rows(), 15);
        // Nothing but the manifest: the temporary file was renamed away.
        let names: Vec<_> = fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn empty_and_absent_fields_stay_out_of_the_file() {
        // Warehouses written before `retired` and `bytes` existed read the
        // same, and a manifest without them is written as they were.
        let (_tmp, wh) = temp_warehouse();
        write_raw(
            &wh,
            br#"{"format":1,"version":2,"next_segment":1,
                "segments":[{"file":"seg-000001.parquet","keys":"seg-000001.keys","rows":3}]}"#,
        );
        let m = wh.manifest(Table::Deployments).unwrap();
        assert_eq!(m.segments[0].bytes, None);
        assert!(m.retired.is_empty());
        let dir = wh.table_dir(Table::Deployments);
        wh.commit_manifest(&dir, &m).unwrap();
        let text = fs::read_to_string(manifest_path(&wh)).unwrap();
        assert!(
            !text.contains("retired") && !text.contains("bytes"),
            "{text}"
        );
    }

    #[test]
    fn a_damaged_manifest_is_an_error_naming_the_file() {
        let (_tmp, wh) = temp_warehouse();
        write_raw(&wh, b"{\"format\":1,\"vers");
        let (path, message) = warehouse_error(wh.manifest(Table::Deployments));
        assert_eq!(path, manifest_path(&wh));
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[test]
    fn a_manifest_of_another_format_is_refused() {
        let (_tmp, wh) = temp_warehouse();
        write_raw(
            &wh,
            br#"{"format":2,"version":1,"next_segment":0,"segments":[]}"#,
        );
        let (path, message) = warehouse_error(wh.manifest(Table::Deployments));
        assert_eq!(path, manifest_path(&wh));
        assert!(message.contains("format 2"), "{message}");
    }
}
