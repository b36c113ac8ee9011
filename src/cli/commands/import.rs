//! `doralens import <table> <file>...`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::schema::Table;

use super::Context;

pub fn run(ctx: &Context, table: &str, files: &[PathBuf]) -> Result<()> {
    let table = Table::from_name(table).ok_or_else(|| {
        Error::usage(
            "TABLE",
            format!(
                "unknown table `{table}`; expected one of {}",
                Table::names()
            ),
        )
    })?;
    let warehouse = ctx.open()?;
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let report = crate::ingest::files::import_files(&warehouse, table, &paths)?;
    eprintln!(
        "imported {} rows into {table} ({} replaced); {table} now has {} rows",
        report.written, report.replaced, report.total
    );
    Ok(())
}
