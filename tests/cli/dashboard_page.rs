//! The dashboard at `/`, in headless Chromium: a team and a range chosen
//! (in the URL, where the page keeps its state), its tiles and team table
//! read and compared with `metrics --format json` for the same filters;
//! a deployment clicked and its explanation compared with `doralens
//! explain deployment`; a 390 px phone without sideways scrolling; the
//! login form once tokens exist. The page is driven over the DevTools
//! protocol (`tests/cli/assets/cdp.py`, Python's standard library only).

use serde_json::Value;

use crate::access::{create_token, metrics_json, serve_logged};
use crate::dashboards::get;
use crate::util::{SMALL_ORG, Workspace, output_ok, repo_root};

/// Opens `url` in headless Chromium at `width` px and runs
/// `tests/cli/assets/dashboard-probe.js` in it (over the DevTools protocol,
/// `tests/cli/assets/cdp.py`); what the probe found.
fn drive(url: &str, width: u32) -> Value {
    let assets = repo_root().join("tests/cli/assets");
    let headless = crate::reports::headless(std::path::Path::new("/nonexistent"));
    // The same flags as every other headless run; cdp.py adds its own profile.
    let flags: Vec<String> = headless
        .get_args()
        .map(|a| a.to_string_lossy().to_string())
        .filter(|a| !a.starts_with("--user-data-dir"))
        .collect();
    let run = std::process::Command::new("python3")
        .arg(assets.join("cdp.py"))
        .arg(url)
        .arg(width.to_string())
        .arg(assets.join("dashboard-probe.js"))
        .args(&flags)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the probe failed at {width} px: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&run.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn the_dashboard_shows_what_metrics_prints_and_explains_a_click() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    let served = serve_logged(&ws, &[], &[]);
    let url = format!(
        "http://{}/?team=payments&range=custom&from=2026-08-01&to=2026-11-01&interval=week",
        served.addr
    );
    let expected = metrics_json(&ws, &["--team", "payments"]);
    let expected = &expected[0];
    let by_team = metrics_json(&ws, &["--team", "payments", "--by", "team"]);
    // The DORA 2025 scores the tiles show beside the levels are the CLI's.
    let scored = metrics_json(&ws, &["--team", "payments", "--benchmark", "dora-2025"]);
    let scored = &scored[0];
    for width in [1280, 390] {
        let m = drive(&url, width);
        assert_eq!(m["ready"], "true", "{width} px: {m}");
        // The state stayed in the URL.
        let search = m["url"].as_str().unwrap();
        for part in [
            "team=payments",
            "from=2026-08-01",
            "to=2026-11-01",
            "interval=week",
        ] {
            assert!(search.contains(part), "{search}");
        }
        // Every tile's number is the CLI's, and every headline metric has one.
        let tiles = m["tiles"].as_object().unwrap();
        for column in [
            "deploys_per_day",
            "lead_time_p50_s",
            "change_failure_rate",
            "recovery_time_p50_s",
            "rework_rate",
        ] {
            assert!(tiles.contains_key(column), "no tile for {column}: {m}");
        }
        assert!(tiles.len() >= 15, "{m}");
        for (column, value) in tiles {
            assert!(
                same_number(value, &expected[column]),
                "{width} px: tile {column} shows {value}, metrics prints {}",
                expected[column]
            );
        }
        let scores = m["scores"].as_object().unwrap();
        for column in [
            "deployment_frequency_score",
            "lead_time_score",
            "change_failure_rate_score",
            "recovery_time_score",
            "rework_rate_score",
            "throughput_score",
            "stability_score",
        ] {
            let shown = scores
                .get(column)
                .unwrap_or_else(|| panic!("no {column}: {m}"));
            let cli = &scored[column];
            let close = match (shown.as_f64(), cli.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                _ => shown == cli,
            };
            assert!(
                close,
                "{width} px: {column} shows {shown}, metrics prints {cli}"
            );
        }
        // The team table: one row (the filter), its cells the CLI's.
        let rows = m["teamCells"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{m}");
        for (column, value) in rows[0].as_object().unwrap() {
            if column != "team" {
                assert!(
                    same_number(value, &by_team[0][column]),
                    "team {column}: {value}"
                );
            }
        }
        assert!(m["trendPoints"].as_u64().unwrap() >= 5 * 10, "{m}");
        for panel in [
            "tiles",
            "trends",
            "teams",
            "deployments",
            "incidents",
            "slowest",
            "explain",
        ] {
            assert!(
                m["panels"].as_array().unwrap().iter().any(|p| p == panel),
                "{m}"
            );
        }
        for control in ["team", "service", "repo", "from", "to", "interval"] {
            assert!(
                m["controls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == control),
                "{m}"
            );
        }
        assert!(m["deploymentRows"].as_u64().unwrap() > 0);
        // WCAG AA contrast for every visible text.
        assert!(m["contrastChecked"].as_u64().unwrap() > 100, "{m}");
        assert_eq!(m["lowContrast"], serde_json::json!([]), "{width} px");
        // A phone (and a desktop): nothing wider than the page.
        assert_eq!(m["pageOverflow"], 0, "{width} px: {m}");
        assert_eq!(m["wideElements"], 0, "{width} px: {m}");
        // The clicked deployment's explanation is the CLI's, and it is in the URL.
        let id = m["clicked"].as_str().unwrap();
        let cli = output_ok(ws.doralens(&["explain", "deployment", id])).stdout;
        assert_eq!(
            m["explanation"].as_str().unwrap_or_default().trim(),
            String::from_utf8(cli).unwrap().trim(),
            "{m}"
        );
        assert_eq!(m["explainOpen"], true);
        assert!(
            m["explainUrl"].as_str().unwrap().contains("explain="),
            "{m}"
        );
        assert!(
            m["sorted"]["url"]
                .as_str()
                .unwrap()
                .contains("sort=-deployments")
        );
    }
}

#[test]
fn the_team_table_sorts_and_the_organisation_matches_the_cli() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    let served = serve_logged(&ws, &[], &[]);
    let m = drive(
        &format!(
            "http://{}/?range=custom&from=2026-08-01&to=2026-11-01&interval=month",
            served.addr
        ),
        1280,
    );
    assert_eq!(m["ready"], "true", "{m}");
    let expected = metrics_json(&ws, &[]);
    for column in ["deploys_per_day", "lead_time_p50_s", "rework_rate"] {
        assert!(
            same_number(&m["tiles"][column], &expected[0][column]),
            "{column}: {m}"
        );
    }
    let teams = m["teamCells"].as_array().unwrap();
    assert_eq!(teams.len(), 3, "{m}");
    let ascending: Vec<f64> = m["sorted"]["ascending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let descending: Vec<f64> = m["sorted"]["descending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]), "{m}");
    assert!(descending.windows(2).all(|w| w[0] >= w[1]), "{m}");
    assert_ne!(ascending, descending);
}

#[test]
fn with_tokens_the_page_asks_for_one_and_loads_nothing_from_elsewhere() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    create_token(&ws, &["--role", "viewer", "--name", "wall"]);
    let served = serve_logged(&ws, &[], &[]);
    for asset in ["/", "/assets/app.js", "/assets/style.css"] {
        let (status, _, body) = get(&served.addr, asset);
        assert_eq!(status, 200, "{asset}");
        for needle in [
            "src=\"http",
            "href=\"http",
            "url(",
            "@import",
            "fetch('http",
            "//cdn",
        ] {
            assert!(!body.contains(needle), "{asset} loads `{needle}`");
        }
    }
    let run = crate::reports::headless(&ws.path("profile"))
        .args(["--virtual-time-budget=20000", "--dump-dom"])
        .arg(format!("http://{}/", served.addr))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&run.stdout);
    assert!(dom.contains("data-ready=\"login\""), "{dom}");
    assert!(dom.contains("<form id=\"login\" aria-labelledby"), "{dom}");
    assert!(!dom.contains("<form id=\"login\" hidden"), "{dom}");
    assert!(dom.contains("<main id=\"main\" hidden"), "{dom}");
}

/// The answer cache never serves an answer from before a write: an import
/// by another process (as a sync would do) shows in the next answer.
#[test]
fn cached_answers_are_never_stale_after_an_import() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    let served = serve_logged(&ws, &[], &[]);
    let target = "/api/v1/metrics?from=2026-10-01&to=2026-11-01";
    let list = "/api/v1/deployments?from=2026-10-01&to=2026-11-01&limit=1";
    let read = |t: &str| {
        let (status, _, body) = get(&served.addr, t);
        assert_eq!(status, 200, "{body}");
        body
    };
    let first = read(target);
    assert_eq!(read(target), first, "a repeated view is the same answer");
    let deployments = |body: &str| {
        serde_json::from_str::<Value>(body).unwrap()["rows"][0]["deployments"]
            .as_u64()
            .unwrap()
    };
    let before = deployments(&first);
    let total = |body: &str| serde_json::from_str::<Value>(body).unwrap()["total"].as_u64();
    let listed = total(&read(list));
    ws.write(
        "new.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         cache-check-1,acme/payments-api,payments-api,production,0000000000000000000000000000000000000001,success,2026-10-15T12:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "deployments", "new.csv"]));
    assert_eq!(deployments(&read(target)), before + 1);
    assert_eq!(total(&read(list)), listed.map(|n| n + 1));
}

/// The slowest changes name their pull request, linked to its page for a
/// forge-synced repository (the links a sync saves in `_state/`).
#[test]
fn the_slowest_changes_link_their_pull_request() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    ws.write(
        "warehouse/_state/github-payments.json",
        r#"{"links": {"repo": "acme/payments-api",
            "commit": "https://github.com/acme/payments-api/commit/{sha}",
            "change": "https://github.com/acme/payments-api/pull/{number}"}}"#,
    );
    let served = serve_logged(&ws, &[], &[]);
    let (status, _, body) = get(
        &served.addr,
        "/api/v1/changes/slowest?from=2026-07-01&to=2026-11-01&limit=200",
    );
    assert_eq!(status, 200, "{body}");
    let rows = serde_json::from_str::<Value>(&body).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 200);
    let lead: Vec<f64> = rows
        .iter()
        .map(|r| r["lead_time_s"].as_f64().unwrap())
        .collect();
    assert!(lead.windows(2).all(|w| w[0] >= w[1]), "slowest first");
    let linked = rows
        .iter()
        .find(|r| r["repo"] == "acme/payments-api" && r["number"].is_i64())
        .unwrap_or_else(|| panic!("no payments change among {body}"));
    assert_eq!(
        linked["change_url"],
        format!(
            "https://github.com/acme/payments-api/pull/{}",
            linked["number"]
        )
    );
    assert!(
        rows.iter()
            .all(|r| r["repo"] == "acme/payments-api" || r["change_url"].is_null())
    );
}

/// Regression: `--sql-max-value` bounded the bundled metric SQL too, whose
/// first-shipment key pads timestamps (`lpad`); at the benchmark's scale a
/// shared view's batch of padded keys passed the per-batch bound and every
/// metrics answer was a 500. The bound is for users' SQL only.
#[test]
fn regression_the_sql_value_bound_limits_users_sql_not_the_metrics() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    let served = serve_logged(&ws, &["--sql-max-value", "8"], &[]);
    let (status, _, body) = get(
        &served.addr,
        "/api/v1/metrics?from=2026-07-01&to=2026-11-01",
    );
    assert_eq!(status, 200, "{body}");
    let rows = serde_json::from_str::<Value>(&body).unwrap()["rows"].clone();
    assert!(
        rows[0]["production_changes"].as_i64().unwrap_or(0) > 0,
        "the window ships changes (the padded key's rows): {body}"
    );
    let (status, _, body) = get(
        &served.addr,
        &format!(
            "/api/v1/sql?q={}",
            crate::dashboards::encode("SELECT lpad('x', 100) AS p")
        ),
    );
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("--sql-max-value"), "{body}");
}
