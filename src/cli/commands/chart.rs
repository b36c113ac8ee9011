//! `doralens chart <metric>`.

use crate::cli::args::ChartArgs;
use crate::error::Result;
use crate::metrics::DEFAULT_WINDOW_DAYS;
use crate::render::metric_chart;

use super::Context;

pub async fn run(ctx: &Context, args: ChartArgs) -> Result<()> {
    let mut opts = args.window.options(DEFAULT_WINDOW_DAYS)?;
    opts.interval = Some(args.interval);
    opts.group = args.by;
    opts.production = args.env.pattern()?;
    opts.benchmark = args.bench.load()?;
    opts.validate()?;
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    for path in metric_chart::draw(&engine, &opts, args.metric, args.kind, &args.out).await? {
        println!("{}", path.display());
    }
    Ok(())
}
