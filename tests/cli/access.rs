//! `serve`'s read access: tokens (`doralens token`), roles × routes, team
//! scoping (totals included), expiry and revocation on a running server,
//! the refusal to listen publicly without tokens, and the audit log.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::dashboards::{Served, encode, request_with};
use crate::util::{SMALL_ORG, Workspace, output_ok};

const INGEST: &str = "ingest-secret-77";
const WINDOW: &str = "from=2026-08-01&to=2026-11-01";

fn small_org() -> Workspace {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    ws
}

/// `doralens token create ...`; returns the token it printed.
pub fn create_token(ws: &Workspace, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend(args);
    let out = output_ok(ws.doralens(&all));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("dlt_"), "{token}");
    token
}

/// `serve` with its stderr kept in `<ws>/serve.log` (and a generous
/// query timeout: a debug build on a busy machine is slow, and time is not
/// what these tests check).
pub fn serve_logged(ws: &Workspace, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let log = std::fs::File::create(ws.path("serve.log")).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("doralens"))
        .envs(env.iter().copied())
        .arg("--warehouse")
        .arg(ws.warehouse())
        .args(["serve", "--addr", "127.0.0.1:0", "--sql-timeout", "300"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("serve printed no URL: {line:?}"))
        .to_string();
    Served { child, addr }
}

/// GET with an optional bearer token: (status, body).
pub fn get_as(addr: &str, token: Option<&str>, target: &str) -> (u16, String) {
    let header = token.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    let (status, _, body) = request_with(addr, "GET", target, &headers, "");
    (status, body)
}

fn post_as(addr: &str, token: Option<&str>, target: &str, body: &str) -> (u16, String) {
    let header = token.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    let (status, _, body) = request_with(addr, "POST", target, &headers, body);
    (status, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `metrics --format json` with these arguments.
pub fn metrics_json(ws: &Workspace, args: &[&str]) -> Value {
    let mut all = vec![
        "metrics",
        "--from",
        "2026-08-01",
        "--to",
        "2026-11-01",
        "--format",
        "json",
    ];
    all.extend(args);
    json(&String::from_utf8(output_ok(ws.doralens(&all)).stdout).unwrap())
}

#[test]
fn every_role_on_every_route() {
    let ws = small_org();
    let viewer = create_token(&ws, &["--role", "viewer", "--name", "wall"]);
    let analyst = create_token(&ws, &["--role", "analyst", "--name", "analysis"]);
    let admin = create_token(&ws, &["--role", "admin", "--name", "ops"]);
    let scoped = create_token(
        &ws,
        &["--role", "analyst", "--teams", "payments", "--name", "pay"],
    );
    let served = serve_logged(&ws, &[], &[("DORALENS_INGEST_TOKEN", INGEST)]);
    let addr = &served.addr;
    let sql = format!(
        "/api/v1/sql?q={}",
        encode("SELECT count(*) AS n FROM teams")
    );
    let reads = [
        "/metrics".to_string(),
        "/api/v1/dora/metrics?metric=deployment_frequency&start_date=2026-08-01&end_date=2026-10-31"
            .to_string(),
        format!("/api/v1/metrics?{WINDOW}"),
        format!("/api/v1/deployments?{WINDOW}"),
        format!("/api/v1/incidents?{WINDOW}"),
        format!("/api/v1/changes/slowest?{WINDOW}"),
        format!("/api/v1/changes/unreviewed?{WINDOW}"),
    ];
    // (token, expected status for reads, for SQL, for a push)
    let cases: [(Option<&str>, u16, u16, u16); 7] = [
        (None, 401, 401, 401),
        (Some("dlt_000000000000_nope"), 401, 401, 401),
        (Some(&viewer), 200, 403, 403),
        (Some(&analyst), 200, 200, 403),
        (Some(&scoped), 200, 403, 403),
        (Some(&admin), 200, 200, 200),
        (Some(INGEST), 403, 403, 200),
    ];
    let push = r#"{"id":"pushed-1","repo":"r","service":"s","environment":"production","sha":"abc","status":"success","finished_at":"2026-10-10T10:00:00Z"}"#;
    for (i, (token, read, sql_status, push_status)) in cases.iter().enumerate() {
        for route in &reads {
            let (status, body) = get_as(addr, *token, route);
            assert_eq!(status, *read, "case {i} {route}: {body}");
            if status != 200 {
                assert!(json(&body)["message"].is_string(), "{body}");
            }
        }
        let (status, body) = get_as(addr, *token, &sql);
        assert_eq!(status, *sql_status, "case {i} sql: {body}");
        let (status, body) = post_as(addr, *token, "/api/v1/sql", "SELECT 1 AS one");
        assert_eq!(status, *sql_status, "case {i} POST sql: {body}");
        let (status, body) = post_as(addr, *token, "/api/v1/deployments", push);
        assert_eq!(status, *push_status, "case {i} push: {body}");
    }
    // The page itself holds no data: it loads without a token.
    let (status, _) = get_as(addr, None, "/");
    assert_eq!(status, 200);
    // The team-limited analyst is told why SQL is refused.
    let (_, body) = get_as(addr, Some(&scoped), &sql);
    assert!(
        body.contains("payments") && body.contains("without --teams"),
        "{body}"
    );
    // No answer or log line ever holds a token.
    let log = std::fs::read_to_string(ws.path("serve.log")).unwrap();
    let audit = std::fs::read_to_string(ws.warehouse().join("_audit/audit.ndjson")).unwrap();
    for secret in [&viewer, &analyst, &admin, &scoped, &INGEST.to_string()] {
        assert!(!log.contains(secret.as_str()), "the log holds a token");
        assert!(
            !audit.contains(secret.as_str()),
            "the audit log holds a token"
        );
    }
    let stored = std::fs::read_to_string(ws.warehouse().join("_state/tokens.json")).unwrap();
    assert!(
        !stored.contains(&viewer[17..]),
        "the token file holds a token"
    );
}

#[test]
fn regression_each_team_token_on_one_server_sees_its_own_teams_numbers() {
    // A team filter differs from another only inside a subquery, which the
    // cache of shared views did not see: every team after the first got the
    // first team's numbers and lists.
    let ws = small_org();
    let pay = create_token(
        &ws,
        &["--role", "viewer", "--teams", "payments", "--name", "pay"],
    );
    let search = create_token(
        &ws,
        &["--role", "viewer", "--teams", "search", "--name", "search"],
    );
    let served = serve_logged(&ws, &[], &[]);
    let addr = &served.addr;
    let mut seen = Vec::new();
    for (token, team) in [(&pay, "payments"), (&search, "search"), (&pay, "payments")] {
        let (status, body) = get_as(addr, Some(token), &format!("/api/v1/metrics?{WINDOW}"));
        assert_eq!(status, 200, "{body}");
        let expected = metrics_json(&ws, &["--team", team]);
        assert_eq!(json(&body)["rows"], expected, "{team}");
        let (_, body) = get_as(
            addr,
            Some(token),
            &format!("/api/v1/deployments?{WINDOW}&limit=10000"),
        );
        assert_eq!(
            json(&body)["total"].as_u64(),
            expected[0]["deployments"].as_u64(),
            "{team}"
        );
        seen.push(expected);
    }
    assert_ne!(seen[0], seen[1], "the two teams' numbers differ");
}

#[test]
fn a_team_token_sees_only_its_teams_totals_included() {
    let ws = small_org();
    let token = create_token(
        &ws,
        &["--role", "viewer", "--teams", "payments", "--name", "pay"],
    );
    let served = serve_logged(&ws, &[], &[]);
    let addr = &served.addr;
    let as_pay = |target: &str| get_as(addr, Some(&token), target);

    // Organisation totals are the payments team's numbers.
    let (status, body) = as_pay(&format!("/api/v1/metrics?{WINDOW}"));
    assert_eq!(status, 200, "{body}");
    let expected = metrics_json(&ws, &["--team", "payments"]);
    assert_eq!(json(&body)["rows"], expected);
    let whole = metrics_json(&ws, &[]);
    assert_ne!(expected, whole, "the filter must change the totals");
    // By team: one row, payments.
    let (_, body) = as_pay(&format!("/api/v1/metrics?{WINDOW}&by=team"));
    let rows = json(&body)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["team"], "payments");
    // Another team: 403; the DORA API's organisation: payments only.
    let (status, _) = as_pay(&format!("/api/v1/metrics?{WINDOW}&team=search"));
    assert_eq!(status, 403);
    let (status, _) = as_pay(
        "/api/v1/dora/metrics?metric=deployment_frequency&interval=all&start_date=2026-08-01&end_date=2026-10-31&team=search",
    );
    assert_eq!(status, 403);
    let (_, body) = as_pay(
        "/api/v1/dora/metrics?metric=deployment_frequency&interval=all&start_date=2026-08-01&end_date=2026-10-31",
    );
    assert_eq!(
        json(&body)[0]["value"],
        expected[0]["deployments"],
        "{body}"
    );
    // /metrics: payments and an organisation over payments only.
    let (_, text) = as_pay("/metrics");
    assert!(text.contains("team=\"payments\""), "{text}");
    assert!(!text.contains("team=\"search\"") && !text.contains("team=\"checkout\""));
    // Drill-down lists: only payments' services.
    let services = crate::util::Workspace::sql_csv(
        &ws,
        "SELECT service FROM teams WHERE team = 'payments' ORDER BY service",
    );
    let payments: Vec<&str> = services.lines().skip(1).collect();
    let (_, body) = as_pay(&format!("/api/v1/deployments?{WINDOW}&limit=10000"));
    let listed = json(&body);
    let rows = listed["rows"].as_array().unwrap();
    assert_eq!(
        listed["total"].as_u64(),
        expected[0]["deployments"].as_u64(),
        "the list counts what the tile counts"
    );
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| payments.contains(&r["service"].as_str().unwrap())),
        "{body}"
    );
    let (_, body) = as_pay(&format!("/api/v1/incidents?{WINDOW}&limit=10000"));
    for r in json(&body)["rows"].as_array().unwrap() {
        assert!(payments.contains(&r["service"].as_str().unwrap()), "{r}");
    }
    // The unreviewed production changes: as many as the metrics say
    // (production changes less four-eyes ones), all from payments' repos.
    let (status, body) = as_pay(&format!("/api/v1/changes/unreviewed?{WINDOW}&limit=10000"));
    assert_eq!(status, 200, "{body}");
    let listed = json(&body);
    let unreviewed = expected[0]["production_changes"].as_u64().unwrap()
        - expected[0]["four_eyes_changes"].as_u64().unwrap();
    assert!(unreviewed > 0, "{}", expected[0]);
    assert_eq!(listed["total"].as_u64(), Some(unreviewed), "{body}");
    let repos = ws.sql_csv(
        "SELECT DISTINCT repo FROM deployments WHERE service IN \
         (SELECT service FROM teams WHERE team = 'payments')",
    );
    let repos: Vec<&str> = repos.lines().skip(1).collect();
    for r in listed["rows"].as_array().unwrap() {
        assert!(repos.contains(&r["repo"].as_str().unwrap()), "{r}");
        assert!(r["reason"].is_string(), "{r}");
    }

    // Explaining another team's deployment: as if it did not exist.
    let other = ws.sql_csv(
        "SELECT min(d.id) AS id FROM deployments d WHERE d.service NOT IN \
         (SELECT service FROM teams WHERE team = 'payments')",
    );
    let other = other.lines().nth(1).unwrap();
    let (status, _) = as_pay(&format!("/api/v1/explain/deployment?id={}", encode(other)));
    assert_eq!(status, 404);
    let mine = rows[0]["id"].as_str().unwrap();
    let (status, body) = as_pay(&format!("/api/v1/explain/deployment?id={}", encode(mine)));
    assert_eq!(status, 200, "{body}");
    let cli = output_ok(ws.doralens(&["explain", "deployment", mine])).stdout;
    assert_eq!(
        json(&body)["text"].as_str().unwrap().trim(),
        String::from_utf8(cli).unwrap().trim()
    );
}

#[test]
fn expired_and_revoked_tokens_stop_working_on_a_running_server() {
    let ws = small_org();
    let created = std::time::Instant::now();
    let short = create_token(
        &ws,
        &["--role", "viewer", "--expires", "6s", "--name", "short"],
    );
    let kept = create_token(&ws, &["--role", "viewer", "--name", "kept"]);
    let served = serve_logged(&ws, &[], &[]);
    let addr = &served.addr;
    let target = "/api/v1/dora/metrics?metric=deployment_frequency&interval=all&start_date=2026-08-01&end_date=2026-10-31";
    assert_eq!(get_as(addr, Some(&short), target).0, 200);
    assert_eq!(get_as(addr, Some(&kept), target).0, 200);
    let expiry = std::time::Duration::from_millis(6_500);
    std::thread::sleep(expiry.saturating_sub(created.elapsed()));
    let (status, body) = get_as(addr, Some(&short), target);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired"), "{body}");

    output_ok(ws.doralens(&["token", "revoke", "kept"]));
    let revoked_at = std::time::Instant::now();
    loop {
        let (status, _) = get_as(addr, Some(&kept), target);
        if status == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(5),
            "a revoked token still works after 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // `token list` shows both, never a token.
    let out = output_ok(ws.doralens(&["token", "list", "--format", "csv"]));
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.contains("short") && list.contains("expired"), "{list}");
    assert!(list.contains("kept") && list.contains("revoked"), "{list}");
    assert!(!list.contains(&kept[17..]) && !list.contains(&short[17..]));
    // Bad input: exit 2.
    ws.doralens(&["token", "create", "--role", "owner", "--name", "x"])
        .assert()
        .code(2);
    ws.doralens(&["token", "revoke", "nobody"]).assert().code(2);
}

#[test]
fn serve_refuses_a_public_address_without_tokens() {
    let ws = small_org();
    let out = ws
        .doralens(&["serve", "--addr", "0.0.0.0:0"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("doralens token create"), "{err}");
    assert!(err.contains("--allow-anonymous"), "{err}");
    // Overridden, with a warning; or allowed once a token exists.
    for (extra, with_token) in [(vec!["--allow-anonymous"], false), (vec![], true)] {
        if with_token {
            create_token(&ws, &["--role", "viewer", "--name", "v"]);
        }
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("doralens"))
            .arg("--warehouse")
            .arg(ws.warehouse())
            .args(["serve", "--addr", "0.0.0.0:0"])
            .args(&extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert!(line.starts_with("http://0.0.0.0:"), "{line}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.contains("warning: serving"), !with_token, "{err}");
    }
}

#[test]
fn every_request_is_in_the_audit_log() {
    let ws = small_org();
    let admin = create_token(&ws, &["--role", "admin", "--name", "ops"]);
    let viewer = create_token(&ws, &["--role", "viewer", "--name", "wall"]);
    let served = serve_logged(&ws, &[], &[]);
    let addr = &served.addr;
    let (status, _) = get_as(
        addr,
        Some(&viewer),
        &format!("/api/v1/deployments?{WINDOW}&limit=7"),
    );
    assert_eq!(status, 200);
    assert_eq!(get_as(addr, None, "/metrics").0, 401);
    assert_eq!(
        get_as(addr, Some(&viewer), "/api/v1/sql?q=SELECT%201").0,
        403
    );
    let push = r#"[{"id":"p1","repo":"r","service":"s","environment":"production","sha":"abc","status":"success","finished_at":"2026-10-10T10:00:00Z"},{"id":"p2","repo":"r","service":"s","environment":"production","sha":"abd","status":"success","finished_at":"2026-10-10T11:00:00Z"}]"#;
    assert_eq!(
        post_as(addr, Some(&admin), "/api/v1/deployments", push).0,
        200
    );

    let out = output_ok(ws.doralens(&["audit", "--since", "1h", "--format", "json"]));
    let rows = json(&String::from_utf8(out.stdout).unwrap());
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0]["token"], "wall");
    assert_eq!(rows[0]["role"], "viewer");
    assert_eq!(rows[0]["route"], "/api/v1/deployments");
    assert_eq!(rows[0]["filters"], format!("{WINDOW}&limit=7"));
    assert_eq!(rows[0]["status"], 200);
    assert_eq!(rows[0]["rows"], 7);
    assert_eq!(
        (rows[1]["token"].as_str(), rows[1]["status"].as_u64()),
        (Some("-"), Some(401))
    );
    assert_eq!(
        (rows[2]["token"].as_str(), rows[2]["status"].as_u64()),
        (Some("wall"), Some(403))
    );
    assert_eq!(rows[3]["token"], "ops");
    assert_eq!(rows[3]["changes"], "deployments: p1, p2");
    // An admin reads it with SQL too; older entries are left out by --since.
    let (status, body) = get_as(
        addr,
        Some(&admin),
        &format!(
            "/api/v1/sql?q={}",
            encode(
                "SELECT token, status FROM audit WHERE route = '/api/v1/deployments' ORDER BY time"
            )
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["rows"][0]["token"], "wall");
    let out = output_ok(ws.doralens(&["audit", "--since", "2099-01-01", "--format", "csv"]));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        1,
        "only the header"
    );
}
