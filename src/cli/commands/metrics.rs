//! `doralens metrics`.

use crate::cli::args::MetricsArgs;
use crate::cli::output::{emit, emit_metrics_columns};
use crate::error::Result;
use crate::metrics::{self, DEFAULT_WINDOW_DAYS, MetricsOptions, interval};

use super::Context;

pub async fn run(ctx: &Context, args: MetricsArgs) -> Result<()> {
    let opts = options(&args)?;
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    if args.breakdown {
        let table = metrics::breakdown(&engine, &opts).await?;
        return emit(
            args.out.format,
            args.out.output.as_deref(),
            &table.schema,
            &table.batches,
        );
    }
    let table = metrics::compute(&engine, &opts).await?;
    emit_metrics_columns(
        args.out.format,
        args.out.output.as_deref(),
        &table,
        args.columns.as_deref(),
    )
}

pub fn options(args: &MetricsArgs) -> Result<MetricsOptions> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.interval = args.interval;
    opts.group = args.by;
    opts.scope = args.scope.scope();
    opts.incident_window = interval::parse_span("--incident-window", &args.incident_window)?;
    opts.production = args.env.pattern()?;
    opts.benchmark = args.bench.load()?;
    opts.rework_labels = crate::cli::args::rework_labels(&args.rework_labels);
    opts.include_baseline = args.include_baseline;
    opts.bots = args.bots.rule()?;
    opts.batch = args.batch.options()?;
    opts.flag_stale_days = args.flag_stale.flag_stale_days;
    opts.validate()?;
    Ok(opts)
}
