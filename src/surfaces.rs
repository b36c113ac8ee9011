//! Every metric catalogue entry reaches every output, and no output knows
//! a metric the catalogue lacks: the metrics rows (columns, order, types),
//! the readable table, OpenMetrics, `serve`'s DORA API, the levels and
//! `benchmark`, `doralens chart`, and the weekly report. Computed from a small generated
//! organisation, so the SQL of `queries/` is part of the proof.

use std::collections::BTreeSet;

use crate::base::time::{Span, parse_instant};
use crate::engine::Engine;
use crate::metrics::catalogue::{self, METRICS};
use crate::metrics::interval::Interval;
use crate::metrics::levels::{Benchmark, BenchmarkName};
use crate::metrics::{Grouping, MetricsOptions, MetricsTable};
use crate::render::metric_chart::{ChartKind, draw};

async fn organisation() -> (tempfile::TempDir, Engine, MetricsOptions) {
    let end = parse_instant("end", "2026-11-02").unwrap();
    let (dir, engine) =
        crate::engine::generated_engine(&crate::ingest::synthetic::GeneratorConfig {
            seed: 5,
            teams: 2,
            days: 120,
            scale: 1.0,
            end,
            incident_rate: 3.0,
        })
        .await;
    let mut opts = MetricsOptions::defaults(end);
    opts.from = end - Span::days(119);
    (dir, engine, opts)
}

fn names(table: &MetricsTable) -> Vec<String> {
    table
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every column a metrics row may carry, by the catalogue.
fn catalogued_columns() -> BTreeSet<&'static str> {
    let mut all = BTreeSet::from(["interval_start", "team", "service", "repo"]);
    for m in &METRICS {
        all.insert(m.column);
        all.extend(m.level);
        all.extend(m.interval.into_iter().flat_map(|(l, h)| [l, h]));
    }
    all
}

#[tokio::test]
async fn every_catalogue_entry_reaches_every_surface() {
    let (_dir, engine, opts) = organisation().await;
    let whole = crate::metrics::compute(&engine, &opts).await.unwrap();
    let mut by_team_opts = opts.clone();
    by_team_opts.group = Some(Grouping::Team);
    by_team_opts.interval = Some(Interval::Month);
    let by_team = crate::metrics::compute(&engine, &by_team_opts)
        .await
        .unwrap();
    assert_eq!(whole.num_rows(), 1);
    assert!(by_team.num_rows() > 2);

    // Metrics rows: each entry's column with its unit's type, its level and
    // interval columns; nothing else; the order is the one of an empty
    // result (CSV headers) too.
    for (table, o) in [(&whole, &opts), (&by_team, &by_team_opts)] {
        assert_eq!(table.schema, crate::metrics::output::schema(o));
        for m in &METRICS {
            let field = table.schema.field_with_name(m.column).unwrap();
            assert_eq!(
                (field.data_type().clone(), field.is_nullable()),
                m.unit.arrow_type(),
                "{}",
                m.column
            );
            for c in m
                .level
                .into_iter()
                .chain(m.interval.into_iter().flat_map(|(l, h)| [l, h]))
            {
                assert!(table.schema.index_of(c).is_ok(), "{} lacks {c}", m.column);
            }
        }
        let unknown: Vec<String> = names(table)
            .into_iter()
            .filter(|n| !catalogued_columns().contains(n.as_str()))
            .collect();
        assert!(unknown.is_empty(), "not in the catalogue: {unknown:?}");
    }
    // Every entry has a value somewhere (the SQL computes it).
    for m in &METRICS {
        assert!(
            by_team.floats(m.column).iter().any(Option::is_some),
            "{} is null everywhere",
            m.column
        );
    }

    // The readable table: one line per metric for one row, a column with
    // --columns (and the headline metrics by default).
    let one = crate::render::table::metrics_table(&whole.schema, &whole.batches, None).unwrap();
    let lines: Vec<&str> = one.lines().skip(2).collect();
    assert_eq!(lines.len(), METRICS.len());
    for (m, line) in METRICS.iter().zip(&lines) {
        assert!(line.starts_with(m.title), "{line} is not {}", m.title);
    }
    for m in &METRICS {
        let text = crate::render::table::metrics_table(
            &by_team.schema,
            &by_team.batches,
            Some(&[m.column.to_string()]),
        )
        .unwrap();
        assert!(
            text.lines().next().unwrap().ends_with(m.short),
            "{}",
            m.column
        );
    }
    let default =
        crate::render::table::metrics_table(&by_team.schema, &by_team.batches, None).unwrap();
    let header: Vec<&str> = default
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .collect();
    for m in &METRICS {
        assert_eq!(header.contains(&m.short), m.headline, "{}", m.column);
    }
    assert!(
        crate::render::table::metrics_table(
            &by_team.schema,
            &by_team.batches,
            Some(&["not_a_metric".to_string()]),
        )
        .is_err()
    );

    // OpenMetrics: exactly the catalogue's families.
    let text = crate::render::openmetrics::render(&[crate::render::openmetrics::Scope {
        label: None,
        batches: &whole.batches,
    }])
    .unwrap();
    let families: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let ours: BTreeSet<&str> = METRICS
        .iter()
        .filter_map(|m| m.openmetrics.map(|o| o.family))
        .collect();
    assert_eq!(families, ours);
    for m in &METRICS {
        if let Some(o) = m.openmetrics {
            let v = whole.floats(m.column)[0];
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{} ", o.family)));
            assert_eq!(line.is_some(), v.is_some(), "{}", o.family);
        }
    }

    // serve's DORA API: each name answers its entry, whose column is in
    // the rows serve reads.
    for m in &METRICS {
        if let Some(name) = m.dora_api {
            assert_eq!(catalogue::by_dora_api(name).unwrap().column, m.column);
            assert!(catalogue::dora_api_names().split(", ").any(|n| n == name));
        }
    }

    // Levels: every benchmark judges exactly the levelled entries, and
    // `benchmark` has a level and a trend column for each.
    let levelled: Vec<&str> = catalogue::levelled().map(|(m, _)| m).collect();
    // A scored benchmark (dora-2025) judges the scored entries, a superset.
    let scored: Vec<&str> = catalogue::scored().map(|(m, _)| m).collect();
    for name in BenchmarkName::EVERY {
        let benchmark = Benchmark::load(name).unwrap();
        let mut judged = benchmark.metrics();
        judged.sort();
        let mut ours = if benchmark.scored() {
            scored.clone()
        } else {
            levelled.clone()
        };
        ours.sort();
        assert_eq!(judged, ours, "{name:?}");
        assert!(levelled.iter().all(|m| judged.contains(m)), "{name:?}");
    }
    let (schema, _) = crate::metrics::benchmark::table(&engine, &by_team_opts, 1)
        .await
        .unwrap();
    for (_, level) in catalogue::levelled() {
        assert!(schema.index_of(level).is_ok(), "{level}");
        assert!(schema.index_of(&level.replace("_level", "_trend")).is_ok());
    }

    // Charts: `doralens chart <name>` draws each charted entry under its
    // title, a distribution only where the entry says so; `benchmark`
    // draws the levelled ones (src/cli/commands/benchmark.rs).
    let out = tempfile::tempdir().unwrap();
    for (m, c) in catalogue::charted() {
        let paths = draw(&engine, &by_team_opts, m, ChartKind::Series, out.path())
            .await
            .unwrap();
        assert!(paths[0].ends_with(format!("{}.svg", c.name)), "{paths:?}");
        let svg = std::fs::read_to_string(&paths[0]).unwrap();
        let texts = crate::render::svg::texts(&svg);
        assert!(texts.iter().any(|t| t.starts_with(m.title)), "{texts:?}");
        let distribution = draw(&engine, &opts, m, ChartKind::Distribution, out.path()).await;
        assert_eq!(distribution.is_ok(), c.distribution, "{}", c.name);
    }

    // The weekly report: a row and a team column per headline entry, and
    // the charts the catalogue gives a report title.
    let monday = crate::base::time::parse_week("2026-W43").unwrap();
    let report =
        crate::report::build::build(&engine, &opts, monday, &std::collections::HashMap::new())
            .await
            .unwrap();
    let titles: Vec<&str> = report.org.iter().map(|r| r.metric.as_str()).collect();
    let shorts: Vec<&str> = report.team_metrics.iter().map(String::as_str).collect();
    let headline: Vec<&catalogue::Metric> = catalogue::headline().collect();
    assert_eq!(titles, headline.iter().map(|m| m.title).collect::<Vec<_>>());
    assert_eq!(shorts, headline.iter().map(|m| m.short).collect::<Vec<_>>());
    let stems: Vec<&str> = report.charts.iter().map(|c| c.stem.as_str()).collect();
    let report_charts: Vec<&str> = catalogue::charted()
        .filter(|(_, c)| c.report.is_some())
        .map(|(_, c)| c.name)
        .collect();
    assert_eq!(stems, report_charts);
    let markdown = crate::report::markdown(&report);
    for m in &headline {
        assert!(markdown.contains(m.title), "{}", m.column);
    }
    // Its release governance and releases sections: every governance
    // entry, as a row of the organisation's table and a column of the
    // teams' of the section its group belongs to.
    assert!(markdown.contains("## Release governance"));
    assert!(markdown.contains("## Releases and flags"));
    let governance: Vec<&catalogue::Metric> =
        catalogue::part(catalogue::Part::Governance).collect();
    assert_eq!(
        report.governance.metrics.len() + report.releases.metrics.len(),
        governance.len() + 1,
        "every governance metric once, and deployment frequency beside the releases"
    );
    for m in &governance {
        assert!(
            markdown.contains(&format!("| {} |", m.title)),
            "{}",
            m.column
        );
        let short = m.short.to_string();
        assert!(
            report.governance.columns.contains(&short) || report.releases.columns.contains(&short),
            "{}",
            m.column
        );
    }
}
