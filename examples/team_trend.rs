//! A team trend with polars over doralens output (`--features polars`):
//!
//! ```sh
//! cargo run --release --features polars --example team_trend
//! ```
//!
//! Generates the demo's organisation (6 teams, a year) into a temporary
//! warehouse, computes weekly metrics per team with the library, hands them
//! to polars as a DataFrame and compares each team's deployment frequency
//! and median lead time over the last 4 weeks with the 4 weeks before.

use doralens::base::production::ProductionPattern;
use doralens::base::time::{Span, Timestamp};
use doralens::engine::Engine;
use doralens::ingest::synthetic::{self, GeneratorConfig, WarehouseSink};
use doralens::metrics::interval::Interval;
use doralens::metrics::{self, Grouping, MetricsOptions};
use doralens::store::warehouse::Warehouse;
use polars::prelude::*;

fn mean(df: &DataFrame, column: &str) -> PolarsResult<Option<f64>> {
    Ok(df.column(column)?.as_materialized_series().mean())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let warehouse = Warehouse::open(dir.path())?;
    let end = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z").expect("a time");
    let config = GeneratorConfig::demo(end);
    synthetic::generate(
        &config,
        &mut WarehouseSink {
            warehouse: &warehouse,
        },
    )?;

    let mut opts = MetricsOptions::defaults(end);
    opts.from = end - Span::days(8 * 7);
    opts.interval = Some(Interval::Week);
    opts.group = Some(Grouping::Team);
    let engine = Engine::open(&warehouse, &ProductionPattern::default()).await?;
    let weekly = metrics::compute(&engine, &opts).await?;

    // Arrow → polars: numbers and timestamps without a copy.
    let df = weekly.to_polars()?;
    println!(
        "{} weekly rows, columns: {:?}\n",
        df.height(),
        &df.get_column_names()[..6]
    );

    let teams = df
        .column("team")?
        .as_materialized_series()
        .unique()?
        .sort(Default::default())?;
    println!(
        "{:<12} {:>14} {:>14} {:>16} {:>16}",
        "team", "deploys/day", "(4 wk before)", "lead time p50 h", "(4 wk before)"
    );
    let names: Vec<String> = (0..teams.len())
        .filter_map(|i| teams.str().ok()?.get(i).map(str::to_string))
        .collect();
    for team in &names {
        let team = team.as_str();
        let rows = df.filter(&df.column("team")?.as_materialized_series().equal(team)?)?;
        let rows = rows.sort(["interval_start"], Default::default())?;
        let n = rows.height();
        let (before, last) = (
            rows.slice(0, n.saturating_sub(4)),
            rows.slice(n.saturating_sub(4) as i64, 4),
        );
        let hours = |v: Option<f64>| v.map_or("–".to_string(), |s| format!("{:.1}", s / 3600.0));
        println!(
            "{team:<12} {:>14.2} {:>14.2} {:>16} {:>16}",
            mean(&last, "deploys_per_day")?.unwrap_or(0.0),
            mean(&before, "deploys_per_day")?.unwrap_or(0.0),
            hours(mean(&last, "lead_time_p50_s")?),
            hours(mean(&before, "lead_time_p50_s")?),
        );
    }
    Ok(())
}
