//! `doralens export`: the organisation's and each team's metrics for
//! dashboards.

use std::io::Write;

use crate::cli::args::{ExportArgs, ExportFormat};
use crate::cli::output::emit;
use crate::error::Result;
use crate::metrics::{self, DEFAULT_WINDOW_DAYS};
use crate::render::Format;

use super::{Context, open_engine};

/// `export`: OpenMetrics of the organisation and each team, or the same
/// rows as a table (the organisation's with an empty team).
pub async fn run(ctx: &Context, args: &ExportArgs) -> Result<()> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.production = args.env.pattern()?;
    opts.validate()?;
    let warehouse = ctx.existing()?;
    let engine = open_engine(&warehouse, &opts.production).await?;
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
    let (org, teams) = metrics::organisation_and_teams(&engine, &opts).await?;
    // The team column is null on the organisation's row.
    let mut fields: Vec<datafusion::arrow::datatypes::Field> = teams
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = fields[0].clone().with_nullable(true);
    let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let mut batches = Vec::new();
    for batch in &org.batches {
        // The organisation row: the team columns' place, empty.
        let mut columns = vec![datafusion::arrow::array::new_null_array(
            &datafusion::arrow::datatypes::DataType::Utf8,
            batch.num_rows(),
        )];
        columns.extend(batch.columns().iter().cloned());
        batches.push(datafusion::arrow::array::RecordBatch::try_new(
            schema.clone(),
            columns,
        )?);
    }
    for batch in &teams.batches {
        batches.push(batch.clone().with_schema(schema.clone())?);
    }
    emit(format, args.output.as_deref(), &schema, &batches)
}
