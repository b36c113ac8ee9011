//! Small JSON documents the warehouse keeps beside the tables, such as
//! sync cursors: `_state/<name>.json`, each replaced atomically.

use std::fs;
use std::io::Write;

use super::warehouse::Warehouse;
use crate::base::fs::atomic_write;
use crate::error::{Error, Result};

impl Warehouse {
    /// The names of the small documents under `_state/`.
    #[cfg(feature = "cloud")]
    pub(crate) fn state_names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root().join("_state")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }

    /// The document `name` (None when there is none).
    pub fn read_state(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let path = self.root().join("_state").join(format!("{name}.json"));
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

    /// Replaces the document `name`. On a handle recording a run, the
    /// run's `syncs` row keeps the cursor replaced and the one written.
    pub fn write_state(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        if let Some(stamp) = self.provenance() {
            let before = self.read_state(name).ok().flatten();
            stamp.note_cursor(name, before, value);
        }
        let dir = self.root().join("_state");
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let bytes = serde_json::to_vec_pretty(value).expect("json");
        atomic_write(&dir.join(format!("{name}.json")), |f| f.write_all(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::testing::{temp_warehouse, warehouse_error};

    #[test]
    fn a_document_round_trips_and_a_missing_one_is_none() {
        let (_tmp, wh) = temp_warehouse();
        assert_eq!(wh.read_state("github-acme").unwrap(), None);
        wh.write_state("github-acme", &json!({"since": 5})).unwrap();
        wh.write_state("github-acme", &json!({"since": 9, "done": ["a"]}))
            .unwrap();
        assert_eq!(
            wh.read_state("github-acme").unwrap(),
            Some(json!({"since": 9, "done": ["a"]}))
        );
        assert_eq!(wh.read_state("gitlab").unwrap(), None);
    }

    #[test]
    fn a_damaged_document_is_an_error_naming_it() {
        let (_tmp, wh) = temp_warehouse();
        wh.write_state("cursor", &json!(1)).unwrap();
        let path = wh.root().join("_state/cursor.json");
        fs::write(&path, b"{\"since\":").unwrap();
        let (p, message) = warehouse_error(wh.read_state("cursor"));
        assert_eq!(p, path);
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[cfg(feature = "cloud")]
    #[test]
    fn state_names_lists_the_documents_sorted() {
        let (_tmp, wh) = temp_warehouse();
        assert!(wh.state_names().is_empty());
        for name in ["b", "a"] {
            wh.write_state(name, &json!(null)).unwrap();
        }
        fs::write(wh.root().join("_state/notes.txt"), b"").unwrap();
        assert_eq!(wh.state_names(), ["a", "b"]);
    }
}
