//! GitHub and GitLab ingestion against the mock APIs in `mock_forge`
//! (fixtures in `fixtures/github/`, `fixtures/gitlab/`). The mock
//! organisation and its hand-computed metrics are described in
//! `fixtures/github/README.md`.

use std::collections::HashMap;

use assert_cmd::Command;

use crate::mock_forge::{Fault, Flavour, MockForge};
use crate::util::{Workspace, output_ok};

pub const GH_TOKEN: &str = "ghp_s3cr3tTOKENvalue0000000000000000000";
const GL_TOKEN: &str = "glpat-s3cr3tTOKENvalue00000";

pub fn forge_cmd(ws: &Workspace, mock: &MockForge, args: &[&str]) -> Command {
    let mut cmd = ws.doralens(args);
    let (forge, token_env, token) = match mock.flavour {
        Flavour::GitHub => ("github", "GITHUB_TOKEN", GH_TOKEN),
        Flavour::GitLab => ("gitlab", "GITLAB_TOKEN", GL_TOKEN),
    };
    let _ = forge;
    cmd.env(token_env, token)
        .env("DORALENS_HTTP_BACKOFF_MS", "20")
        .arg("--api-url")
        .arg(mock.api_url());
    cmd
}

pub fn github(ws: &Workspace, mock: &MockForge, extra: &[&str]) -> Command {
    let mut args = vec!["ingest", "github"];
    args.extend(extra);
    forge_cmd(ws, mock, &args)
}

pub fn gitlab(ws: &Workspace, mock: &MockForge, extra: &[&str]) -> Command {
    let mut args = vec!["ingest", "gitlab"];
    args.extend(extra);
    forge_cmd(ws, mock, &args)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Rows of a CSV with a header, as column → value maps.
fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn assert_number(row: &HashMap<String, String>, column: &str, expected: Option<f64>) {
    let value = &row[column];
    match expected {
        None => assert!(value.is_empty(), "{column}: expected null, got {value}"),
        Some(e) => {
            let got: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("{column}: `{value}` is not a number"));
            assert!(
                (got - e).abs() < 1e-6 * e.abs().max(1.0),
                "{column}: expected {e}, got {got}"
            );
        }
    }
}

/// Every table of a warehouse, sorted, as text (to compare warehouses).
/// Provenance is left out: an incremental sync's rows rightly name other
/// runs (and fetch times, requests) than a full sync's.
pub fn dump(ws: &Workspace, warehouse: &std::path::Path) -> String {
    let mut all = String::new();
    for (table, order) in [
        ("commits", "repo, sha"),
        ("changes", "repo, number"),
        ("deployments", "id"),
        ("incidents", "id"),
        ("rollbacks", "id"),
        ("reviews", "repo, number, reviewer, submitted_at"),
    ] {
        all.push_str(&ws.sql_csv_in(
            warehouse,
            &format!(
                "SELECT * EXCLUDE (_source, _scope, _fetched_at, _sync, _origin) \
                 FROM {table} ORDER BY {order}"
            ),
            &[],
        ));
    }
    all
}

fn config(github: &MockForge, gitlab: &MockForge) -> String {
    format!(
        r#"production = "production|prod"
concurrency = 2

[github]
api_url = "{}"
repos = ["acme/api", "acme/web"]
releases_as_deployments = true

[gitlab]
api_url = "{}"
repos = ["acme/billing"]

[services]
"acme/api" = "api"
"acme/web" = "web"
"acme/billing" = "billing"

[teams]
payments = ["api", "billing"]
storefront = ["web"]
"#,
        github.api_url(),
        gitlab.api_url()
    )
}

fn ingest_all(ws: &Workspace, warehouse: &std::path::Path) -> std::process::Output {
    let mut cmd = ws.doralens_in(warehouse, &["ingest"]);
    cmd.env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITLAB_TOKEN", GL_TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "20");
    output_ok(cmd)
}

#[test]
fn mock_organisation_metrics_match_hand_computed_values() {
    let gh = MockForge::start(Flavour::GitHub);
    let gl = MockForge::start(Flavour::GitLab);
    // Two items per page: every list of the organisation spans pages.
    gh.set_max_per_page(Some(2));
    let ws = Workspace::new();
    ws.write("doralens.toml", &config(&gh, &gl));
    let out = ingest_all(&ws, &ws.warehouse());
    let log = stderr(&out);
    // Rows read: the 6 commits of main, and 3 that merged pull requests
    // brought (one of them also on main).
    assert!(
        log.contains(
            "github acme/api: 9 commits, 4 changes, 6 deployments, 1 incidents, 1 rollbacks"
        ),
        "{log}"
    );
    assert!(log.contains("gitlab acme/billing: 5 commits"), "{log}");

    let metrics = ws
        .doralens(&[
            "metrics",
            "--by",
            "service",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-08",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(metrics.status.success(), "{}", stderr(&metrics));
    let rows = csv_rows(&String::from_utf8(metrics.stdout).unwrap());
    let by_service: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["service"].as_str(), r)).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    // (column, api, billing, web); see fixtures/github/README.md.
    type Row<'a> = (&'a str, Option<f64>, Option<f64>, Option<f64>);
    let expected: &[Row] = &[
        ("deployments", Some(5.0), Some(2.0), Some(2.0)),
        ("deploy_days", Some(4.0), Some(2.0), Some(2.0)),
        (
            "deploys_per_day",
            Some(5.0 / 7.0),
            Some(2.0 / 7.0),
            Some(2.0 / 7.0),
        ),
        ("lead_time_count", Some(4.0), Some(2.0), Some(2.0)),
        (
            "lead_time_p50_s",
            Some(53100.0),
            Some(19200.0),
            Some(5400.0),
        ),
        (
            "lead_time_p90_s",
            Some(96300.0),
            Some(27840.0),
            Some(6840.0),
        ),
        ("failed_deployments", Some(1.0), Some(1.0), Some(1.0)),
        ("change_failure_rate", Some(0.2), Some(0.5), Some(0.5)),
        ("recovery_count", Some(1.0), Some(1.0), Some(0.0)),
        ("recovery_time_p50_s", Some(12600.0), Some(6000.0), None),
        ("open_failures", Some(0.0), Some(0.0), Some(1.0)),
        ("incidents", Some(1.0), Some(1.0), Some(1.0)),
        ("time_to_restore_p50_s", Some(9000.0), Some(3600.0), None),
        ("rework_deployments", Some(2.0), Some(1.0), Some(1.0)),
        ("rework_rate", Some(0.4), Some(0.5), Some(0.5)),
        // Median intervals: under 6 samples they are [min, max].
        (
            "lead_time_p50_low_s",
            Some(5400.0),
            Some(8400.0),
            Some(3600.0),
        ),
        (
            "lead_time_p50_high_s",
            Some(99000.0),
            Some(30000.0),
            Some(7200.0),
        ),
        ("recovery_time_p50_low_s", Some(12600.0), Some(6000.0), None),
        (
            "recovery_time_p50_high_s",
            Some(12600.0),
            Some(6000.0),
            None,
        ),
        (
            "time_to_restore_p50_low_s",
            Some(9000.0),
            Some(3600.0),
            None,
        ),
    ];
    for (column, api, billing, web) in expected {
        assert_number(by_service["api"], column, *api);
        assert_number(by_service["billing"], column, *billing);
        assert_number(by_service["web"], column, *web);
    }

    // Wilson interval of 1 failure in 5 deployments, by hand (z = 1.96):
    // centre (0.2 + z²/10) / (1 + z²/5) = 0.330 35,
    // half z·√(0.032 + z²/100) / (1 + z²/5) = 0.294 13.
    let low: f64 = by_service["api"]["change_failure_rate_low"]
        .parse()
        .unwrap();
    assert!((low - 0.036_22).abs() < 1e-4, "{low}");
    let high: f64 = by_service["api"]["change_failure_rate_high"]
        .parse()
        .unwrap();
    assert!((high - 0.624_48).abs() < 1e-4, "{high}");

    // What the changes carry: first commit, first review (not the author,
    // not a bot, not a system note), merge sha only once merged.
    let changes = ws.sql_csv(
        "SELECT repo, number, CAST(first_commit_at AS VARCHAR) AS first_commit, \
         CAST(first_review_at AS VARCHAR) AS first_review, substr(merge_sha, 1, 2) AS merge, \
         array_to_string(labels, ';') AS labels FROM changes ORDER BY repo, number",
    );
    assert_eq!(
        changes,
        "repo,number,first_commit,first_review,merge,labels\n\
         acme/api,1,2026-11-02T08:30:00Z,2026-11-02T15:00:00Z,a3,\n\
         acme/api,2,2026-11-03T11:00:00Z,2026-11-03T16:00:00Z,a4,feature\n\
         acme/api,3,2026-11-05T09:00:00Z,,a5,hotfix\n\
         acme/api,4,2026-11-05T13:50:00Z,,,\n\
         acme/billing,7,2026-11-03T09:00:00Z,2026-11-03T11:00:00Z,b3,bug\n"
    );
    let incidents =
        ws.sql_csv("SELECT id, service, severity, deployment_id, sha FROM incidents ORDER BY id");
    assert_eq!(
        incidents,
        format!(
            "id,service,severity,deployment_id,sha\n\
             acme/api#10,api,sev2,,a4{zeros}\n\
             acme/billing#20,billing,HIGH,acme/billing/deployments/3,\n\
             acme/web#5,web,,,\n",
            zeros = "0".repeat(38)
        )
    );
    let deployments = ws.sql_csv(
        "SELECT id, environment, status, substr(sha, 1, 2) AS sha FROM deployments ORDER BY id",
    );
    assert_eq!(
        deployments,
        "id,environment,status,sha\n\
         acme/api/deployments/100,staging,success,a2\n\
         acme/api/deployments/101,production,success,a2\n\
         acme/api/deployments/102,production,success,a3\n\
         acme/api/deployments/103,production,success,a4\n\
         acme/api/deployments/104,production,success,a3\n\
         acme/api/deployments/105,production,success,a5\n\
         acme/billing/deployments/1,production,success,b2\n\
         acme/billing/deployments/2,production,failure,b3\n\
         acme/billing/deployments/3,production,success,b3\n\
         acme/billing/deployments/4,review/fix-x,success,b3\n\
         acme/web/releases/v1.0,production,success,f1\n\
         acme/web/releases/v1.1,production,success,f2\n\
         acme/web/releases/v1.2,production,success,f3\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT id, deployment_id, rollback_deployment_id FROM rollbacks"),
        "id,deployment_id,rollback_deployment_id\n\
         acme/api/deployments/104#rollback,acme/api/deployments/103,acme/api/deployments/104\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT team, service FROM teams ORDER BY team, service"),
        "team,service\npayments,api\npayments,billing\nstorefront,web\n"
    );

    // The week's report links the slowest changes to the forges' pages.
    let report = ws.path("report");
    output_ok(ws.doralens(&[
        "report",
        "--week",
        "2026-W45",
        "--out",
        report.to_str().unwrap(),
    ]));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let zeros = "0".repeat(38);
    for link in [
        format!("[acme/api `a400000000`](https://github.com/acme/api/commit/a4{zeros})"),
        "[acme/api#2 Add currency field](https://github.com/acme/api/pull/2)".to_string(),
        format!("(https://gitlab.example.com/acme/billing/-/commit/b3{zeros})"),
        "[acme/billing#7 Fix rounding](https://gitlab.example.com/acme/billing/-/merge_requests/7)"
            .to_string(),
    ] {
        assert!(md.contains(&link), "{link} missing:\n{md}");
    }
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<a href=\"https://github.com/acme/api/pull/2\">"));

    // The tokens went in headers, and only to the mock.
    assert!(
        gh.requests()
            .iter()
            .all(|r| r.headers.get("authorization") == Some(&format!("Bearer {GH_TOKEN}")))
    );
    assert!(
        gl.requests()
            .iter()
            .all(|r| r.headers.get("private-token") == Some(&GL_TOKEN.to_string()))
    );
    // Pagination followed the Link header to the end: 3 pages of the
    // api's 6 commits on main, 2 per page.
    let pages: Vec<String> = gh
        .requests()
        .iter()
        .filter(|r| r.path == "/repos/acme/api/commits")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[2].contains("page=3"), "{pages:?}");
    assert!(!log.contains(GH_TOKEN) && !log.contains(GL_TOKEN));
}

#[test]
fn incremental_sync_converges_to_a_full_sync() {
    let gh = MockForge::start(Flavour::GitHub);
    let gl = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    ws.write("doralens.toml", &config(&gh, &gl));
    let full = ws.path("full");
    ingest_all(&ws, &full);

    // The same organisation seen mid-incident, then again later.
    let incremental = ws.path("incremental");
    gh.set_now(Some("2026-11-04T14:00:00Z"));
    gl.set_now(Some("2026-11-03T17:10:00Z"));
    ingest_all(&ws, &incremental);
    let early = dump(&ws, &incremental);
    assert!(!early.contains("acme/api/deployments/105"), "{early}");
    assert!(early.contains("acme/api#10"));
    gh.set_now(None);
    gl.set_now(None);
    let before = gh.requests().len();
    let out = ingest_all(&ws, &incremental);
    assert!(stderr(&out).contains("(incremental)"), "{}", stderr(&out));
    assert_eq!(dump(&ws, &incremental), dump(&ws, &full));

    // The second pass asked only for what changed.
    let second: Vec<_> = gh.requests()[before..].to_vec();
    let commits = second
        .iter()
        .find(|r| r.path == "/repos/acme/api/commits")
        .expect("commits asked for");
    assert!(commits.query.contains("since="), "{}", commits.query);
    let issues = second
        .iter()
        .find(|r| r.path == "/repos/acme/api/issues")
        .expect("issues asked for");
    assert!(
        issues.query.contains("since=2026-11-04T14"),
        "{}",
        issues.query
    );
    assert!(
        gl.requests()
            .iter()
            .rev()
            .any(|r| r.path.ends_with("/merge_requests") && r.query.contains("updated_after=")),
    );
}

#[test]
fn github_retries_5xx_truncated_bodies_and_rate_limits() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault(
        "/repos/acme/api/commits",
        Fault::Status(502, "Server Error"),
        1,
    );
    // Pull requests and deployment statuses come through GraphQL.
    gh.fault("/graphql", Fault::RetryAfter(1), 1);
    gh.fault("/repos/acme/api/deployments", Fault::Truncate, 1);
    gh.fault("/repos/acme/api", Fault::LimitExhausted(1), 1);
    gh.fault("/repos/acme/api/tags", Fault::Truncate, 1);
    let ws = Workspace::new();
    let out = output_ok(github(&ws, &gh, &["acme/api", "--releases-as-deployments"]));
    let log = stderr(&out);
    assert!(log.contains("HTTP 502"), "{log}");
    assert!(log.contains("retry 1/5"), "{log}");
    assert!(log.contains("Retry-After: 1"), "{log}");
    assert!(log.contains("reading the answer failed"), "{log}");
    assert!(log.contains("not complete JSON") || log.contains("reading the answer failed"));
    assert!(log.contains("github acme/api: 9 commits"), "{log}");
    // After the exhausted limit the next request waited for the reset.
    assert!(log.contains("rate limit used up"), "{log}");
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments"),
        "n\n6\n"
    );
}

#[test]
fn gitlab_retries_and_waits_for_retry_after() {
    let gl = MockForge::start(Flavour::GitLab);
    gl.fault(
        "/repository/commits",
        Fault::Status(502, "502 Bad Gateway"),
        2,
    );
    gl.fault("/merge_requests", Fault::RetryAfter(1), 1);
    gl.fault("/deployments", Fault::Truncate, 1);
    let ws = Workspace::new();
    let out = output_ok(gitlab(&ws, &gl, &["acme/billing"]));
    let log = stderr(&out);
    assert!(log.contains("HTTP 502"), "{log}");
    assert!(log.contains("retry 2/5"), "{log}");
    assert!(log.contains("Retry-After: 1"), "{log}");
    assert!(
        log.contains("gitlab acme/billing: 5 commits, 1 changes, 4 deployments, 1 incidents"),
        "{log}"
    );
}

#[test]
fn gitlab_pages_through_long_histories() {
    let gl = MockForge::start(Flavour::GitLab);
    // 230 commits: three pages of 100.
    let commits: Vec<serde_json::Value> = (0..230)
        .rev()
        .map(|i| {
            let sha = format!("{i:040x}");
            let parent = if i == 0 { vec![] } else { vec![format!("{:040x}", i - 1)] };
            let at = format!("2026-10-{:02}T{:02}:00:00.000Z", 1 + i / 24, i % 24);
            serde_json::json!({"id": sha, "short_id": &sha[..8], "parent_ids": parent, "title": format!("change {i}"),
                "message": format!("change {i}"), "author_name": "Dev", "authored_date": at, "committed_date": at,
                "created_at": at, "web_url": "https://gitlab.example.com/x"})
        })
        .collect();
    gl.route(
        "/api/v4/projects/acme%2Fbilling/repository/commits",
        serde_json::Value::Array(commits),
    );
    let ws = Workspace::new();
    let out = output_ok(gitlab(&ws, &gl, &["acme/billing"]));
    // 230 on the branch, and the merge request's own commit.
    assert!(stderr(&out).contains("231 commits"), "{}", stderr(&out));
    let pages: Vec<String> = gl
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/repository/commits"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM commits"), "n\n231\n");
}

#[test]
fn expired_tokens_are_reported_without_the_token() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("", Fault::Status(401, "Bad credentials"), u32::MAX);
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/api", "acme/web"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log = stderr(&out);
    assert!(log.contains("GITHUB_TOKEN"), "{log}");
    assert!(
        log.contains("401") && log.contains("Bad credentials"),
        "{log}"
    );
    assert!(!log.contains(GH_TOKEN), "{log}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(GH_TOKEN));

    let gl = MockForge::start(Flavour::GitLab);
    gl.fault("", Fault::Status(401, "401 Unauthorized"), u32::MAX);
    let out = gitlab(&ws, &gl, &["acme/billing"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log = stderr(&out);
    assert!(log.contains("GITLAB_TOKEN") && log.contains("401"), "{log}");
    assert!(!log.contains(GL_TOKEN), "{log}");
}

#[test]
fn a_failure_after_retries_keeps_what_was_synced_and_resumes() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault(
        "/repos/acme/api/deployments",
        Fault::Status(503, "unavailable"),
        u32::MAX,
    );
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/api", "acme/web"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = stderr(&out);
    assert!(log.contains("gave up after 6 attempts"), "{log}");
    assert!(
        log.contains("kept what was synced: commits, changes"),
        "{log}"
    );
    assert!(log.contains("run the same command again"), "{log}");
    // acme/web finished; acme/api kept its commits and changes.
    assert!(log.contains("github acme/web: 3 commits"), "{log}");
    assert_eq!(
        ws.sql_csv("SELECT repo, count(*) AS n FROM commits GROUP BY repo ORDER BY repo"),
        "repo,n\nacme/api,8\nacme/web,3\n"
    );
    gh.clear_faults();
    output_ok(github(&ws, &gh, &["acme/api", "acme/web"]));
    let full = Workspace::new();
    output_ok(github(&full, &gh, &["acme/api", "acme/web"]));
    assert_eq!(dump(&ws, &ws.warehouse()), dump(&full, &full.warehouse()));
}

#[test]
fn init_writes_a_config_that_ingest_reads() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&["init"]));
    let text = std::fs::read_to_string(ws.path("doralens.toml")).unwrap();
    assert!(text.contains("[github]") && text.contains("[teams]"));
    // Not overwritten without --force.
    let again = ws.doralens(&["init"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    // The starter lists no repositories yet: ingest says so.
    let out = ws.doralens(&["ingest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("lists no repositories"),
        "{}",
        stderr(&out)
    );
    // A typo names the line.
    ws.write("bad.toml", "[github]\nrepo = [\"acme/api\"]\n");
    let out = ws
        .doralens(&["ingest", "--config", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.toml: line 2"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_repositories_say_how_to_fix_them() {
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = stderr(&out);
    assert!(
        log.contains("HTTP 404") && log.contains("check the name"),
        "{log}"
    );
    let out = github(&ws, &gh, &["nope"]).output().unwrap();
    assert!(
        stderr(&out).contains("is not owner/repo"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn repositories_sync_concurrently() {
    let gh = MockForge::start(Flavour::GitHub);
    // Slow answers, so the two repositories' syncs (a handful of requests
    // each since GraphQL) overlap however busy the machine is.
    gh.set_delay_ms(200);
    let ws = Workspace::new();
    output_ok(github(
        &ws,
        &gh,
        &["acme/api", "acme/web", "--concurrency", "2"],
    ));
    assert_eq!(gh.max_repos_in_flight(), 2);
    // One at a time when asked.
    let gh = MockForge::start(Flavour::GitHub);
    gh.set_delay_ms(20);
    let ws = Workspace::new();
    output_ok(github(
        &ws,
        &gh,
        &["acme/api", "acme/web", "--concurrency", "1"],
    ));
    assert_eq!(gh.max_repos_in_flight(), 1);
}

#[test]
fn a_stalled_answer_times_out_and_is_retried() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/repos/acme/web/commits", Fault::Stall(4000), 1);
    let ws = Workspace::new();
    let mut cmd = github(&ws, &gh, &["acme/web"]);
    cmd.env("DORALENS_HTTP_TIMEOUT_S", "1");
    let out = output_ok(cmd);
    let log = stderr(&out);
    assert!(log.contains("no complete answer within 1 s"), "{log}");
    assert!(log.contains("github acme/web: 3 commits"), "{log}");
}

#[test]
fn regression_gitlab_incident_links_take_the_iid_and_warn_about_unknown_deployments() {
    let gl = MockForge::start(Flavour::GitLab);
    let path = "/api/v4/projects/acme%2Fbilling/issues";
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::mock_forge::fixture(
            Flavour::GitLab,
            "acme-billing.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut first = fixture[path][0].clone();
    first["description"] = "Invoices fail.\n\ndeployment: #3\n".into();
    let mut second = fixture[path][0].clone();
    second["id"] = 9021.into();
    second["iid"] = 21.into();
    second["references"]["short"] = "#21".into();
    // The global id of deployment #3 (its iid is what the link takes).
    second["description"] = "Slow invoices.\n\ndeployment: 4003\n".into();
    gl.route(path, serde_json::json!([first, second]));
    let ws = Workspace::new();
    let out = output_ok(gitlab(&ws, &gl, &["acme/billing"]));
    let err = stderr(&out);
    assert!(
        err.contains("acme/billing#21") && err.contains("deployment: 4003") && err.contains("iid"),
        "{err}"
    );
    assert!(!err.contains("acme/billing#20 links"), "{err}");
    assert_eq!(
        ws.sql_csv("SELECT id, deployment_id FROM incidents ORDER BY id"),
        "id,deployment_id\nacme/billing#20,acme/billing/deployments/3\nacme/billing#21,acme/billing/deployments/4003\n"
    );
}

/// A commit dated long before the cursor that reaches the default branch
/// through a merge without a pull/merge request: the date-based listing
/// skips it, the graph shows the gap, and the incremental warehouse ends
/// equal to a full sync.
#[test]
fn regression_old_commits_merged_without_a_change_arrive_incrementally() {
    for flavour in [Flavour::GitHub, Flavour::GitLab] {
        let mock = MockForge::start(flavour);
        let (path, repo, file) = match flavour {
            Flavour::GitHub => ("/repos/acme/api/commits", "acme/api", "acme-api.json"),
            Flavour::GitLab => (
                "/api/v4/projects/acme%2Fbilling/repository/commits",
                "acme/billing",
                "acme-billing.json",
            ),
        };
        let ws = Workspace::new();
        let sync = |wh: &std::path::Path, extra: &[&str]| {
            let mut args = vec![repo];
            args.extend(extra);
            let mut cmd = match flavour {
                Flavour::GitHub => github(&ws, &mock, &args),
                Flavour::GitLab => gitlab(&ws, &mock, &args),
            };
            cmd.arg("--warehouse").arg(wh);
            output_ok(cmd)
        };
        let incremental = ws.path("incremental");
        sync(&incremental, &[]);

        let fixture: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(crate::mock_forge::fixture(flavour, file)).unwrap(),
        )
        .unwrap();
        let mut commits = fixture[path].as_array().unwrap().clone();
        let head = commits[0].clone();
        let mut old = head.clone();
        let mut merge = head.clone();
        let (old_sha, merge_sha) = ("0d".repeat(20), "0e".repeat(20));
        let first_parent = match flavour {
            Flavour::GitHub => head["sha"].clone(),
            Flavour::GitLab => head["id"].clone(),
        };
        let root = commits.last().unwrap().clone();
        let root_sha = match flavour {
            Flavour::GitHub => root["sha"].clone(),
            Flavour::GitLab => root["id"].clone(),
        };
        match flavour {
            Flavour::GitHub => {
                old["sha"] = old_sha.clone().into();
                old["parents"] = serde_json::json!([{ "sha": root_sha }]);
                old["commit"]["message"] = "Old branch work".into();
                for who in ["author", "committer"] {
                    old["commit"][who]["date"] = "2026-09-01T10:00:00Z".into();
                    merge["commit"][who]["date"] = "2026-11-10T10:00:00Z".into();
                }
                merge["sha"] = merge_sha.clone().into();
                merge["parents"] = serde_json::json!([{ "sha": first_parent }, { "sha": old_sha }]);
                merge["commit"]["message"] = "Merge branch 'old' into main".into();
            }
            Flavour::GitLab => {
                old["id"] = old_sha.clone().into();
                old["parent_ids"] = serde_json::json!([root_sha]);
                old["message"] = "Old branch work".into();
                merge["id"] = merge_sha.clone().into();
                merge["parent_ids"] = serde_json::json!([first_parent, old_sha]);
                merge["message"] = "Merge branch 'old' into main".into();
                for field in ["created_at", "authored_date", "committed_date"] {
                    old[field] = "2026-09-01T10:00:00.000Z".into();
                    merge[field] = "2026-11-10T10:00:00.000Z".into();
                }
            }
        }
        commits.insert(0, merge);
        commits.push(old);
        mock.route(path, serde_json::Value::Array(commits));

        let out = sync(&incremental, &[]);
        assert!(stderr(&out).contains("incremental"), "{}", stderr(&out));
        let full = ws.path("full");
        sync(&full, &[]);
        let q = format!("SELECT sha FROM commits WHERE sha = '{old_sha}'");
        assert_eq!(
            ws.sql_csv_in(&incremental, &q, &[]),
            format!("sha\n{old_sha}\n"),
            "{flavour:?}"
        );
        assert_eq!(dump(&ws, &incremental), dump(&ws, &full), "{flavour:?}");
        // The gap was closed from the graph: one listing from the missing sha.
        assert!(
            mock.requests().iter().any(|r| r.path == path
                && (r.query.contains(&format!("sha={old_sha}"))
                    || r.query.contains(&format!("ref_name={old_sha}")))),
            "{flavour:?}"
        );
    }
}

/// Promoting a prerelease changes no date (`published_at` stays), so a
/// date cursor never saw it: every run now stores every release as it is.
#[test]
fn regression_a_promoted_prerelease_becomes_a_deployment_incrementally() {
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    let args = ["acme/web", "--releases-as-deployments"];
    let sync = |wh: &std::path::Path| {
        let mut cmd = github(&ws, &gh, &args);
        cmd.arg("--warehouse").arg(wh);
        output_ok(cmd)
    };
    let incremental = ws.path("incremental");
    sync(&incremental);
    let q = "SELECT id FROM deployments WHERE id LIKE '%v1.3-rc1%'";
    assert_eq!(ws.sql_csv_in(&incremental, q, &[]), "id\n");
    let path = "/repos/acme/web/releases";
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::mock_forge::fixture(Flavour::GitHub, "acme-web.json"))
            .unwrap(),
    )
    .unwrap();
    let mut releases = fixture[path].clone();
    for r in releases.as_array_mut().unwrap() {
        if r["tag_name"] == "v1.3-rc1" {
            r["prerelease"] = false.into();
        }
    }
    gh.route(path, releases);
    sync(&incremental);
    let full = ws.path("full");
    sync(&full);
    assert_eq!(ws.sql_csv_in(&incremental, q, &[]).lines().count(), 2);
    assert_eq!(dump(&ws, &incremental), dump(&ws, &full));
}

/// An environment moved to tier `production` after a sync: no deployment's
/// update time moves, yet its past deployments become production ones.
#[test]
fn regression_a_gitlab_tier_change_reclassifies_past_deployments() {
    let gl = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    let sync = |wh: &std::path::Path| {
        let mut cmd = gitlab(&ws, &gl, &["acme/billing"]);
        cmd.arg("--warehouse").arg(wh);
        output_ok(cmd)
    };
    let incremental = ws.path("incremental");
    sync(&incremental);
    let q = "SELECT id, environment FROM deployments ORDER BY id";
    assert!(ws.sql_csv_in(&incremental, q, &[]).contains("review/fix-x"));
    let path = "/api/v4/projects/acme%2Fbilling/environments";
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::mock_forge::fixture(
            Flavour::GitLab,
            "acme-billing.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut environments = fixture[path].clone();
    for e in environments.as_array_mut().unwrap() {
        if e["name"] == "review/fix-x" {
            e["tier"] = "production".into();
        }
    }
    gl.route(path, environments);
    sync(&incremental);
    let full = ws.path("full");
    sync(&full);
    assert!(!ws.sql_csv_in(&incremental, q, &[]).contains("review/fix-x"));
    assert_eq!(dump(&ws, &incremental), dump(&ws, &full));
}

/// The mock organisation's routes as a test edits them between syncs.
struct World {
    flavour: Flavour,
    routes: serde_json::Map<String, serde_json::Value>,
}

impl World {
    fn new(flavour: Flavour) -> World {
        let files: &[&str] = match flavour {
            Flavour::GitHub => &["acme-api.json", "acme-web.json"],
            Flavour::GitLab => &["acme-billing.json"],
        };
        let mut routes = serde_json::Map::new();
        for f in files {
            let v: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(crate::mock_forge::fixture(flavour, f)).unwrap(),
            )
            .unwrap();
            routes.extend(v.as_object().unwrap().clone());
        }
        World { flavour, routes }
    }

    fn time(&self, step: usize) -> String {
        let day = 10 + step;
        match self.flavour {
            Flavour::GitHub => format!("2026-11-{day:02}T10:00:00Z"),
            Flavour::GitLab => format!("2026-11-{day:02}T10:00:00.000Z"),
        }
    }

    fn incident_path(&self) -> (&'static str, ()) {
        match self.flavour {
            Flavour::GitHub => ("/repos/acme/api/issues", ()),
            Flavour::GitLab => ("/api/v4/projects/acme%2Fbilling/issues", ()),
        }
    }

    fn commits_path(&self) -> &'static str {
        match self.flavour {
            Flavour::GitHub => "/repos/acme/api/commits",
            Flavour::GitLab => "/api/v4/projects/acme%2Fbilling/repository/commits",
        }
    }

    fn sha(&self, c: &serde_json::Value) -> serde_json::Value {
        match self.flavour {
            Flavour::GitHub => c["sha"].clone(),
            Flavour::GitLab => c["id"].clone(),
        }
    }

    /// A commit like `template` with a new sha, parents and date.
    fn commit(
        &self,
        template: &serde_json::Value,
        sha: &str,
        parents: &[serde_json::Value],
        when: &str,
    ) -> serde_json::Value {
        let mut c = template.clone();
        match self.flavour {
            Flavour::GitHub => {
                c["sha"] = sha.into();
                c["parents"] = parents
                    .iter()
                    .map(|p| serde_json::json!({ "sha": p }))
                    .collect();
                c["commit"]["message"] = format!("Work {sha}").into();
                for who in ["author", "committer"] {
                    c["commit"][who]["date"] = when.into();
                }
            }
            Flavour::GitLab => {
                c["id"] = sha.into();
                c["parent_ids"] = parents.to_vec().into();
                c["message"] = format!("Work {sha}").into();
                for field in ["created_at", "authored_date", "committed_date"] {
                    c[field] = when.into();
                }
            }
        }
        c
    }

    /// Applies edit `kind` (0..8) as step `step`; returns the changed routes.
    fn edit(&mut self, kind: usize, step: usize) -> Vec<String> {
        let now = self.time(step);
        let old = match self.flavour {
            Flavour::GitHub => "2026-09-01T10:00:00Z",
            Flavour::GitLab => "2026-09-01T10:00:00.000Z",
        };
        let path = self.commits_path().to_string();
        let mut commits = self.routes[&path].as_array().unwrap().clone();
        let head = commits[0].clone();
        match kind {
            // A new commit on the default branch.
            0 => {
                let c = self.commit(
                    &head,
                    &format!("{:040x}", 0xa000 + step),
                    &[self.sha(&head)],
                    &now,
                );
                commits.insert(0, c);
            }
            // Old branch work merged without a pull/merge request.
            1 => {
                let root = self.sha(commits.last().unwrap());
                let old_sha = format!("{:040x}", 0xb000 + step);
                let side = self.commit(&head, &old_sha, &[root], old);
                let merge = self.commit(
                    &head,
                    &format!("{:040x}", 0xc000 + step),
                    &[self.sha(&head), old_sha.clone().into()],
                    &now,
                );
                commits.insert(0, merge);
                commits.push(side);
            }
            // GitHub: promote the prerelease; GitLab: an environment
            // becomes tier production.
            2 => {
                return match self.flavour {
                    Flavour::GitHub => {
                        let p = "/repos/acme/web/releases";
                        for r in self.routes[p].as_array_mut().unwrap() {
                            if r["tag_name"] == "v1.3-rc1" {
                                r["prerelease"] = false.into();
                            }
                        }
                        vec![p.into()]
                    }
                    Flavour::GitLab => {
                        let p = "/api/v4/projects/acme%2Fbilling/environments";
                        for e in self.routes[p].as_array_mut().unwrap() {
                            if e["name"] == "review/fix-x" {
                                e["tier"] = "production".into();
                            }
                        }
                        vec![p.into()]
                    }
                };
            }
            // GitHub: the open incident is closed; GitLab: the running
            // deployment finishes.
            3 => {
                return match self.flavour {
                    Flavour::GitHub => {
                        let p = "/repos/acme/web/issues";
                        for i in self.routes[p].as_array_mut().unwrap() {
                            if i["state"] == "open" {
                                i["state"] = "closed".into();
                                i["closed_at"] = now.clone().into();
                                i["updated_at"] = now.clone().into();
                            }
                        }
                        vec![p.into()]
                    }
                    Flavour::GitLab => {
                        let p = "/api/v4/projects/acme%2Fbilling/deployments";
                        for d in self.routes[p].as_array_mut().unwrap() {
                            if d["status"] == "running" {
                                d["status"] = "success".into();
                                d["updated_at"] = now.clone().into();
                                d["deployable"]["status"] = "success".into();
                                d["deployable"]["finished_at"] = now.clone().into();
                            }
                        }
                        vec![p.into()]
                    }
                };
            }
            // GitHub: the incident loses its label; GitLab: the incident
            // becomes a plain issue. Either way it is no incident any more.
            5 => {
                let (p, _) = self.incident_path();
                for i in self.routes[p].as_array_mut().unwrap() {
                    match self.flavour {
                        Flavour::GitHub => {
                            if i["number"] == 10 {
                                i["labels"] = serde_json::json!([]);
                                i["updated_at"] = now.clone().into();
                            }
                        }
                        Flavour::GitLab => {
                            i["issue_type"] = "issue".into();
                            i["type"] = "ISSUE".into();
                            i["updated_at"] = now.clone().into();
                        }
                    }
                }
                return vec![p.into()];
            }
            // GitHub: a failure status after deployment 103's success;
            // GitLab: the closed incident is reopened.
            6 => {
                return match self.flavour {
                    Flavour::GitHub => {
                        let p = "/repos/acme/api/deployments/103/statuses";
                        let statuses = self.routes[p].as_array_mut().unwrap();
                        let mut failure = statuses[0].clone();
                        failure["id"] = 9999.into();
                        failure["state"] = "failure".into();
                        failure["created_at"] = "2026-11-04T12:30:00Z".into();
                        failure["updated_at"] = "2026-11-04T12:30:00Z".into();
                        statuses.insert(0, failure);
                        vec![p.into()]
                    }
                    Flavour::GitLab => {
                        let (p, _) = self.incident_path();
                        for i in self.routes[p].as_array_mut().unwrap() {
                            i["state"] = "opened".into();
                            i["closed_at"] = serde_json::Value::Null;
                            i["closed_by"] = serde_json::Value::Null;
                            i["updated_at"] = now.clone().into();
                        }
                        vec![p.into()]
                    }
                };
            }
            // A label added to a change (it becomes rework).
            _ => {
                let p = match self.flavour {
                    Flavour::GitHub => "/repos/acme/api/pulls",
                    Flavour::GitLab => "/api/v4/projects/acme%2Fbilling/merge_requests",
                };
                let changes = self.routes[p].as_array_mut().unwrap();
                let target = changes.last_mut().unwrap();
                match self.flavour {
                    Flavour::GitHub => {
                        let label = serde_json::json!({
                            "id": 51, "node_id": "LA_kwDOAAAC",
                            "url": "https://api.github.com/repos/acme/api/labels/bug",
                            "name": "bug", "color": "d73a4a", "default": true,
                            "description": "Something isn't working"
                        });
                        let labels = target["labels"].as_array_mut().unwrap();
                        if !labels.iter().any(|l| l["name"] == "bug") {
                            labels.push(label);
                        }
                    }
                    Flavour::GitLab => {
                        let labels = target["labels"].as_array_mut().unwrap();
                        if !labels.iter().any(|l| l == "hotfix") {
                            labels.push("hotfix".into());
                        }
                    }
                }
                target["updated_at"] = now.into();
                return vec![p.into()];
            }
        }
        self.routes[&path] = commits.into();
        vec![path]
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 6, ..Default::default() })]

    /// Whatever happens between syncs (of the changes the sync stores), an
    /// incremental warehouse equals a full sync of the same state.
    #[test]
    fn incremental_equals_full_after_random_edits(
        github_edits in proptest::collection::vec(0usize..8, 1..5),
        gitlab_edits in proptest::collection::vec(0usize..8, 1..5),
    ) {
        for (flavour, edits) in [(Flavour::GitHub, github_edits), (Flavour::GitLab, gitlab_edits)] {
            let mock = MockForge::start(flavour);
            let ws = Workspace::new();
            let sync = |wh: &std::path::Path| {
                let mut cmd = match flavour {
                    Flavour::GitHub => github(&ws, &mock, &["acme/api", "acme/web", "--releases-as-deployments"]),
                    Flavour::GitLab => gitlab(&ws, &mock, &["acme/billing"]),
                };
                cmd.arg("--warehouse").arg(wh);
                output_ok(cmd);
            };
            let incremental = ws.path("incremental");
            sync(&incremental);
            let mut world = World::new(flavour);
            for (step, kind) in edits.iter().enumerate() {
                for path in world.edit(*kind, step) {
                    mock.route(&path, world.routes[&path].clone());
                }
                sync(&incremental);
            }
            let full = ws.path("full");
            sync(&full);
            proptest::prop_assert_eq!(
                dump(&ws, &incremental),
                dump(&ws, &full),
                "{:?} after edits {:?}",
                flavour,
                edits
            );
        }
    }
}

#[test]
fn every_edit_kind_alone_converges() {
    for flavour in [Flavour::GitHub, Flavour::GitLab] {
        for kind in 0..8 {
            let mock = MockForge::start(flavour);
            let ws = Workspace::new();
            let sync = |wh: &std::path::Path| {
                let mut cmd = match flavour {
                    Flavour::GitHub => github(
                        &ws,
                        &mock,
                        &["acme/api", "acme/web", "--releases-as-deployments"],
                    ),
                    Flavour::GitLab => gitlab(&ws, &mock, &["acme/billing"]),
                };
                cmd.arg("--warehouse").arg(wh);
                output_ok(cmd);
            };
            let incremental = ws.path("incremental");
            sync(&incremental);
            let before = dump(&ws, &incremental);
            let mut world = World::new(flavour);
            for path in world.edit(kind, 0) {
                mock.route(&path, world.routes[&path].clone());
            }
            sync(&incremental);
            let full = ws.path("full");
            sync(&full);
            let after = dump(&ws, &full);
            assert_ne!(
                before, after,
                "{flavour:?} edit {kind} changes what is stored"
            );
            assert_eq!(dump(&ws, &incremental), after, "{flavour:?} edit {kind}");
        }
    }
}

/// The report named a change only for its merge commit; branch commits
/// (the slow ones) showed "–". The sync stores each change's commits.
#[test]
fn regression_branch_commits_are_named_by_their_change() {
    let gh = MockForge::start(Flavour::GitHub);
    let gl = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    output_ok(github(&ws, &gh, &["acme/api"]));
    output_ok(gitlab(&ws, &gl, &["acme/billing"]));
    let b1 = format!("b1{}", "0".repeat(38));
    let bf = format!("bf{}", "0".repeat(38));
    assert_eq!(
        ws.sql_csv(&format!(
            "SELECT repo, sha, number FROM commit_changes WHERE sha IN ('{b1}', '{bf}') ORDER BY repo"
        )),
        format!("repo,sha,number\nacme/api,{b1},3\nacme/billing,{bf},7\n")
    );
    let listed = ws
        .sql_csv("SELECT count(*) AS n FROM change_commits WHERE repo = 'acme/api' AND number = 3");
    assert_eq!(listed, "n\n1\n");
}

/// GitHub Enterprise Server (`https://ghe.example.com/api/v3`) and a GitLab
/// installed under a path (`https://example.com/gitlab`): every request
/// keeps the prefix, pages included, and the metrics are the same.
#[test]
fn enterprise_and_self_managed_api_urls_with_a_path_prefix() {
    for (flavour, prefix, repo) in [
        (Flavour::GitHub, "/api/v3", "acme/api"),
        (Flavour::GitLab, "/gitlab", "acme/billing"),
    ] {
        let plain = MockForge::start(flavour);
        let prefixed = MockForge::start_under(flavour, prefix);
        plain.set_max_per_page(Some(2));
        prefixed.set_max_per_page(Some(2));
        let ws = Workspace::new();
        let run = |mock: &MockForge, wh: &std::path::Path| {
            let mut cmd = match flavour {
                Flavour::GitHub => github(&ws, mock, &[repo]),
                Flavour::GitLab => gitlab(&ws, mock, &[repo]),
            };
            cmd.arg("--warehouse").arg(wh);
            output_ok(cmd);
        };
        let (a, b) = (ws.path("plain"), ws.path("prefixed"));
        run(&plain, &a);
        run(&prefixed, &b);
        assert_eq!(dump(&ws, &a), dump(&ws, &b), "{flavour:?}");
        let requests = prefixed.requests();
        assert!(requests.len() > 5, "{flavour:?}");
        assert!(
            requests.iter().all(|r| r.path != "/outside-the-api-prefix"),
            "{flavour:?}: a request left the prefix"
        );
    }
}

/// Requests a sync costs, counted on the mock: a generated organisation
/// of `n` changes and `n` deployments, synced in full and then again with
/// nothing new. The figures go in README ("Requests"); the bounds are the
/// targets where the API allows them.
#[test]
fn requests_per_thousand_changes_and_deployments() {
    let n = 300usize;
    let per_thousand = |count: usize| count * 1000 / n;
    for flavour in [Flavour::GitHub, Flavour::GitLab] {
        let mock = MockForge::start(flavour);
        let world = World::new(flavour);
        let r = &world.routes;
        let at = |i: usize| {
            let t = chrono::DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").unwrap()
                + chrono::Duration::minutes(i as i64 * 7);
            t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        let (repo, changes_path, deployments_path) = match flavour {
            Flavour::GitHub => (
                "acme/big",
                "/repos/acme/big/pulls",
                "/repos/acme/big/deployments",
            ),
            Flavour::GitLab => (
                "acme/big",
                "/api/v4/projects/acme%2Fbig/merge_requests",
                "/api/v4/projects/acme%2Fbig/deployments",
            ),
        };
        let (src, dst) = match flavour {
            Flavour::GitHub => ("/repos/acme/api", "/repos/acme/big"),
            Flavour::GitLab => (
                "/api/v4/projects/acme%2Fbilling",
                "/api/v4/projects/acme%2Fbig",
            ),
        };
        // Everything else of the repository as in the fixture.
        for (path, body) in r.iter() {
            if let Some(rest) = path.strip_prefix(src)
                && !rest.contains("/pulls")
                && !rest.contains("/merge_requests")
                && !rest.contains("/deployments")
                && !rest.contains("/issues/")
            {
                mock.route(&format!("{dst}{rest}"), body.clone());
            }
        }
        let (change_template, deployment_template) = match flavour {
            Flavour::GitHub => (
                r["/repos/acme/api/pulls"][2].clone(),
                r["/repos/acme/api/deployments"][1].clone(),
            ),
            Flavour::GitLab => (
                r["/api/v4/projects/acme%2Fbilling/merge_requests"][0].clone(),
                r["/api/v4/projects/acme%2Fbilling/deployments"][2].clone(),
            ),
        };
        let mut changes = Vec::new();
        let mut deployments = Vec::new();
        for i in 1..=n {
            let mut c = change_template.clone();
            let mut d = deployment_template.clone();
            match flavour {
                Flavour::GitHub => {
                    c["number"] = i.into();
                    c["node_id"] = format!("PR_big_{i}").into();
                    c["updated_at"] = at(i).into();
                    let base = "/repos/acme/api";
                    mock.route(
                        &format!("{dst}/pulls/{i}/commits"),
                        r[&format!("{base}/pulls/2/commits")].clone(),
                    );
                    mock.route(
                        &format!("{dst}/pulls/{i}/reviews"),
                        r[&format!("{base}/pulls/2/reviews")].clone(),
                    );
                    mock.route(
                        &format!("{dst}/issues/{i}/comments"),
                        r[&format!("{base}/issues/2/comments")].clone(),
                    );
                    d["id"] = (1000 + i).into();
                    d["node_id"] = format!("DE_big_{i}").into();
                    d["created_at"] = at(i).into();
                    mock.route(
                        &format!("{dst}/deployments/{}/statuses", 1000 + i),
                        r["/repos/acme/api/deployments/101/statuses"].clone(),
                    );
                }
                Flavour::GitLab => {
                    c["iid"] = i.into();
                    c["id"] = (50_000 + i).into();
                    c["updated_at"] = at(i).into();
                    let base = "/api/v4/projects/acme%2Fbilling/merge_requests/7";
                    mock.route(
                        &format!("{dst}/merge_requests/{i}/commits"),
                        r[&format!("{base}/commits")].clone(),
                    );
                    mock.route(
                        &format!("{dst}/merge_requests/{i}/notes"),
                        r[&format!("{base}/notes")].clone(),
                    );
                    mock.route(
                        &format!("{dst}/merge_requests/{i}/approvals"),
                        r[&format!("{base}/approvals")].clone(),
                    );
                    d["iid"] = i.into();
                    d["id"] = (60_000 + i).into();
                    d["updated_at"] = at(i).into();
                }
            }
            changes.push(c);
            deployments.push(d);
        }
        if flavour == Flavour::GitHub {
            changes.reverse(); // as listed by the API: newest first
            deployments.reverse();
        }
        mock.route(changes_path, changes.into());
        mock.route(deployments_path, deployments.into());
        let ws = Workspace::new();
        let sync = || {
            let mut cmd = match flavour {
                Flavour::GitHub => github(&ws, &mock, &[repo]),
                Flavour::GitLab => gitlab(&ws, &mock, &[repo]),
            };
            cmd.arg("--warehouse").arg(ws.warehouse());
            output_ok(cmd)
        };
        sync();
        let full = mock.requests();
        let of = |rs: &[crate::mock_forge::Recorded], what: &[&str]| {
            rs.iter()
                .filter(|q| what.iter().any(|w| q.path.contains(w)))
                .count()
        };
        let graphql = full.iter().filter(|q| q.path == "/graphql").count();
        let (change_requests, deployment_requests) = match flavour {
            // GraphQL answers pull requests 50 to a request and the
            // statuses of each page of 100 deployments in one.
            Flavour::GitHub => (
                of(&full, &["/pulls", "/issues/"]) + graphql - n.div_ceil(100),
                of(&full, &["/deployments"]) + n.div_ceil(100),
            ),
            Flavour::GitLab => (
                of(&full, &["/merge_requests"]),
                of(&full, &["/deployments", "/environments"]),
            ),
        };
        sync();
        let again = mock.requests().len() - full.len();

        eprintln!(
            "requests: {flavour:?} full sync: {} in all; per 1000 changes {}, per 1000 deployments {}; \
             incremental with nothing new: {again}",
            full.len(),
            per_thousand(change_requests),
            per_thousand(deployment_requests)
        );
        assert_eq!(
            ws.sql_csv("SELECT count(*) AS n FROM changes"),
            format!("n\n{n}\n")
        );
        assert!(again <= 5, "{flavour:?}: {again} requests with nothing new");
        assert!(per_thousand(deployment_requests) <= 30, "{flavour:?}");
        if flavour == Flavour::GitHub {
            assert!(per_thousand(change_requests) <= 30, "{flavour:?}");
        }
    }
}

/// GitHub Actions runs of the deploying workflow on the default branch are
/// deployments (fixtures/github/README.md, "workflow runs").
#[test]
fn github_actions_workflow_runs_become_deployments() {
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    let flags = [
        "acme/api",
        "--deploy-workflow",
        "^Deploy",
        "--workflow-environment",
        "production",
    ];
    output_ok(github(&ws, &gh, &flags));
    assert_eq!(
        ws.sql_csv(
            "SELECT id, environment, sha, status, started_at, finished_at FROM deployments \
             WHERE id LIKE '%/actions/runs/%' ORDER BY id"
        ),
        "id,environment,sha,status,started_at,finished_at\n\
         acme/api/actions/runs/9001,production,a500000000000000000000000000000000000000,success,2026-11-06T10:00:00Z,2026-11-06T10:12:00Z\n\
         acme/api/actions/runs/9002,production,a500000000000000000000000000000000000000,failure,2026-11-06T11:00:00Z,2026-11-06T11:07:00Z\n"
    );
    let runs: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.path == "/repos/acme/api/actions/runs")
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].query.contains("branch=main"), "{}", runs[0].query);
    // The next run asks only for runs created since the newest one seen.
    output_ok(github(&ws, &gh, &flags));
    let last = gh
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/repos/acme/api/actions/runs")
        .unwrap();
    assert!(
        last.query.contains("created=2026-11-06T12%3A00%3A00Z..")
            || last
                .query
                .contains("created=2026-11-06T12%3A00%3A00Z%2E%2E"),
        "{}",
        last.query
    );
    // Without the option, no run is read.
    let plain = Workspace::new();
    let gh = MockForge::start(Flavour::GitHub);
    output_ok(github(&plain, &gh, &["acme/api"]));
    assert!(
        gh.requests()
            .iter()
            .all(|r| !r.path.ends_with("/actions/runs"))
    );
}

/// GitLab pipeline jobs of the deploying name on the default branch that
/// made no deployment of their own are deployments (fixtures/github/README.md,
/// "pipeline jobs").
#[test]
fn gitlab_pipeline_jobs_become_deployments_once() {
    let gl = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    let flags = [
        "acme/billing",
        "--deploy-workflow",
        "^(release-prod|deploy)$",
    ];
    output_ok(gitlab(&ws, &gl, &flags));
    assert_eq!(
        ws.sql_csv(
            "SELECT id, environment, sha, status, started_at, finished_at FROM deployments \
             WHERE id LIKE '%/jobs/%' ORDER BY id"
        ),
        "id,environment,sha,status,started_at,finished_at\n\
         acme/billing/jobs/8901,production,b300000000000000000000000000000000000000,success,2026-11-06T09:00:00Z,2026-11-06T09:10:00Z\n\
         acme/billing/jobs/8902,production,b300000000000000000000000000000000000000,failure,2026-11-06T10:00:00Z,2026-11-06T10:06:00Z\n"
    );
    let jobs = gl
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/jobs"))
        .unwrap();
    for scope in ["success", "failed", "canceled"] {
        assert!(
            jobs.query.contains(&format!("scope%5B%5D={scope}")),
            "{}",
            jobs.query
        );
    }
}

/// The deploying runs of a busy repository: `n` runs of "Deploy
/// production" on main, one every `every_min` minutes from 2026-10-01,
/// with a CI run beside each (another workflow, same branch: counted in
/// `total_count`, not a deployment).
fn busy_runs(n: usize, every_min: i64) -> serde_json::Value {
    let start = chrono::DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").unwrap();
    let mut runs = Vec::new();
    for i in 0..n {
        let created = start + chrono::Duration::minutes(every_min * i as i64);
        let t = |d: chrono::DateTime<chrono::FixedOffset>| {
            d.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        for (k, name) in ["Deploy production", "CI"].iter().enumerate() {
            runs.push(serde_json::json!({
                "id": 100_000 + 2 * i + k,
                "name": name,
                "head_branch": "main",
                "head_sha": "a500000000000000000000000000000000000000",
                "status": "completed",
                "conclusion": "success",
                "created_at": t(created),
                "updated_at": t(created + chrono::Duration::minutes(5)),
                "run_started_at": t(created),
            }));
        }
    }
    serde_json::json!({ "total_count": runs.len(), "workflow_runs": runs })
}

/// A listing of `actions/runs` filtered by branch reaches 1,000 runs at
/// most (fixtures/github/README.md, "workflow runs"): 1,347 deployment
/// runs in the window (2,694 runs with the CI ones) were cut to the first
/// 1,000 listed, silently. They are read in `created` ranges that each
/// stay under the cap.
#[test]
fn regression_actions_runs_past_the_1000_run_cap_are_all_read() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.route("/repos/acme/api/actions/runs", busy_runs(1347, 45));
    let ws = Workspace::new();
    let flags = ["acme/api", "--deploy-workflow", "^Deploy"];
    output_ok(github(&ws, &gh, &flags));
    assert_eq!(
        ws.sql_csv(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids, min(finished_at) AS first, \
             max(finished_at) AS last FROM deployments WHERE id LIKE '%/actions/runs/%'"
        ),
        "n,ids,first,last\n1347,1347,2026-10-01T00:05:00Z,2026-11-12T01:35:00Z\n"
    );
    // No listing was read past its cap: every search that was paged
    // matched fewer than 1,000 runs (the mock pages only what it reaches).
    let searches: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.path == "/repos/acme/api/actions/runs")
        .collect();
    assert!(searches.iter().all(|r| r.query.contains("created=")));
    assert!(searches.len() > 3, "{} searches", searches.len());
    // The whole-window metric: the 1,347 run deployments and the 5 of the
    // deployments API (fixtures/github/README.md), not 1,000 + 5.
    let out = output_ok(ws.doralens(&[
        "metrics",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-13",
        "--format",
        "csv",
    ]));
    let metrics = String::from_utf8(out.stdout).unwrap();
    let rows = csv_rows(&metrics);
    assert_eq!(rows[0]["deployments"], "1352", "{metrics}");
    // An incremental run asks only from the newest run on, and finds nothing new.
    output_ok(github(&ws, &gh, &flags));
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments WHERE id LIKE '%/actions/runs/%'"),
        "n\n1347\n"
    );
}

/// More runs than one listing reaches inside one second cannot be split:
/// the sync fails and says so instead of keeping 1,000 of them.
#[test]
fn regression_a_cap_that_cannot_be_walked_around_fails_loudly() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.route("/repos/acme/api/actions/runs", busy_runs(1001, 0));
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/api", "--deploy-workflow", "^Deploy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("more than the 1000 one listing") && said.contains("cannot be read"),
        "{said}"
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments WHERE id LIKE '%/actions/runs/%'"),
        "n\n0\n"
    );
}

/// GitHub answers a GraphQL request over the hourly budget with HTTP 200,
/// an `errors` entry of type RATE_LIMITED and `x-ratelimit-remaining: 0`:
/// the sync exited 1 ("API rate limit already exceeded"). It now waits
/// until `x-ratelimit-reset` and asks again.
#[test]
fn regression_graphql_rate_limit_is_waited_out() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/graphql", Fault::GraphQlRateLimited(1), 1);
    let ws = Workspace::new();
    let out = output_ok(github(&ws, &gh, &["acme/api"]));
    let said = stderr(&out);
    assert!(
        said.contains("GraphQL rate limit used up; waiting"),
        "{said}"
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM changes WHERE repo = 'acme/api'"),
        "n\n4\n"
    );
}

/// A 200 carrying partial `data` beside `errors` is retried, never kept;
/// when it persists, the sync fails naming the error.
#[test]
fn regression_graphql_partial_answers_are_retried_not_kept() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/graphql", Fault::GraphQlPartial, 2);
    let ws = Workspace::new();
    let out = output_ok(github(&ws, &gh, &["acme/api"]));
    assert!(stderr(&out).contains("partial answer"), "{}", stderr(&out));
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM changes WHERE repo = 'acme/api'"),
        "n\n4\n"
    );
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/graphql", Fault::GraphQlPartial, u32::MAX);
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/api"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("partial answer (Something is temporarily unavailable.)"),
        "{}",
        stderr(&out)
    );
}

/// A GraphQL timeout ("Something went wrong while executing your query.
/// This may be the result of a timeout") asks again for half the pull
/// requests, down to one, instead of failing the sync.
#[test]
fn regression_graphql_timeouts_ask_for_smaller_pages() {
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/graphql", Fault::GraphQlTimeout, 3);
    let ws = Workspace::new();
    let out = output_ok(github(&ws, &gh, &["acme/api"]));
    assert!(
        stderr(&out).contains("asking for 6 at a time"),
        "{}",
        stderr(&out)
    );
    assert_eq!(gh.graphql_page_sizes()[..4], [50, 25, 12, 6]);
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM changes WHERE repo = 'acme/api'"),
        "n\n4\n"
    );
    let gh = MockForge::start(Flavour::GitHub);
    gh.fault("/graphql", Fault::GraphQlTimeout, u32::MAX);
    let ws = Workspace::new();
    let out = github(&ws, &gh, &["acme/api"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("even one at a time"),
        "{}",
        stderr(&out)
    );
}
