//! `explain flag-changes`: the share of production flag changes that went
//! through a change request, and each direct change.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::engine::{Engine, queries};
use crate::error::Result;
use crate::metrics::{self, MetricsOptions};

use super::{rows, statements_with};

/// The explanation of flag changes over a window: the gated share, overall
/// and per team, then each direct production change.
pub async fn flag_changes(engine: &Engine, base: &MetricsOptions) -> Result<String> {
    let file = &queries::EXPLAIN_FLAG_CHANGES;
    let statements = statements_with(file, &HashMap::new(), 3)?;
    let mut opts = base.clone();
    opts.interval = None;
    opts.group = Some(metrics::Grouping::Team);
    metrics::register_views(engine, &opts).await?;
    let results = engine.run_statements(file, &statements).await?;
    let [total, teams, direct] = &results[..] else {
        unreachable!("statements_with checked the count");
    };
    let share = |changes: &str, gated: &str| -> String {
        let (Ok(c), Ok(g)) = (changes.parse::<f64>(), gated.parse::<f64>()) else {
            return "–".into();
        };
        if c == 0.0 {
            "–".into()
        } else {
            format!("{:.0} % gated", 100.0 * g / c)
        }
    };
    let mut out = String::new();
    let t = rows(total).into_iter().next().unwrap_or_default();
    let changes = t.get("changes").cloned().unwrap_or_default();
    let gated = t.get("gated").cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "Production flag changes from {} to {} (environments matching `{}`): {changes}, {gated} \
         through a change request ({}).",
        opts.from,
        opts.to,
        base.production.source,
        share(&changes, &gated)
    );
    let teams = rows(teams);
    if !teams.is_empty() {
        let _ = writeln!(
            out,
            "\nBy team (a flag belongs to the teams of its service):"
        );
        for r in &teams {
            let _ = writeln!(
                out,
                "  {}: {} change(s), {} gated ({})",
                r["team"],
                r["changes"],
                r["gated"],
                share(&r["changes"], &r["gated"])
            );
        }
    }
    let direct = rows(direct);
    let _ = writeln!(
        out,
        "\n{} direct production change(s) (no change request):",
        direct.len()
    );
    for d in &direct {
        let service = if d["service"].is_empty() {
            String::new()
        } else {
            format!(" (service {})", d["service"])
        };
        let actor = if d["actor"].is_empty() {
            "unknown actor"
        } else {
            d["actor"].as_str()
        };
        let _ = writeln!(
            out,
            "  {} {}/{}{service} in {}: {} by {actor}",
            d["at"], d["project"], d["flag_key"], d["environment"], d["kind"]
        );
    }
    Ok(out)
}
