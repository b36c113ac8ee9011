//! What killed processes leave behind: temporary files and directories
//! named after their process id (`<name>.tmp-<pid>` beside the file being
//! written, `<prefix><pid>-...` for temporary derived sets and remote
//! working copies), removed once that process is gone.

use std::fs;
use std::path::Path;

use super::schema::Table;
use super::warehouse::Warehouse;

impl Warehouse {
    /// Temporary files and directories (`<name>.tmp-<pid>`) of processes
    /// that were killed mid-write, wherever the warehouse keeps them: the
    /// run that follows a kill leaves nothing behind even when it has
    /// nothing to write where the killed one was writing.
    pub(super) fn sweep_dead_temp_files(&self) {
        let mut dirs = vec![self.root().join("_state"), self.derived_root()];
        dirs.extend(Table::ALL.iter().map(|t| self.table_dir(*t)));
        for dir in dirs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let Some((_, pid)) = name.rsplit_once(".tmp-") else {
                    continue;
                };
                if process_is_gone(pid) {
                    let path = entry.path();
                    let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                }
            }
        }
    }
}

/// Directories in `base` named `<prefix><pid>-...` whose process no longer
/// exists (temporary derived sets, working copies of a remote warehouse).
pub(crate) fn remove_dead_dirs(base: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        if process_is_gone(rest.split('-').next().unwrap_or("")) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// True when `pid` is a process id and no such process exists (as far as
/// `/proc` tells; false wherever it cannot tell).
pub(crate) fn process_is_gone(pid: &str) -> bool {
    let Ok(n) = pid.parse::<u32>() else {
        return false;
    };
    n != std::process::id()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_warehouse;

    /// Larger than any Linux pid (`pid_max` is at most 2^22).
    const DEAD: &str = "4294967295";

    #[test]
    fn only_a_process_id_without_a_process_is_gone() {
        assert!(process_is_gone(DEAD));
        assert!(!process_is_gone(&std::process::id().to_string()));
        assert!(!process_is_gone("1"), "init is always there");
        assert!(!process_is_gone("abc"));
        assert!(!process_is_gone(""));
    }

    #[test]
    fn dead_processes_directories_go_and_the_rest_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = std::process::id();
        let names = [
            format!("work-{DEAD}-a"),
            format!("work-{ours}-b"),
            "work-notapid-c".to_string(),
            format!("other-{DEAD}-d"),
        ];
        for name in &names {
            fs::create_dir_all(tmp.path().join(name).join("inner")).unwrap();
        }
        remove_dead_dirs(tmp.path(), "work-");
        let exists: Vec<bool> = names.iter().map(|n| tmp.path().join(n).exists()).collect();
        assert_eq!(exists, [false, true, true, true]);
    }

    #[test]
    fn taking_the_write_lock_sweeps_killed_writers_temporary_files() {
        let (_tmp, wh) = temp_warehouse();
        let ours = std::process::id();
        let table = wh.table_dir(Table::Deployments);
        let state = wh.root().join("_state");
        let derived = wh.derived_root();
        for dir in [&table, &state, &derived] {
            fs::create_dir_all(dir).unwrap();
        }
        let dead_file = table.join(format!("seg-000001.parquet.tmp-{DEAD}"));
        let dead_state = state.join(format!("cursor.json.tmp-{DEAD}"));
        let dead_dir = derived.join(format!("attribution-g000002.tmp-{DEAD}"));
        let live_file = table.join(format!("seg-000002.parquet.tmp-{ours}"));
        let data = table.join("seg-000003.parquet");
        for f in [&dead_file, &dead_state, &live_file, &data] {
            fs::write(f, b"x").unwrap();
        }
        fs::create_dir_all(dead_dir.join("deployment_commits")).unwrap();
        let _lock = wh.lock().unwrap();
        assert!(!dead_file.exists() && !dead_state.exists() && !dead_dir.exists());
        assert!(live_file.exists(), "our own write is not a leftover");
        assert!(data.exists(), "only temporary names are swept");
    }
}
