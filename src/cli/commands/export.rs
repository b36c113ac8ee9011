//! `doralens export`: the organisation's and each team's metrics for
//! dashboards.

use std::io::Write;

use crate::cli::args::{ExportArgs, ExportFormat};
use crate::cli::output::emit;
use crate::error::Result;
use crate::metrics::{self, DEFAULT_WINDOW_DAYS};
use crate::render::Format;

use super::Context;

/// `export`: OpenMetrics of the organisation and each team, or the same
/// rows as a table (the organisation's with an empty team).
pub async fn run(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.production = args.env.pattern()?;
    opts.bots = args.bots.rule()?;
    opts.validate()?;
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    let format = match args.format {
        ExportFormat::Openmetrics => {
            let text = crate::serve::openmetrics_text(&engine, &opts).await?;
            return match &args.output {
                Some(path) => crate::base::fs::atomic_write(path, |f| f.write_all(text.as_bytes())),
                None => {
                    print!("{text}");
                    Ok(())
                }
            };
        }
        ExportFormat::Json => Format::Json,
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Parquet => Format::Parquet,
    };
    let table = metrics::organisation_and_teams_table(&engine, &opts).await?;
    emit(
        format,
        args.output.as_deref(),
        &table.schema,
        &table.batches,
    )
}
