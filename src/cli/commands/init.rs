//! `doralens init`: a commented doralens.toml to start from.

use std::io::Write;
use std::path::Path;

use crate::cli::config;
use crate::error::{Error, Result};

pub fn run(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::usage(
            "--path",
            format!("{} exists; add --force to replace it", path.display()),
        ));
    }
    crate::base::fs::atomic_write(path, |f| f.write_all(config::starter().as_bytes()))?;
    eprintln!(
        "wrote {}: list your repositories, export GITHUB_TOKEN / GITLAB_TOKEN, then run `doralens ingest`",
        path.display()
    );
    Ok(())
}
