//! `doralens benchmark`: each team's level per metric per quarter, and a
//! chart per metric.

use crate::cli::args::BenchmarkArgs;
use crate::cli::output::emit;
use crate::error::Result;
use crate::metrics::catalogue;
use crate::render::metric_chart;

use super::Context;

pub async fn run(ctx: &Context, args: BenchmarkArgs) -> Result<()> {
    let mut opts = args.window.options(365)?;
    opts.interval = Some(args.interval);
    opts.group = Some(args.by);
    opts.production = args.env.pattern()?;
    opts.benchmark = args.bench.load()?;
    opts.validate()?;
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    let (schema, batch) =
        crate::metrics::benchmark::table(&engine, &opts, args.min_deployments).await?;
    // A chart per levelled metric.
    let levelled = catalogue::charted().filter(|(m, _)| m.level.is_some());
    for (metric, _) in levelled {
        for path in metric_chart::draw(
            &engine,
            &opts,
            metric,
            metric_chart::ChartKind::Series,
            &args.charts,
        )
        .await?
        {
            eprintln!("wrote {}", path.display());
        }
    }
    emit(
        args.out.format,
        args.out.output.as_deref(),
        &schema,
        &[batch],
    )
}
