//! `doralens demo`: the main job on an embedded default. Generates a year of
//! a six-team organisation into a fresh warehouse and prints the
//! organisation's and each team's metrics with levels for the last 90 days.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ingest::synthetic::{self, GeneratorConfig};
use crate::metrics::{self, Grouping, MetricsOptions};
use crate::render::Format;
use crate::store::warehouse::Warehouse;

/// Marks a directory as the demo's, so it is never mistaken for real data.
const MARKER: &str = ".doralens-demo";

pub async fn run(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(Error::usage(
                "--dir",
                format!(
                    "{} exists and is not a demo warehouse; choose another --dir",
                    dir.display()
                ),
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("cannot reset", dir, e))?;
    }
    let warehouse = Warehouse::open(dir)?;
    std::fs::write(
        dir.join(MARKER),
        b"created by doralens demo; safe to delete\n",
    )
    .map_err(|e| Error::io("cannot write", dir.join(MARKER), e))?;

    let end = crate::base::time::Timestamp::now().start_of_day();
    let config = GeneratorConfig::demo(end);
    let started = std::time::Instant::now();
    // One recorded run (`syncs`); rows name the generator's seed.
    let run = warehouse.begin_sync("demo", &format!("generate:seed {}", config.seed))?;
    let stamped = run.in_scope(
        format!("generate:seed {}", config.seed),
        Some(format!("doralens demo, seed {}", config.seed)),
    );
    let mut sink = crate::ingest::synthetic::WarehouseSink {
        warehouse: &stamped,
    };
    let counts = run.end_sync(synthetic::generate(&config, &mut sink))?;
    eprintln!(
        "demo: generated a year of {counts} ({:.1}s)",
        started.elapsed().as_secs_f64()
    );

    let opts = MetricsOptions::defaults(end);
    let engine = super::commands::open_engine(&warehouse, &opts.production).await?;
    println!(
        "\nOrganisation, last 90 days ({} to {}), levels from {}:",
        opts.from, opts.to, opts.benchmark.name
    );
    let org = metrics::compute(&engine, &opts).await?;
    super::output::emit_metrics(Format::Table, None, &org)?;

    let by_team = MetricsOptions {
        group: Some(Grouping::Team),
        ..opts.clone()
    };
    println!("\nPer team, same window:");
    let teams = metrics::compute(&engine, &by_team).await?;
    super::output::emit_metrics(Format::Table, None, &teams)?;

    let w = dir.display();
    println!(
        "\nNext:\n  \
         doralens --warehouse {w} metrics --by team --interval week --format csv\n  \
         doralens --warehouse {w} sql \"SELECT service, count(*) FROM deployments GROUP BY service\"\n  \
         doralens --warehouse {w} metrics --by service --benchmark dora-2024 --format json\n  \
         doralens import deployments my-deployments.csv   # your own data (see `doralens tables`)"
    );
    Ok(())
}
