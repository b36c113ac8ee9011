//! `doralens import <table> <file>...`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::schema::Table;

use super::Context;

/// One recorded run (`syncs`): every row's `_origin` is its file and line.
pub async fn run(ctx: &Context, table: &str, files: &[PathBuf]) -> Result<()> {
    let table = Table::from_name(table).ok_or_else(|| {
        Error::usage(
            "TABLE",
            format!(
                "unknown table `{table}`; expected one of {}",
                Table::names()
            ),
        )
    })?;
    if !table.importable() {
        return Err(Error::usage(
            "TABLE",
            format!(
                "`{table}` is written by doralens itself (one row per run) and cannot be imported"
            ),
        ));
    }
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let scope = files
        .iter()
        .map(|f| {
            std::path::absolute(f)
                .unwrap_or_else(|_| f.clone())
                .display()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ");
    ctx.recorded("import", &scope, async |ctx| {
        let warehouse = ctx.open()?;
        let report = crate::ingest::files::import_files(&warehouse, table, &paths)?;
        eprintln!(
            "imported {} rows into {table} ({} replaced); {table} now has {} rows",
            report.written, report.replaced, report.total
        );
        Ok(())
    })
    .await
}
