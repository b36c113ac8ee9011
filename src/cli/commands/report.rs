//! `doralens report`: the week's report as report.html, report.md and
//! charts/.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::args::ReportArgs;
use crate::error::{Error, Result};
use crate::metrics::{MetricsOptions, interval};

use super::{Context, open_engine};

/// `report`: the week's report as report.html, report.md and charts/.
pub async fn run(ctx: &Context, args: &ReportArgs) -> Result<()> {
    use crate::render::report;
    let monday = match &args.week {
        Some(w) => report::parse_week(w)?,
        None => report::last_complete_week(interval::now_micros()),
    };
    let week = report::week_name(monday);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&week));
    let mut opts = MetricsOptions::defaults(monday);
    opts.production = args.env.pattern()?;
    opts.benchmark = args.bench.load()?;
    let warehouse = ctx.existing()?;
    let engine = open_engine(&warehouse, &opts.production).await?;
    let links = crate::ingest::forge::WebLinks::load(&warehouse);
    let built = report::build(&engine, &opts, monday, &links).await?;
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| Error::io("cannot create", &charts, e))?;
    for (stem, _, svg) in &built.charts {
        let png = crate::render::chart::png(svg)?;
        crate::base::fs::atomic_write(&charts.join(format!("{stem}.svg")), |f| {
            f.write_all(svg.as_bytes())
        })?;
        crate::base::fs::atomic_write(&charts.join(format!("{stem}.png")), |f| f.write_all(&png))?;
    }
    for (name, content) in [
        ("report.md", report::markdown(&built)),
        ("report.html", report::html(&built)),
    ] {
        let path = dir.join(name);
        crate::base::fs::atomic_write(&path, |f| f.write_all(content.as_bytes()))?;
        println!("{}", path.display());
    }
    Ok(())
}
