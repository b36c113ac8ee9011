//! Test helpers: a temp workspace with its own warehouse, and the binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn warehouse(&self) -> PathBuf {
        self.path("warehouse")
    }

    /// `doralens --warehouse <ws>/warehouse ARGS...`
    pub fn doralens(&self, args: &[&str]) -> Command {
        self.doralens_in(&self.warehouse(), args)
    }

    /// `doralens --warehouse WAREHOUSE ARGS...`, run inside the workspace.
    pub fn doralens_in(&self, warehouse: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("doralens").expect("binary");
        cmd.current_dir(self.dir.path())
            .env_remove("DORALENS_WAREHOUSE")
            .arg("--warehouse")
            .arg(warehouse)
            .args(args);
        cmd
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
