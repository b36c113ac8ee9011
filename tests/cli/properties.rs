//! Invariants over generated organisations of random shape.

use doralens::base::production::ProductionPattern;
use doralens::base::time::{Span, Timestamp};
use doralens::engine::Engine;
use doralens::ingest::synthetic::WarehouseSink;
use doralens::ingest::synthetic::{self, GeneratorConfig};
use doralens::metrics::{self, Grouping, MetricsOptions, interval};
use doralens::store::schema::Table;
use doralens::store::warehouse::Warehouse;
use proptest::prelude::*;
use serde_json::Value;

const END: Timestamp = Timestamp::from_micros(1_767_225_600_000_000); // 2026-01-01T00:00:00Z

fn rows(engine: &Engine, opts: &MetricsOptions, rt: &tokio::runtime::Runtime) -> Vec<Value> {
    let table = rt.block_on(metrics::compute(engine, opts)).unwrap();
    let mut buf = Vec::new();
    doralens::render::exporter(doralens::render::Format::Json)
        .write(&table.schema, &table.batches, &mut buf)
        .unwrap();
    serde_json::from_slice::<Value>(&buf)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn sum(rows: &[Value], col: &str) -> i64 {
    rows.iter().map(|r| r[col].as_i64().unwrap()).sum()
}

fn generate_into(wh: &Warehouse, config: &GeneratorConfig) {
    synthetic::generate(config, &mut WarehouseSink { warehouse: wh }).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn metric_invariants(seed in 0u64..1000, teams in 1usize..5, days in 20i64..80, scale in 0.3f64..2.0,
                         weekly in any::<bool>()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open(dir.path()).unwrap();
        let config = GeneratorConfig { seed, teams, days, scale, end: END, incident_rate: 1.0 };
        generate_into(&wh, &config);
        let engine = rt.block_on(Engine::open(&wh, &ProductionPattern::default())).unwrap();
        let mut opts = MetricsOptions::defaults(END);
        opts.from = END - Span::days(days);
        opts.interval = weekly.then_some(interval::Interval::Week);

        let org = rows(&engine, &opts, &rt);
        for row in &org {
            for rate in ["change_failure_rate", "rework_rate"] {
                if let Some(v) = row[rate].as_f64() {
                    prop_assert!((0.0..=1.0).contains(&v), "{rate} = {v}");
                }
            }
            prop_assert!(row["deploy_days"].as_i64() <= row["deployments"].as_i64());
            prop_assert!(row["recovery_count"].as_i64().unwrap() + row["open_failures"].as_i64().unwrap()
                <= row["failed_deployments"].as_i64().unwrap());
            if let (Some(p50), Some(p90)) = (row["lead_time_p50_s"].as_f64(), row["lead_time_p90_s"].as_f64()) {
                prop_assert!(p50 <= p90 && p50 >= 0.0);
            }
            if row["deployments"] == 0 {
                prop_assert!(row["change_failure_rate"].is_null());
            }
        }
        // Every deployment has exactly one service and one repo, so those
        // groupings partition the organisation's counts.
        for by in [Grouping::Service, Grouping::Repo] {
            let grouped = rows(&engine, &MetricsOptions { group: Some(by), ..opts.clone() }, &rt);
            for col in ["deployments", "failed_deployments", "lead_time_count", "rework_deployments",
                        "recovery_count", "open_failures"] {
                prop_assert_eq!(sum(&grouped, col), sum(&org, col), "{:?} {}", by, col);
            }
        }
        // Teams may share a service: team sums are at least the org's.
        let by_team = rows(&engine, &MetricsOptions { group: Some(Grouping::Team), ..opts.clone() }, &rt);
        prop_assert!(sum(&by_team, "deployments") >= sum(&org, "deployments"));
        // Incidents without a service count for the organisation only.
        let by_service = rows(&engine, &MetricsOptions { group: Some(Grouping::Service), ..opts.clone() }, &rt);
        prop_assert!(sum(&by_service, "incidents") <= sum(&org, "incidents"));
    }

    #[test]
    fn generating_twice_into_one_warehouse_changes_nothing(seed in 0u64..1000, teams in 1usize..4) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open(dir.path()).unwrap();
        let config = GeneratorConfig { seed, teams, days: 30, scale: 1.0, end: END, incident_rate: 1.0 };
        generate_into(&wh, &config);
        let opts = MetricsOptions { group: Some(Grouping::Team), interval: Some(interval::Interval::Week), ..MetricsOptions::defaults(END) };
        let counts = |wh: &Warehouse| Table::ALL.map(|t| wh.manifest(t).unwrap().rows());
        let before_counts = counts(&wh);
        let engine = rt.block_on(Engine::open(&wh, &ProductionPattern::default())).unwrap();
        let before = rows(&engine, &opts, &rt);
        generate_into(&wh, &config);
        prop_assert_eq!(counts(&wh), before_counts);
        let engine = rt.block_on(Engine::open(&wh, &ProductionPattern::default())).unwrap();
        prop_assert_eq!(rows(&engine, &opts, &rt), before);
    }
}
