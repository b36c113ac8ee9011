//! Recovery by action and four-eyes on flag changes through the CLI
//! (docs/metrics.md sections 4.4 and 9.7): `explain deployment` on each
//! failure of the `flag_recovery` scenario (its README checks every
//! number), `explain flag-changes`, and the actions summing to
//! `recovery_count` in every row.

use crate::scenarios::load_scenario;
use crate::util::{Workspace, output_ok, repo_root};

fn scenario() -> Workspace {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/flag_recovery"));
    ws
}

fn stdout(ws: &Workspace, args: &[&str]) -> String {
    String::from_utf8(output_ok(ws.doralens(args)).stdout).unwrap()
}

#[test]
fn explain_deployment_says_how_each_failure_recovered() {
    let ws = scenario();
    for (id, needle) in [
        (
            "D-shop-1",
            "Recovered by: flag `checkout-v2` (turned back in production between the deployment \
             and its recovery, and the deployment shipped it); blast radius 10 % of users",
        ),
        ("D-api-1", "Recovered by: rollback (a rollback undid it)"),
        (
            "D-api-3",
            "Recovered by: hotfix (deployment D-api-4 of the same service shipped new commits",
        ),
        ("D-shop-2", "Recovered by: unknown"),
        (
            "D-api-5",
            "Recovered by: flag `search-v3` (a linked incident names it in recovery_flag); blast \
             radius 50 % of users",
        ),
    ] {
        let text = stdout(&ws, &["explain", "deployment", id]);
        assert!(text.contains(needle), "{id}: {needle}\n{text}");
    }
    // An open failure has not recovered: no action.
    let text = stdout(&ws, &["explain", "deployment", "D-shop-3"]);
    assert!(text.contains("Recovery: open"), "{text}");
    assert!(!text.contains("Recovered by"), "{text}");
    // A deployment that did not fail has none either.
    let text = stdout(&ws, &["explain", "deployment", "D-shop-1b"]);
    assert!(text.contains("Failed: no"), "{text}");
    assert!(!text.contains("Recovered by"), "{text}");
}

#[test]
fn explain_flag_changes_gives_the_gated_share_and_the_direct_changes() {
    let ws = scenario();
    let text = stdout(
        &ws,
        &[
            "explain",
            "flag-changes",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-08",
        ],
    );
    for needle in [
        "(environments matching `production|prod`): 8, 5 through a change request",
        "  core: 3 change(s), 2 gated (67 % gated)",
        "  web: 5 change(s), 3 gated (60 % gated)",
        "3 direct production change(s) (no change request):",
        "  2026-03-02T11:10:00Z p/checkout-v2 (service shop) in production: disabled by bob",
        "  2026-03-05T12:30:00Z p/banner (service shop) in production: disabled by cat",
        "  2026-03-06T09:40:00Z p/search-v3 (service api) in production: disabled by dan",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
    // The staging change and the one with no environment are not listed;
    // neither is the direct change before the window.
    assert!(
        !text.contains("staging") && !text.contains("2026-02-20"),
        "{text}"
    );
    // A window that holds no change says so.
    let text = stdout(
        &ws,
        &[
            "explain",
            "flag-changes",
            "--from",
            "2026-04-01",
            "--to",
            "2026-04-08",
        ],
    );
    assert!(
        text.contains(": 0, 0 through a change request (–)"),
        "{text}"
    );
    assert!(text.contains("0 direct production change(s)"), "{text}");
    // An empty window is an error naming the flag.
    let out = ws
        .doralens(&[
            "explain",
            "flag-changes",
            "--from",
            "2026-03-08",
            "--to",
            "2026-03-01",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
}

#[test]
fn recovery_actions_sum_to_recovery_count_in_every_row() {
    let ws = scenario();
    for by in [
        &[][..],
        &["--by", "team"],
        &["--by", "service"],
        &["--interval", "day"],
    ] {
        let mut args = vec![
            "metrics",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-08",
            "--format",
            "json",
        ];
        args.extend(by);
        let text = stdout(&ws, &args);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            let n = |c: &str| row[c].as_i64().unwrap_or_else(|| panic!("{c} in {row}"));
            assert_eq!(
                n("recoveries_by_rollback")
                    + n("recoveries_by_flag")
                    + n("recoveries_by_hotfix")
                    + n("recoveries_unknown"),
                n("recovery_count"),
                "{by:?}: {row}"
            );
            assert!(n("gated_flag_changes") <= n("production_flag_changes"));
        }
    }
}

#[test]
fn the_weekly_report_lists_direct_flag_changes_and_the_gated_share_per_team() {
    let ws = scenario();
    let out = ws.path("report");
    output_ok(ws.doralens(&[
        "report",
        "--week",
        "2026-W10",
        "--out",
        out.to_str().unwrap(),
    ]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let start = md
        .find("## Production flag changes without a change request")
        .unwrap_or_else(|| panic!("no direct flag changes section in\n{md}"));
    let section = &md[start..];
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| p/")).collect();
    // Newest first: the week (03-02 to 03-08) holds all three.
    assert_eq!(
        rows,
        [
            "| p/search-v3 | production | 2026-03-06 09:40 | dan | disabled |",
            "| p/banner | production | 2026-03-05 12:30 | cat | disabled |",
            "| p/checkout-v2 | production | 2026-03-02 11:10 | bob | disabled |",
        ],
        "{section}"
    );
    // The per-team governance tables include the flag changes' group.
    assert!(md.contains("**Flag changes**"), "{md}");
    assert!(md.contains("**Recovery by action**"), "{md}");
}
