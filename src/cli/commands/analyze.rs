//! `doralens analyze <path>`: ingest a local repository and print its
//! metrics (a throwaway warehouse unless --warehouse is given).

use crate::base::production::ProductionPattern;
use crate::cli::args::AnalyzeArgs;
use crate::cli::output::emit_metrics;
use crate::error::{Error, Result};
use crate::metrics;
use crate::store::warehouse::Warehouse;

use super::Context;

pub async fn run(ctx: &Context, args: &AnalyzeArgs) -> Result<()> {
    if args.selection.deploy_tags.is_none() {
        return Err(Error::usage(
            "--deploy-tags",
            "analyze needs to know which tags are releases, e.g. --deploy-tags 'v*'",
        ));
    }
    // Without --warehouse the analysis is throwaway: a temp directory.
    let (dir, temporary) = match &ctx.warehouse {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("doralens-analyze-{}", std::process::id())),
            true,
        ),
    };
    let result = async {
        let warehouse = Warehouse::open(&dir)?;
        let reports = crate::ingest::git::ingest_all(
            &warehouse,
            std::slice::from_ref(&args.path),
            &args.selection.options(false)?,
        )?;
        let r = &reports[0];
        eprintln!(
            "{}: {} commits, {} releases (tags), {} rollbacks",
            r.repo, r.commits, r.deployments, r.rollbacks
        );
        // Releases are rarer than deployments: a year by default.
        let mut opts = args.window.options(365)?;
        opts.interval = args.interval;
        opts.benchmark = args.bench.load()?;
        opts.production = ProductionPattern::new(&regex::escape(&args.selection.environment))?;
        opts.validate()?;
        let engine = ctx.engine(&warehouse, &opts.production).await?;
        let table = metrics::compute(&engine, &opts).await?;
        if table.num_rows() == 0 {
            eprintln!(
                "no release tag falls in the window {} to {}; widen it with --from",
                opts.from, opts.to
            );
        }
        emit_metrics(args.format, None, &table)
    }
    .await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}
