//! `metrics --team/--service/--repo`: a filter counts exactly what the
//! matching `--by` row counts (docs/metrics.md section 2), and filters
//! combine.

use serde_json::Value;

use crate::util::{SMALL_ORG, Workspace, output_ok};

fn metrics(ws: &Workspace, args: &[&str]) -> Vec<Value> {
    let mut all = vec![
        "metrics",
        "--from",
        "2026-07-01",
        "--to",
        "2026-11-01",
        "--format",
        "json",
    ];
    all.extend(args);
    let out = output_ok(ws.doralens(&all));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn each_filter_equals_its_group_row_and_filters_combine() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    for (by, option) in [
        ("team", "--team"),
        ("service", "--service"),
        ("repo", "--repo"),
    ] {
        let rows = metrics(&ws, &["--by", by]);
        assert!(rows.len() >= 3, "{by}: {rows:?}");
        for row in rows.iter().take(3) {
            let name = row[by].as_str().unwrap();
            let filtered = metrics(&ws, &[option, name]);
            assert_eq!(filtered.len(), 1);
            let mut expected = row.as_object().unwrap().clone();
            expected.remove(by);
            assert_eq!(
                filtered[0].as_object().unwrap(),
                &expected,
                "{option} {name}"
            );
        }
    }
    // Two teams: each deployment once, so no more than the sum, and --by team
    // with the filter has only those teams' rows.
    let both = metrics(&ws, &["--team", "payments,search"]);
    let whole = metrics(&ws, &[]);
    let one = |t: &str| {
        metrics(&ws, &["--team", t])[0]["deployments"]
            .as_u64()
            .unwrap()
    };
    let n = both[0]["deployments"].as_u64().unwrap();
    assert!(n <= one("payments") + one("search") && n >= one("payments"));
    assert!(n < whole[0]["deployments"].as_u64().unwrap());
    let rows = metrics(&ws, &["--team", "payments,search", "--by", "team"]);
    let teams: Vec<&str> = rows.iter().map(|r| r["team"].as_str().unwrap()).collect();
    assert_eq!(teams, ["payments", "search"]);
    // A team and a service of another team: nothing in common (no row, or
    // a row of zeros).
    let none = metrics(&ws, &["--team", "payments", "--service", "search-api"]);
    assert!(none.iter().all(|r| r["deployments"] == 0), "{none:?}");
}
