//! `doralens explain deployment|incident|change <id>` (each ends with the
//! row's provenance, `store::provenance`) and `doralens explain
//! flag-changes` (over a window).

use crate::base::time::Timestamp;
use crate::cli::args::{ExplainArgs, ExplainWhat};
use crate::error::Result;
use crate::metrics::{MetricsOptions, interval};

use super::Context;

pub async fn run(ctx: &Context, args: &ExplainArgs) -> Result<()> {
    let mut opts = MetricsOptions::defaults(Timestamp::now());
    opts.production = args.env.pattern()?;
    opts.incident_window = interval::parse_span("--incident-window", &args.incident_window)?;
    opts.rework_labels = crate::cli::args::rework_labels(&args.rework_labels);
    opts.bots = args.bots.rule()?;
    opts.validate()?;
    if let ExplainWhat::FlagChanges { window } = &args.what {
        let w = window.options(90)?;
        opts.from = w.from;
        opts.to = w.to;
        opts.validate()?;
    }
    let warehouse = ctx.existing()?;
    let engine = ctx.engine(&warehouse, &opts.production).await?;
    let text = match &args.what {
        ExplainWhat::Deployment { id } => crate::explain::deployment(&engine, &opts, id).await?,
        ExplainWhat::Incident { id } => crate::explain::incident(&engine, &opts, id).await?,
        ExplainWhat::Change { id } => crate::explain::change(&engine, &opts, id).await?,
        ExplainWhat::FlagChanges { .. } => crate::explain::flag_changes(&engine, &opts).await?,
    };
    print!("{text}");
    Ok(())
}
