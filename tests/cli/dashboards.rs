//! `export` and `serve`: OpenMetrics checked by the reference parser
//! (Python's prometheus_client, installed by `.ci/setup`), the DORA API
//! against snapshots hand-checked from the merges_redeploy scenario, and
//! the SQL endpoint refusing every kind of write.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::scenarios::load_scenario;
use crate::util::{Workspace, output_ok, repo_root};

/// The tests need a few tools beyond Rust; `.ci/test` (the README's test
/// command) installs them first. Tests never install anything themselves.
fn ensure_python_module(module: &str) {
    let present = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        present,
        "the Python module {module} is missing: run the tests with `bash .ci/test` \
         (it installs what they need), or install it yourself (.ci/setup lists it)"
    );
}

pub fn scenario_workspace() -> Workspace {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/merges_redeploy"));
    ws.write(
        "teams.csv",
        "team,service\nplatform,api\n\"quote \"\"team\"\"\",api\n",
    );
    output_ok(ws.doralens(&["import", "teams", "teams.csv"]));
    ws
}

/// Parses OpenMetrics text with prometheus_client's strict parser and
/// returns `name{labels} value` lines as it understood them.
fn parse_openmetrics(text: &str) -> Vec<String> {
    ensure_python_module("prometheus_client");
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{family.type} {family.unit or '-'} {s.name}{{{labels}}} {s.value}")
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser rejected the output: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn export_openmetrics_parses_with_the_reference_parser() {
    let ws = scenario_workspace();
    let out = output_ok(ws.doralens(&["export", "--from", "2026-01-01", "--to", "2026-01-09"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with("# EOF\n"));
    let samples = parse_openmetrics(&text);
    // The scenario's window: 5 deployments, lead time p50 93 600 s (its README).
    assert!(
        samples.contains(&"gauge - doralens_deployments{} 5".to_string()),
        "{samples:?}"
    );
    assert!(samples.contains(&"gauge seconds doralens_lead_time_p50_seconds{} 93600".to_string()));
    assert!(samples.contains(&"gauge ratio doralens_change_failure_ratio{} 0".to_string()));
    // 5 deployments over 8 days = 0.625 a day, in per-second base units.
    let rate = 0.625 / 86_400.0;
    assert!(samples.iter().any(|s| {
        s.starts_with("gauge - doralens_deployment_frequency_per_second{} ")
            && (s.rsplit(' ').next().unwrap().parse::<f64>().unwrap() - rate).abs() < 1e-12
    }));
    // Team labels, escaped (the parser gives the value back unescaped).
    assert!(samples.contains(&"gauge - doralens_deployments{team=platform} 5".to_string()));
    assert!(samples.contains(&"gauge - doralens_deployments{team=quote \"team\"} 5".to_string()));
    // Null statistics are left out, not NaN: no recovery in this scenario.
    assert!(!text.contains("NaN"));
    assert!(
        samples
            .iter()
            .all(|s| !s.contains("doralens_recovery_time_p50_seconds{"))
    );
    // No label but team: nothing with unbounded cardinality.
    assert!(
        samples
            .iter()
            .all(|s| !s.contains("sha=") && !s.contains("service="))
    );
}

#[test]
fn export_csv_has_the_organisation_then_each_team() {
    let ws = scenario_workspace();
    let out = output_ok(ws.doralens(&[
        "export",
        "--format",
        "csv",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-09",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("team,deployments,deploy_days,"),
        "{text}"
    );
    assert!(lines[1].starts_with(",5,3,0.625,"), "{text}");
    assert!(lines[2].starts_with("platform,5,3,0.625,"), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
}

/// `doralens serve` on a free port, stopped when dropped.
pub struct Served {
    pub child: Child,
    pub addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(ws: &Workspace, extra: &[&str]) -> Served {
    serve_with_env(ws, extra, &[])
}

/// [`serve`] with environment variables set for it.
pub fn serve_with_env(ws: &Workspace, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("doralens"));
    cmd.envs(env.iter().copied());
    // A debug build answers the first metrics request in seconds, many more
    // when other builds share the cores: a test's answers must not time out
    // unless it asks for a short limit itself.
    let timeout: &[&str] = if extra.contains(&"--sql-timeout") {
        &[]
    } else {
        &["--sql-timeout", "300"]
    };
    cmd.arg("--warehouse")
        .arg(ws.warehouse())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(timeout)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("http://")
        .expect("serve prints its URL")
        .to_string();
    Served { child, addr }
}

/// A minimal HTTP/1.1 client: (status, content type, body).
pub fn request(addr: &str, method: &str, target: &str, body: &str) -> (u16, String, String) {
    request_with(addr, method, target, &[], body)
}

/// [`request`] with extra header lines (`Name: value`).
pub fn request_with(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

pub fn get(addr: &str, target: &str) -> (u16, String, String) {
    request(addr, "GET", target, "")
}

pub fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn snapshot(name: &str) -> serde_json::Value {
    let path = repo_root().join("fixtures/dashboards").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn serve_answers_metrics_and_the_dora_api() {
    let ws = scenario_workspace();
    let server = serve(&ws, &[]);
    let (status, content_type, body) = get(&server.addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(body.ends_with("# EOF\n"));
    parse_openmetrics(&body);

    // Snapshots, hand-checked in fixtures/dashboards/README.md.
    for (query, file) in [
        (
            "metric=deployment_frequency&interval=daily&start_date=2026-01-01&end_date=2026-01-08",
            "deployment_frequency_daily.json",
        ),
        (
            "metric=lead_time_for_changes&interval=monthly&start_date=2026-01-01&end_date=2026-01-08",
            "lead_time_monthly.json",
        ),
        (
            "metric=change_failure_rate&interval=all&start_date=2026-01-01&end_date=2026-01-08&team=platform",
            "change_failure_rate_all_platform.json",
        ),
    ] {
        let (status, content_type, body) =
            get(&server.addr, &format!("/api/v1/dora/metrics?{query}"));
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(content_type, "application/json");
        let got: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got, snapshot(file), "{query}");
    }
    let (status, _, body) = get(&server.addr, "/api/v1/dora/metrics?metric=uptime");
    assert_eq!(status, 400);
    assert!(body.contains("unknown metric"), "{body}");
}

#[test]
fn the_sql_endpoint_is_read_only_and_bounded() {
    let ws = scenario_workspace();
    let server = serve(&ws, &["--sql-max-rows", "3", "--sql-timeout", "5"]);
    let (status, _, body) = get(
        &server.addr,
        &format!(
            "/api/v1/sql?q={}",
            encode("SELECT id FROM deployments ORDER BY id")
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["rows"],
        serde_json::json!([{"id": "d1"}, {"id": "d2"}, {"id": "d3"}])
    );
    assert_eq!(v["truncated"], true);
    let (status, _, body) = request(
        &server.addr,
        "POST",
        "/api/v1/sql",
        "SELECT count(*) AS n FROM production_deployments",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["truncated"],
        false
    );

    let secret = ws.write("secret.csv", "password\nhunter2\n");
    for forbidden in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE deployments",
        "INSERT INTO teams VALUES ('a', 'b')",
        "DELETE FROM deployments",
        "UPDATE deployments SET status = 'failure'",
        &format!("COPY (SELECT 1) TO '{}'", ws.path("out.csv").display()),
        "SET datafusion.execution.batch_size = 1",
        &format!(
            "CREATE EXTERNAL TABLE s STORED AS CSV LOCATION '{}'",
            secret.display()
        ),
        &format!("SELECT * FROM '{}'", secret.display()),
    ] {
        let (status, _, body) = get(
            &server.addr,
            &format!("/api/v1/sql?q={}", encode(forbidden)),
        );
        assert_eq!(status, 400, "{forbidden}: {body}");
        assert!(!body.contains("hunter2"), "{forbidden}: {body}");
    }
    assert!(!ws.path("out.csv").exists());
    // The warehouse is untouched.
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments"),
        "n\n7\n"
    );
    // Bounded time.
    let (status, _, body) = get(
        &server.addr,
        &format!(
            "/api/v1/sql?q={}",
            encode("SELECT count(*) FROM generate_series(1, 20000000000) a")
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ran longer than 5 s"), "{body}");
}

#[test]
fn the_grafana_dashboard_queries_work_against_serve() {
    let ws = scenario_workspace();
    let server = serve(&ws, &[]);
    let path = repo_root().join("reports/grafana/doralens.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 4);
    for panel in panels {
        let target = &panel["targets"][0];
        assert_eq!(target["url"], "${doralens}/api/v1/dora/metrics");
        // Grafana's substitutions for a range over the scenario.
        let query: Vec<String> = target["url_options"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let value = match p["value"].as_str().unwrap() {
                    "${__from:date:YYYY-MM-DD}" => "2026-01-01",
                    "${__to:date:YYYY-MM-DD}" => "2026-01-08",
                    "${team}" => "",
                    other => other,
                };
                format!("{}={}", p["key"].as_str().unwrap(), encode(value))
            })
            .collect();
        let (status, _, body) = get(
            &server.addr,
            &format!("/api/v1/dora/metrics?{}", query.join("&")),
        );
        assert_eq!(status, 200, "{}: {body}", panel["title"]);
        let points: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(!points.as_array().unwrap().is_empty(), "{}", panel["title"]);
        assert!(points[0]["date"].is_string(), "{}", panel["title"]);
    }
}
