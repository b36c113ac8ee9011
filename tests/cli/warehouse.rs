//! Warehouse behaviour through the CLI: upsert, idempotent re-import,
//! output formats, SQL errors.

use crate::scenarios::load_scenario;
use crate::util::{SMALL_ORG, TEAM_MONTHS, Workspace, output_ok, repo_root};

#[test]
fn importing_twice_changes_nothing() {
    let ws = Workspace::new();
    let dir = repo_root().join("fixtures/scenarios/incident_links");
    load_scenario(&ws, &dir);
    let metrics = |ws: &Workspace| {
        ws.doralens(&[
            "metrics",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-09",
            "--format",
            "csv",
        ])
        .output()
        .unwrap()
        .stdout
    };
    let before = metrics(&ws);
    let counts_q = "SELECT (SELECT count(*) FROM commits) c, (SELECT count(*) FROM deployments) d, \
                    (SELECT count(*) FROM incidents) i, (SELECT count(*) FROM rollbacks) r";
    let counts_before = ws.sql_csv(counts_q);
    load_scenario(&ws, &dir);
    assert_eq!(ws.sql_csv(counts_q), counts_before);
    assert_eq!(metrics(&ws), before);
    assert_eq!(counts_before, "c,d,i,r\n6,6,6,1\n");
}

#[test]
fn reimport_replaces_rows_by_key() {
    let ws = Workspace::new();
    let a = ws.write(
        "a.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         d1,r,api,production,a,success,2026-01-02T00:00:00Z\n\
         d2,r,api,production,b,success,2026-01-03T00:00:00Z\n",
    );
    ws.doralens(&["import", "deployments", a.to_str().unwrap()])
        .assert()
        .success();
    let b = ws.write(
        "b.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         d2,r,api,production,b,failure,2026-01-03T00:00:00Z\n\
         d3,r,api,production,c,success,2026-01-04T00:00:00Z\n",
    );
    let out = ws
        .doralens(&["import", "deployments", b.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("imported 2 rows into deployments (1 replaced); deployments now has 3 rows")
    );
    assert_eq!(
        ws.sql_csv("SELECT id, status FROM deployments ORDER BY id"),
        "id,status\nd1,success\nd2,failure\nd3,success\n"
    );
}

#[test]
fn bad_sql_lists_tables_and_columns() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.warehouse()).unwrap();
    let out = ws
        .doralens(&["sql", "SELECT nope FROM deployments"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("query failed"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(
        stderr.contains("deployments(id Utf8, repo Utf8"),
        "{stderr}"
    );
    assert!(stderr.contains("deployment_commits("), "{stderr}");
}

#[test]
fn sql_formats_json_and_parquet() {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/rework"));
    let out = ws
        .doralens(&[
            "sql",
            "SELECT id, finished_at FROM deployments ORDER BY id LIMIT 1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["id"], "S1");
    assert!(
        json[0]["finished_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-05-01T12:00:00")
    );

    let file = ws.path("out.parquet");
    ws.doralens(&[
        "sql",
        "SELECT * FROM commits",
        "--format",
        "parquet",
        "--output",
        file.to_str().unwrap(),
    ])
    .assert()
    .success();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    // Binary output is refused on stdout.
    ws.doralens(&["sql", "SELECT 1", "--format", "parquet"])
        .assert()
        .code(2);
}

#[test]
fn metrics_json_has_numbers_and_nulls() {
    let ws = Workspace::new();
    load_scenario(
        &ws,
        &repo_root().join("fixtures/scenarios/rollback_older_sha"),
    );
    let out = ws
        .doralens(&[
            "metrics",
            "--from",
            "2026-02-01",
            "--to",
            "2026-02-05",
            "--interval",
            "day",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows[1]["change_failure_rate"].is_null());
    assert_eq!(rows[2]["change_failure_rate"], 0.5);
    assert_eq!(rows[2]["deployments"], 2);
    assert_eq!(rows[2]["rt_level"], "high");
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    // 21 section-6 columns, 10 interval bounds, how failures were linked
    // (explicit, inferred; they sum to failed_deployments), then the
    // governance columns: 11 on reviews (section 8), 7 on deployment
    // approvals, 9 on batch size, 8 on flag releases and 4 on deploy to
    // release (p50, its interval, p90), and 10 on flag debt: 5 stocks
    // (active, stale, stale share, unowned, median age), removed flags and
    // release to removal (p50, its interval, p90) (section 9); then 8 on
    // recovery by action (section 4.4) and 3 on four-eyes on flag changes
    // (section 9.7).
    assert_eq!(keys.len(), 33 + 11 + 7 + 9 + 8 + 4 + 10 + 8 + 3);
    assert!(keys.contains(&"failures_explicit") && keys.contains(&"failures_inferred"));
    for row in rows {
        assert_eq!(
            row["failures_explicit"].as_i64().unwrap() + row["failures_inferred"].as_i64().unwrap(),
            row["failed_deployments"].as_i64().unwrap()
        );
    }
    // Wilson interval of 1 failure in 2 deployments, by hand:
    // centre (0.5 + z²/4) / (1 + z²/2) = 0.5,
    // half z·√(0.125 + z²/16) / (1 + z²/2) = 0.405 47 (z = 1.96).
    let low = rows[2]["change_failure_rate_low"].as_f64().unwrap();
    let high = rows[2]["change_failure_rate_high"].as_f64().unwrap();
    assert!((low - 0.094_53).abs() < 1e-4, "{low}");
    assert!((high - 0.905_47).abs() < 1e-4, "{high}");
    assert!(rows[1]["change_failure_rate_low"].is_null());
}

#[test]
fn bad_metric_options_are_usage_errors() {
    let ws = Workspace::new();
    for (args, needle) in [
        (vec!["--from", "last week"], "--from"),
        (vec!["--incident-window", "24"], "not a duration"),
        (
            vec!["--environment", "prod("],
            "not a valid regular expression",
        ),
        (
            vec!["--from", "2026-02-01", "--to", "2026-01-01"],
            "window is empty",
        ),
    ] {
        let mut all = vec!["metrics"];
        all.extend(args);
        let out = ws.doralens(&all).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{all:?}"
        );
    }
}

#[test]
fn empty_warehouse_gives_empty_results_with_headers() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.warehouse()).unwrap();
    let out = output_ok(ws.doralens(&["metrics", "--by", "team", "--format", "csv"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("team,deployments,deploy_days"), "{text}");
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn csv_output_joins_lists_like_the_import_format() {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/merges_redeploy"));
    assert_eq!(
        ws.sql_csv("SELECT sha, parents FROM commits WHERE sha IN ('a', 'm') ORDER BY sha"),
        "sha,parents\na,\nm,b;f2\n"
    );
}

#[test]
fn a_missing_warehouse_is_an_error_not_an_empty_result() {
    let ws = Workspace::new();
    for cmd in [vec!["metrics"], vec!["sql", "SELECT 1"]] {
        let out = ws.doralens(&cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no warehouse at"),
            "{cmd:?}"
        );
    }
    assert!(!ws.warehouse().exists());
}

/// metrics.sql takes failed_deployments from recovery_time; the
/// change_failure_rate view must agree with it.
#[test]
fn change_failure_rate_view_agrees_with_metrics() {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/incident_links"));
    let window = ["--from", "2026-03-01", "--to", "2026-03-09"];
    assert_eq!(
        ws.sql_csv_in(
            &ws.warehouse(),
            "SELECT sum(failed_deployments) AS n FROM change_failure_rate",
            &window
        ),
        "n\n5\n"
    );
    assert_eq!(
        ws.sql_csv_in(
            &ws.warehouse(),
            "SELECT sum(failed_deployments) AS n FROM recovery_time",
            &window
        ),
        "n\n5\n"
    );
}

/// Forge syncs and `--service-path` read one repository's commits and
/// deployments: the read must return exactly that repository's rows and
/// skip segments whose statistics rule the repository out.
#[test]
fn reading_one_repository_skips_other_repositories_segments() {
    use datafusion::arrow::array::AsArray;
    use doralens::store::buffer::{Cell, TableBuffer};
    use doralens::store::schema::Table;
    use doralens::store::warehouse::{Warehouse, row_groups_holding};

    let ws = Workspace::new();
    let wh = Warehouse::open(ws.warehouse()).unwrap();
    let commits = |rows: &[(&str, &str)]| {
        let mut buf = TableBuffer::new(Table::Commits);
        for (repo, sha) in rows {
            buf.push(&[
                Cell::Text(repo),
                Cell::Text(sha),
                Cell::List(&[]),
                Cell::Null,
                Cell::Time(1_700_000_000_000_000),
                Cell::Null,
                Cell::Text("change"),
            ]);
        }
        buf.finish().unwrap()
    };
    // One segment per upsert: a only, b only, then a and c mixed.
    wh.upsert(
        Table::Commits,
        &[commits(&[("acme/a", "a1"), ("acme/a", "a2")])],
    )
    .unwrap();
    wh.upsert(
        Table::Commits,
        &[commits(&[("acme/b", "b1"), ("acme/b", "b2")])],
    )
    .unwrap();
    wh.upsert(
        Table::Commits,
        &[commits(&[("acme/a", "a3"), ("acme/c", "c1")])],
    )
    .unwrap();

    let read = wh
        .read_table_where(Table::Commits, Some(&["repo", "sha"]), "repo", "acme/b")
        .unwrap();
    let mut shas: Vec<String> = read
        .iter()
        .flat_map(|b| {
            let repos = b.column(0).as_string::<i32>();
            let shas = b.column(1).as_string::<i32>();
            (0..b.num_rows())
                .map(|i| {
                    assert_eq!(repos.value(i), "acme/b");
                    shas.value(i).to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    shas.sort();
    assert_eq!(shas, ["b1", "b2"]);
    let all_a: usize = wh
        .read_table_where(Table::Commits, None, "repo", "acme/a")
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(all_a, 3, "a's rows come from two segments");

    // Statistics: only the b segment can hold acme/b; acme/b sorts between
    // a and c, so the mixed a+c segment cannot be ruled out by min/max.
    let groups_per_segment = |repo: &str| -> Vec<usize> {
        let mut counts: Vec<usize> = wh
            .table_files(Table::Commits)
            .unwrap()
            .iter()
            .map(|file| {
                let f = std::fs::File::open(file).unwrap();
                let reader =
                    datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                        .unwrap();
                row_groups_holding(reader.metadata(), "repo", repo).len()
            })
            .collect();
        counts.sort();
        counts
    };
    assert_eq!(
        groups_per_segment("acme/b"),
        [0, 1, 1],
        "a-only segment skipped"
    );
    let none = groups_per_segment("zeta/z");
    assert_eq!(none, [0, 0, 0], "a repository after every segment's max");
}

/// Without the `cloud` feature an object-store location is a clear error
/// (exit 2), never a directory named `s3:` in the current folder.
#[cfg(not(feature = "cloud"))]
#[test]
fn an_object_store_location_needs_the_cloud_feature() {
    let ws = Workspace::new();
    let out = ws
        .doralens_in(std::path::Path::new("s3://bucket/prefix"), &["metrics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--features cloud"), "{text}");
    assert!(!ws.path("s3:").exists());
}

/// `attribute --shard I/N` on every shard gives one machine's attribution:
/// queries then read the shards' union and compute none of their own.
#[test]
fn attribution_in_shards_equals_one_machines() {
    let (whole, sharded) = (Workspace::new(), Workspace::new());
    let generate = SMALL_ORG;
    output_ok(whole.doralens(&generate));
    output_ok(sharded.doralens(&generate));
    for shard in ["0/3", "2/3", "1/3"] {
        let out = output_ok(sharded.doralens(&["attribute", "--shard", shard]));
        assert!(String::from_utf8_lossy(&out.stderr).contains("computed"));
    }
    let again = output_ok(sharded.doralens(&["attribute", "--shard", "1/3"]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already computed"));
    let queries = [
        "SELECT deployment_id, sha, repo, baseline, deployed_at FROM deployment_commits \
         ORDER BY deployment_id, sha",
        "SELECT deployment_id, problem FROM deployment_warnings ORDER BY deployment_id",
    ];
    for q in queries {
        let (a, b) = (whole.sql_csv(q), sharded.sql_csv(q));
        assert!(a.lines().count() > 100 || q.contains("warnings"), "{a}");
        assert_eq!(a, b, "{q}");
    }
    let metrics = TEAM_MONTHS;
    assert_eq!(
        String::from_utf8(output_ok(whole.doralens(&metrics)).stdout).unwrap(),
        String::from_utf8(output_ok(sharded.doralens(&metrics)).stdout).unwrap()
    );
    // The union was used: no whole-warehouse attribution was computed.
    assert!(
        !sharded
            .warehouse()
            .join("_derived/attribution.json")
            .exists()
    );
    for bad in ["3/3", "1", "a/b", "0/0"] {
        let out = sharded
            .doralens(&["attribute", "--shard", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}
