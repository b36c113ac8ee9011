//! `doralens report`: the week's report as report.html, report.md and
//! charts/.

use std::path::PathBuf;

use crate::cli::args::ReportArgs;
use crate::error::Result;
use crate::metrics::{MetricsOptions, interval};

use super::Context;

/// `report`: the week's report as report.html, report.md and charts/.
pub async fn run(ctx: &Context, args: &ReportArgs) -> Result<()> {
    use crate::report;
    let monday = match &args.week {
        Some(w) => report::parse_week(w)?,
        None => report::last_complete_week(interval::Timestamp::now()),
    };
    let week = report::week_name(monday);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&week));
    let mut opts = MetricsOptions::defaults(monday);
    opts.production = args.env.pattern()?;
    opts.benchmark = args.bench.load()?;
    opts.bots = args.bots.rule()?;
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    let links = crate::store::links::WebLinks::load(&warehouse);
    let built = report::build(&engine, &opts, monday, &links).await?;
    for path in report::write(&built, &dir)? {
        println!("{}", path.display());
    }
    Ok(())
}
