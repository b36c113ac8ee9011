//! `doralens sql "<query>"` / `sql -f query.sql`.

use crate::cli::args::SqlArgs;
use crate::cli::output::emit;
use crate::error::{Error, Result};
use crate::metrics::{self, DEFAULT_WINDOW_DAYS};

use super::Context;

pub async fn run(ctx: &Context, args: SqlArgs) -> Result<()> {
    let query = match (&args.query, &args.file) {
        (Some(q), None) => q.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| Error::io("cannot read", f, e))?
        }
        _ => return Err(Error::usage("QUERY", "give a query, or -f FILE")),
    };
    let warehouse = ctx.existing()?;
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.production = args.env.pattern()?;
    opts.flag_stale_days = args.flag_stale.flag_stale_days;
    opts.validate()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    metrics::register_views(&engine, &opts).await?;
    let (schema, batches) = engine.user_sql(&query).await?;
    emit(
        args.out.format,
        args.out.output.as_deref(),
        &schema,
        &batches,
    )
}
