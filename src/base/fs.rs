//! Files written so that a reader sees the old content or the new, never
//! a part: through a temporary file beside the target (named after our
//! pid, so a later run can tell a killed writer's leftovers), fsync, rename.

use std::fs::{self, File};
use std::path::Path;

use crate::error::{Error, Result};

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
