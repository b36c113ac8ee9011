//! Incident trackers against a mock API on 127.0.0.1 shaped like the real
//! one (`tests/cli/mock_api.rs`, fixtures in `fixtures/pagerduty/`).

use assert_cmd::Command;

use crate::mock_api::{Fault, JIRA_EMAIL, MockPagerDuty, TOKEN};
use crate::util::{Workspace, output_ok};

const CONFIG: &str =
    "[pagerduty]\nsince = \"2026-11-01\"\n\n[pagerduty.services]\nPSVCAPI = \"api\"\n";

fn pagerduty(ws: &Workspace, mock: &MockPagerDuty, extra: &[&str]) -> Command {
    let mut args = vec!["ingest", "pagerduty", "--api-url"];
    let url = mock.api_url();
    args.push(&url);
    args.extend(extra);
    let mut cmd = ws.doralens(&args);
    cmd.env("PAGERDUTY_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    cmd
}

fn setup() -> (Workspace, MockPagerDuty) {
    let ws = Workspace::new();
    ws.write("doralens.toml", CONFIG);
    (ws, MockPagerDuty::start())
}

const INCIDENTS: &str = "SELECT id, service, title, severity, created_at, resolved_at, deployment_id, sha \
                         FROM incidents ORDER BY id";

#[test]
fn pagerduty_incidents_keep_their_true_resolution_services_and_explicit_links() {
    let (ws, mock) = setup();
    let out = output_ok(pagerduty(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        ws.sql_csv(INCIDENTS),
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\n\
         PD-101,api,Checkout API returns 500s,P1,2026-11-10T10:00:00Z,2026-11-10T12:00:00Z,d-api-2,\n\
         PD-102,Web storefront,Slow product pages,P3,2026-11-11T08:00:00Z,2026-11-11T09:30:00Z,,\n\
         PD-103,api,Payment retries pile up,P2,2026-11-12T15:00:00Z,,,c300000000000000000000000000000000000000\n\
         PD-104,api,Login errors after deploy,high,2026-11-13T10:00:00Z,2026-11-13T11:00:00Z,,\n"
    );
    // The one unmapped service is said once; the summary counts the rows.
    assert_eq!(stderr.matches("Web storefront").count(), 1, "{stderr}");
    assert!(stderr.contains("PSVCWEB / Web storefront"), "{stderr}");
    assert!(
        stderr.contains("pagerduty account: 4 incidents"),
        "{stderr}"
    );
    let requests = mock.requests();
    for r in &requests {
        assert_eq!(r.headers["authorization"], format!("Token token={TOKEN}"));
        assert_eq!(
            r.headers["accept"],
            "application/vnd.pagerduty+json;version=2"
        );
    }
    let list = requests.iter().find(|r| r.path == "/incidents").unwrap();
    let statuses: Vec<&str> = list
        .query
        .iter()
        .filter(|(k, _)| k == "statuses[]")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(statuses, ["triggered", "acknowledged", "resolved"]);
    assert!(!stderr.contains(TOKEN));
}

#[test]
fn pagerduty_pages_to_the_end_in_six_month_windows_through_faults() {
    let (ws, mock) = setup();
    mock.set_max_limit(1);
    mock.fault("/incidents", Fault::RetryAfter(1), 1);
    mock.fault("/incidents", Fault::Status(500), 1);
    mock.fault("/incidents", Fault::Truncate, 1);
    mock.fault("/related_change_events", Fault::Status(502), 1);
    let out = output_ok(pagerduty(&ws, &mock, &["--since", "2025-06-01"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Retry-After: 1"), "{stderr}");
    assert!(stderr.contains("retry 1/"), "{stderr}");
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM incidents"), "n\n4\n");
    let lists: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/incidents")
        .collect();
    // Every window within six months, the range walked from --since on.
    let mut windows = std::collections::BTreeSet::new();
    for r in &lists {
        let since = chrono::DateTime::parse_from_rfc3339(r.param("since").unwrap()).unwrap();
        let until = chrono::DateTime::parse_from_rfc3339(r.param("until").unwrap()).unwrap();
        assert!(until - since <= chrono::Duration::days(180), "{r:?}");
        windows.insert(r.param("since").unwrap().to_string());
    }
    assert!(windows.len() >= 3, "{windows:?}");
    assert!(
        windows.first().unwrap().starts_with("2025-06-01"),
        "{windows:?}"
    );
    // One incident a page: offsets 0..=3 in the window holding them.
    let mut by_window: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for r in &lists {
        by_window
            .entry(r.param("since").unwrap())
            .or_default()
            .push(r.param("offset").unwrap());
    }
    let offsets = by_window.values().max_by_key(|o| o.len()).unwrap();
    for o in ["0", "1", "2", "3"] {
        assert!(offsets.contains(&o), "{by_window:?}");
    }
}

#[test]
fn pagerduty_rejected_token_is_a_clear_error_without_the_token() {
    let (ws, mock) = setup();
    let out = pagerduty(&ws, &mock, &[])
        .env("PAGERDUTY_TOKEN", "wrong-secret-value-123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PAGERDUTY_TOKEN"), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("wrong-secret-value-123"), "{stderr}");
    // No token at all: said before any request.
    let out = pagerduty(&ws, &mock, &[])
        .env_remove("PAGERDUTY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PAGERDUTY_TOKEN is not set"));
}

#[test]
fn pagerduty_incremental_sync_equals_a_full_one_after_the_world_moves() {
    let (ws, mock) = setup();
    let filters = ["--min-priority", "P2", "--since", "2026-10-01"];
    output_ok(pagerduty(&ws, &mock, &["--since", "2026-10-01"]));
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM incidents"), "n\n4\n");
    // With the filter, #102 (P3) and #104 (no priority) go.
    output_ok(pagerduty(&ws, &mock, &filters));
    assert_eq!(
        ws.sql_csv("SELECT id FROM incidents ORDER BY id"),
        "id\nPD-101\nPD-103\n"
    );
    // The open incident is resolved, #101 is lowered to P3, a new one opens.
    mock.edit(103, |i| {
        i["status"] = "resolved".into();
        i["resolved_at"] = "2026-11-12T18:00:00Z".into();
        i["last_status_change_at"] = "2026-11-12T18:00:00Z".into();
    });
    mock.edit(101, |i| i["priority"]["summary"] = "P3".into());
    mock.add(105, "2026-11-14T08:00:00Z");
    mock.edit(105, |i| i["priority"]["summary"] = "P1".into());
    mock.clear_requests();
    output_ok(pagerduty(&ws, &mock, &filters));
    // The incremental run started from the open incident, less 30 days.
    let first = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/incidents")
        .unwrap();
    assert_eq!(first.param("since"), Some("2026-10-13T15:00:00Z"));
    let incremental = ws.sql_csv(INCIDENTS);

    let full = Workspace::new();
    full.write("doralens.toml", CONFIG);
    output_ok(pagerduty(&full, &mock, &filters));
    assert_eq!(incremental, full.sql_csv(INCIDENTS));
    assert_eq!(
        ws.sql_csv("SELECT id, resolved_at FROM incidents ORDER BY id"),
        "id,resolved_at\nPD-103,2026-11-12T18:00:00Z\nPD-105,\n"
    );
}

/// Deployments of the `api` service around the fixture's incidents.
const DEPLOYMENTS: &str = "id,repo,service,environment,sha,status,finished_at\n\
    d-api-1,acme/api,api,production,c100000000000000000000000000000000000000,success,2026-11-09T09:00:00Z\n\
    d-api-2,acme/api,api,production,c200000000000000000000000000000000000000,success,2026-11-10T09:30:00Z\n\
    d-api-3,acme/api,api,production,c300000000000000000000000000000000000000,success,2026-11-12T14:40:00Z\n\
    d-api-4,acme/api,api,production,c400000000000000000000000000000000000000,success,2026-11-13T09:00:00Z\n\
    d-api-5,acme/api,api,production,c500000000000000000000000000000000000000,success,2026-11-14T09:00:00Z\n";

/// Their commits, one after another.
const COMMITS: &str = "repo,sha,parents,authored_at,message\n\
    acme/api,c100000000000000000000000000000000000000,,2026-11-09T08:00:00Z,one\n\
    acme/api,c200000000000000000000000000000000000000,c100000000000000000000000000000000000000,2026-11-10T08:00:00Z,two\n\
    acme/api,c300000000000000000000000000000000000000,c200000000000000000000000000000000000000,2026-11-12T08:00:00Z,three\n\
    acme/api,c400000000000000000000000000000000000000,c300000000000000000000000000000000000000,2026-11-13T08:00:00Z,four\n\
    acme/api,c500000000000000000000000000000000000000,c400000000000000000000000000000000000000,2026-11-14T08:00:00Z,five\n";

#[test]
fn one_history_gives_the_same_metrics_from_every_incident_source() {
    let metrics = |ws: &Workspace| {
        let out = output_ok(ws.doralens(&[
            "metrics",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-20",
            "--format",
            "csv",
        ]));
        String::from_utf8(out.stdout).unwrap()
    };
    let history = |ws: &Workspace| {
        for (table, content) in [("commits", COMMITS), ("deployments", DEPLOYMENTS)] {
            let file = ws.write(&format!("{table}.csv"), content);
            output_ok(ws.doralens(&["import", table, file.to_str().unwrap()]));
        }
    };
    let (pd, mock) = setup();
    history(&pd);
    output_ok(pagerduty(&pd, &mock, &[]));

    let csv = Workspace::new();
    history(&csv);
    let incidents = csv.write(
        "incidents.csv",
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\n\
         PD-101,api,Checkout API returns 500s,P1,2026-11-10T10:00:00Z,2026-11-10T12:00:00Z,d-api-2,\n\
         PD-102,Web storefront,Slow product pages,P3,2026-11-11T08:00:00Z,2026-11-11T09:30:00Z,,\n\
         PD-103,api,Payment retries pile up,P2,2026-11-12T15:00:00Z,,,c300000000000000000000000000000000000000\n\
         PD-104,api,Login errors after deploy,high,2026-11-13T10:00:00Z,2026-11-13T11:00:00Z,,\n",
    );
    output_ok(csv.doralens(&["import", "incidents", incidents.to_str().unwrap()]));
    let jira = Workspace::new();
    jira.write("doralens.toml", &jira_config(&mock));
    history(&jira);
    output_ok(jira_ingest(&jira, &[]));

    let incident_io = Workspace::new();
    incident_io.write("doralens.toml", INCIDENT_IO_CONFIG);
    history(&incident_io);
    output_ok(incident_io_ingest(&incident_io, &mock, &[]));

    // The push endpoint, with the same rows as JSON.
    let pushed = Workspace::new();
    history(&pushed);
    {
        let served = crate::dashboards::serve_with_env(
            &pushed,
            &[],
            &[("DORALENS_INGEST_TOKEN", "push-token-1")],
        );
        let body = r#"[
          {"id":"PD-101","service":"api","title":"Checkout API returns 500s","severity":"P1","created_at":"2026-11-10T10:00:00Z","resolved_at":"2026-11-10T12:00:00Z","deployment_id":"d-api-2"},
          {"id":"PD-102","service":"Web storefront","title":"Slow product pages","severity":"P3","created_at":"2026-11-11T08:00:00Z","resolved_at":"2026-11-11T09:30:00Z"},
          {"id":"PD-103","service":"api","title":"Payment retries pile up","severity":"P2","created_at":"2026-11-12T15:00:00Z","sha":"c300000000000000000000000000000000000000"},
          {"id":"PD-104","service":"api","title":"Login errors after deploy","severity":"high","created_at":"2026-11-13T10:00:00Z","resolved_at":"2026-11-13T11:00:00Z"}
        ]"#;
        let (status, _, answer) = crate::dashboards::request_with(
            &served.addr,
            "POST",
            "/api/v1/incidents",
            &["Authorization: Bearer push-token-1"],
            body,
        );
        assert_eq!(status, 200, "{answer}");
    }

    let from_pagerduty = metrics(&pd);
    assert_eq!(from_pagerduty, metrics(&csv));
    assert_eq!(from_pagerduty, metrics(&pushed));
    assert_eq!(from_pagerduty, metrics(&jira));
    // incident.io has no explicit links: the same three failures, all
    // inferred by timing; every other column the same.
    let without_links = |csv: &str| -> Vec<Vec<String>> {
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let keep: Vec<bool> = header
            .iter()
            .map(|c| !matches!(*c, "failures_explicit" | "failures_inferred"))
            .collect();
        assert_eq!(keep.iter().filter(|k| !**k).count(), 2, "{csv}");
        csv.lines()
            .map(|l| {
                l.split(',')
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| c.to_string())
                    .collect()
            })
            .collect()
    };
    let from_incident_io = metrics(&incident_io);
    assert_eq!(
        without_links(&from_pagerduty),
        without_links(&from_incident_io)
    );
    let io_header: Vec<&str> = from_incident_io
        .lines()
        .next()
        .unwrap()
        .split(',')
        .collect();
    let io_row: Vec<&str> = from_incident_io
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .collect();
    let io = |name: &str| io_row[io_header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (io("failures_explicit"), io("failures_inferred")),
        ("0", "3"),
        "{from_incident_io}"
    );
    // Hand-checked: 5 deployments; d-api-2 (explicit id), d-api-3 (sha) and
    // d-api-4 (inferred, 1 h before #104) failed: 3/5.
    let header: Vec<&str> = from_pagerduty.lines().next().unwrap().split(',').collect();
    // The link counts follow the intervals (docs/metrics.md section 6).
    let at = header
        .iter()
        .position(|h| *h == "failures_explicit")
        .unwrap();
    assert_eq!(header[at - 1], "time_to_restore_p50_high_s");
    assert_eq!(header[at + 1], "failures_inferred");
    let row: Vec<&str> = from_pagerduty.lines().nth(1).unwrap().split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(get("deployments"), "5");
    assert_eq!(get("failed_deployments"), "3");
    assert_eq!(get("change_failure_rate"), "0.6");
    assert_eq!(get("open_failures"), "1");
    // Two linked explicitly (#101 by deployment id, #103 by sha), one only
    // by timing (#104).
    assert_eq!(get("failures_explicit"), "2");
    assert_eq!(get("failures_inferred"), "1");
}

/// `explain` on the golden scenario whose links docs/metrics.md 4.3 lists
/// (fixtures/scenarios/incident_links/README.md): each rule in words.
#[test]
fn explain_names_the_rule_behind_every_failure_link() {
    let ws = Workspace::new();
    let scenario = crate::util::repo_root().join("fixtures/scenarios/incident_links");
    for table in ["commits", "deployments", "incidents", "rollbacks"] {
        let file = scenario.join(format!("{table}.csv"));
        output_ok(ws.doralens(&["import", table, file.to_str().unwrap()]));
    }
    let explain = |args: &[&str]| {
        let mut all = vec!["explain"];
        all.extend(args);
        String::from_utf8(output_ok(ws.doralens(&all)).stdout).unwrap()
    };
    for (deployment, expected) in [
        ("D1", "Failed: no."),
        (
            "D2",
            "incident I1: it names this deployment (deployment_id), explicit",
        ),
        (
            "D3",
            "incident I2: its root-cause commit shipped in this deployment (sha), explicit",
        ),
        ("D4", "incident I3: opened within 1d after this"),
        ("D5", "a rollback"),
        ("D6", "Recovery: open"),
    ] {
        let text = explain(&["deployment", deployment]);
        assert!(text.contains(expected), "{deployment}: {text}");
    }
    assert!(explain(&["deployment", "D2"]).contains("Recovery: 3h"));
    assert!(explain(&["deployment", "D1"]).contains("baseline"));
    for (incident, expected) in [
        ("I1", "Counts against deployment D2"),
        ("I2", "it shipped the root-cause commit c"),
        ("I3", "inferred: the latest production deployment of web"),
        ("I6", "names no deployment, commit or service"),
        (
            "I7",
            "D6 (finished 2026-03-06T10:00:00Z), is more than 1d earlier",
        ),
    ] {
        let text = explain(&["incident", incident]);
        assert!(text.contains(expected), "{incident}: {text}");
    }
    assert!(explain(&["incident", "I3", "--incident-window", "0"]).contains("inference is off"));
    let out = ws
        .doralens(&["explain", "deployment", "NOPE"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no deployment `NOPE`"));
}

fn jira_config(mock: &MockPagerDuty) -> String {
    format!(
        "[jira]\nurl = \"{}\"\nprojects = [\"OPS\"]\nsince = \"2026-11-01\"\n\
         deployment_field = \"customfield_10050\"\ncommit_field = \"customfield_10051\"\n\n\
         [jira.services]\n\"Checkout API\" = \"api\"\n",
        mock.api_url()
    )
}

fn jira_ingest(ws: &Workspace, extra: &[&str]) -> Command {
    let mut args = vec!["ingest", "jira"];
    args.extend(extra);
    let mut cmd = ws.doralens(&args);
    cmd.env("JIRA_TOKEN", TOKEN)
        .env("JIRA_EMAIL", JIRA_EMAIL)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    cmd
}

#[test]
fn jira_incidents_come_from_the_enhanced_search_with_their_fields() {
    let mock = MockPagerDuty::start();
    let ws = Workspace::new();
    ws.write("doralens.toml", &jira_config(&mock));
    let out = output_ok(jira_ingest(&ws, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        ws.sql_csv(INCIDENTS),
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\n\
         OPS-1,api,Checkout API returns 500s,Highest,2026-11-10T10:00:00Z,2026-11-10T12:00:00Z,d-api-2,\n\
         OPS-2,Web storefront,Slow product pages,Low,2026-11-11T08:00:00Z,2026-11-11T09:30:00Z,,\n\
         OPS-3,api,Payment retries pile up,High,2026-11-12T15:00:00Z,,,c300000000000000000000000000000000000000\n\
         OPS-4,api,Login errors after deploy,High,2026-11-13T10:00:00Z,2026-11-13T11:00:00Z,,\n"
    );
    assert!(
        stderr.contains("no mapping in [jira.services]") && stderr.contains("Web storefront"),
        "{stderr}"
    );
    let search = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/rest/api/3/search/jql")
        .unwrap();
    assert_eq!(
        search.param("jql"),
        Some(
            "project = \"OPS\" AND issuetype = \"Incident\" AND created >= \"2026-11-01 00:00\" ORDER BY updated ASC"
        )
    );
    let fields = search.param("fields").unwrap();
    for f in [
        "summary",
        "created",
        "resolutiondate",
        "priority",
        "components",
        "customfield_10050",
    ] {
        assert!(fields.split(',').any(|x| x == f), "{fields}");
    }
    assert!(search.headers["authorization"].starts_with("Basic "));
    assert!(!stderr.contains(TOKEN));
}

#[test]
fn jira_pages_by_token_and_incremental_equals_full() {
    let mock = MockPagerDuty::start();
    mock.set_max_limit(2);
    let ws = Workspace::new();
    ws.write("doralens.toml", &jira_config(&mock));
    output_ok(jira_ingest(&ws, &[]));
    let tokens: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.param("nextPageToken").map(str::to_string))
        .collect();
    // Four incidents (the Task is not asked for), two a page.
    assert_eq!(tokens, ["page-2"]);
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM incidents"), "n\n4\n");
    // OPS-3 is resolved; OPS-2 stops being an incident; both move `updated`.
    mock.edit_jira("OPS-3", |i| {
        i["fields"]["resolutiondate"] = "2026-11-12T18:00:00.000+0000".into();
        i["fields"]["updated"] = "2026-11-12T18:00:00.000+0000".into();
    });
    mock.edit_jira("OPS-2", |i| {
        i["fields"]["issuetype"]["name"] = "Task".into();
        i["fields"]["updated"] = "2026-11-14T08:00:00.000+0000".into();
    });
    mock.clear_requests();
    let out = output_ok(jira_ingest(&ws, &[]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(incremental)"));
    let first = mock.requests().into_iter().next().unwrap();
    let jql = first.param("jql").unwrap().to_string();
    assert!(
        jql.starts_with("project = \"OPS\" AND updated >= "),
        "{jql}"
    );
    let incremental = ws.sql_csv(INCIDENTS);

    let full = Workspace::new();
    full.write("doralens.toml", &jira_config(&mock));
    output_ok(jira_ingest(&full, &[]));
    assert_eq!(incremental, full.sql_csv(INCIDENTS));
    assert_eq!(
        ws.sql_csv("SELECT id, resolved_at FROM incidents ORDER BY id"),
        "id,resolved_at\nOPS-1,2026-11-10T12:00:00Z\nOPS-3,2026-11-12T18:00:00Z\nOPS-4,2026-11-13T11:00:00Z\n"
    );
    // An incident of the same key shape from a file is never deleted, on
    // incremental or full runs.
    let other = ws.write(
        "incidents.csv",
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\nOPS-900,api,from a file,,2026-11-15T10:00:00Z,,,\n",
    );
    output_ok(ws.doralens(&["import", "incidents", other.to_str().unwrap()]));
    output_ok(jira_ingest(&ws, &[]));
    output_ok(jira_ingest(&ws, &["--full"]));
    assert_eq!(
        ws.sql_csv("SELECT id FROM incidents ORDER BY id"),
        "id\nOPS-1\nOPS-3\nOPS-4\nOPS-900\n"
    );
}

#[test]
fn jira_rejected_token_names_the_variables() {
    let mock = MockPagerDuty::start();
    let ws = Workspace::new();
    ws.write("doralens.toml", &jira_config(&mock));
    let out = jira_ingest(&ws, &[])
        .env("JIRA_TOKEN", "not-the-token-9876")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JIRA_TOKEN") && stderr.contains("not authorized"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-token-9876"));
}

const INCIDENT_IO_CONFIG: &str = "[incident_io]\nservice_field = \"Affected service\"\nsince = \"2026-11-01\"\n\n[incident_io.services]\n\"Checkout API\" = \"api\"\n";

fn incident_io_ingest(ws: &Workspace, mock: &MockPagerDuty, extra: &[&str]) -> Command {
    let url = mock.api_url();
    let mut args = vec!["ingest", "incident-io", "--api-url", url.as_str()];
    args.extend(extra);
    let mut cmd = ws.doralens(&args);
    cmd.env("INCIDENT_IO_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    cmd
}

#[test]
fn incident_io_keeps_real_incidents_with_impact_and_resolution_times() {
    let mock = MockPagerDuty::start();
    mock.set_max_limit(2);
    mock.fault("/v2/incidents", Fault::RetryAfter(1), 1);
    let ws = Workspace::new();
    ws.write("doralens.toml", INCIDENT_IO_CONFIG);
    let out = output_ok(incident_io_ingest(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        ws.sql_csv(INCIDENTS),
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\n\
         INC-101,api,Checkout API returns 500s,Critical,2026-11-10T10:00:00Z,2026-11-10T12:00:00Z,,\n\
         INC-102,Web storefront,Slow product pages,Minor,2026-11-11T08:00:00Z,2026-11-11T09:30:00Z,,\n\
         INC-103,api,Payment retries pile up,Major,2026-11-12T15:00:00Z,,,\n\
         INC-104,api,Login errors after deploy,Minor,2026-11-13T10:00:00Z,2026-11-13T11:00:00Z,,\n"
    );
    assert!(stderr.contains("left out by the filters"), "{stderr}");
    // Paged by `after`, two a page: three pages for six incidents.
    let afters: Vec<Option<String>> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v2/incidents")
        .map(|r| r.param("after").map(str::to_string))
        .collect();
    assert_eq!(
        afters[afters.len() - 3..],
        [
            None,
            Some("01INC103".to_string()),
            Some("01INC101".to_string())
        ]
    );
    // An incident turned into a test one goes on the next run (incremental
    // or full, each reads the whole list).
    mock.edit_incident_io("INC-103", |i| i["mode"] = "test".into());
    output_ok(incident_io_ingest(&ws, &mock, &[]));
    assert_eq!(
        ws.sql_csv("SELECT id FROM incidents ORDER BY id"),
        "id\nINC-101\nINC-102\nINC-104\n"
    );
    mock.edit_incident_io("INC-102", |i| i["mode"] = "tutorial".into());
    output_ok(incident_io_ingest(&ws, &mock, &["--full"]));
    assert_eq!(
        ws.sql_csv("SELECT id FROM incidents ORDER BY id"),
        "id\nINC-101\nINC-104\n"
    );
    // Another source's incident of the same shape of id is never touched.
    let other = ws.write(
        "incidents.csv",
        "id,service,title,severity,created_at,resolved_at,deployment_id,sha\nINC-900,api,from a file,,2026-11-15T10:00:00Z,,,\n",
    );
    output_ok(ws.doralens(&["import", "incidents", other.to_str().unwrap()]));
    output_ok(incident_io_ingest(&ws, &mock, &[]));
    assert_eq!(
        ws.sql_csv("SELECT id FROM incidents ORDER BY id"),
        "id\nINC-101\nINC-104\nINC-900\n"
    );
}

/// The shared client's retry policy and token handling, for the two
/// trackers the PagerDuty tests do not cover.
#[test]
fn jira_and_incident_io_retry_faults_and_name_a_rejected_token() {
    let mock = MockPagerDuty::start();
    mock.fault("/search/jql", Fault::Status(500), 1);
    mock.fault("/search/jql", Fault::Truncate, 1);
    mock.fault("/search/jql", Fault::RetryAfter(1), 1);
    let ws = Workspace::new();
    ws.write("doralens.toml", &jira_config(&mock));
    let out = output_ok(jira_ingest(&ws, &[]));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("retry 1/") && log.contains("Retry-After: 1"),
        "{log}"
    );
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM incidents"), "n\n4\n");

    mock.fault("/v2/incidents", Fault::Status(502), 1);
    mock.fault("/v2/incidents", Fault::Truncate, 1);
    let ws = Workspace::new();
    ws.write("doralens.toml", INCIDENT_IO_CONFIG);
    output_ok(incident_io_ingest(&ws, &mock, &[]));
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM incidents"), "n\n4\n");
    let out = incident_io_ingest(&ws, &mock, &[])
        .env("INCIDENT_IO_TOKEN", "inc_wrong_key_5555")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("INCIDENT_IO_TOKEN") && log.contains("401"),
        "{log}"
    );
    assert!(!log.contains("inc_wrong_key_5555"));
}

/// A text custom field on an incident.io incident, as the API shows one
/// (`custom_field_entries[].values[].value_text`).
fn caused_by(value: &str) -> serde_json::Value {
    serde_json::json!({
        "custom_field": {
            "id": "01FIELDCAUSE", "name": "Caused by", "description": "The change that caused it",
            "field_type": "text", "created_at": "2026-10-01T09:00:00Z", "updated_at": "2026-10-01T09:00:00Z"
        },
        "values": [{ "value_text": value }]
    })
}

/// Deployments other sources stored: one named `deploy-7`, one whose id is
/// a 40-hex sha (a CI that names deployments by their commit).
fn import_deployments(ws: &Workspace) {
    let file = ws.write(
        "deployments.csv",
        "id,repo,service,environment,sha,status,started_at,finished_at\n\
         deploy-7,acme/api,api,production,a100000000000000000000000000000000000000,success,,2026-11-10T09:00:00Z\n\
         c0ffee0000000000000000000000000000000000,acme/api,api,production,c0ffee0000000000000000000000000000000000,success,,2026-11-11T07:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "deployments", file.to_str().unwrap()]));
}

const LINKS: &str = "SELECT id, deployment_id, sha FROM incidents ORDER BY id";

/// incident.io's end of an incident fell back to `updated_at`, which moves
/// with every later edit: a comment a month on made a 4-hour incident a
/// month long. The end is the configured timestamp, else "Resolved at",
/// else "Closed at"; an incident with none is open.
#[test]
fn regression_incident_io_recovery_never_ends_at_updated_at() {
    let mock = MockPagerDuty::start();
    // INC-101: closed, no timestamp at all, edited a month later.
    mock.edit_incident_io("INC-101", |i| {
        for t in i["incident_timestamp_values"].as_array_mut().unwrap() {
            t["value"] = serde_json::Value::Null;
        }
        i["updated_at"] = "2026-12-10T10:00:00Z".into();
    });
    // INC-104: no "Resolved at" but "Closed at" 11:30 (updated 18:00).
    mock.edit_incident_io("INC-104", |i| {
        for t in i["incident_timestamp_values"].as_array_mut().unwrap() {
            if t["incident_timestamp"]["name"] == "Resolved at" {
                t["value"] = serde_json::Value::Null;
            }
        }
    });
    let ws = Workspace::new();
    ws.write("doralens.toml", INCIDENT_IO_CONFIG);
    let out = output_ok(incident_io_ingest(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        ws.sql_csv("SELECT id, created_at, resolved_at FROM incidents ORDER BY id"),
        "id,created_at,resolved_at\n\
         INC-101,2026-11-10T10:00:00Z,\n\
         INC-102,2026-11-11T08:00:00Z,2026-11-11T09:30:00Z\n\
         INC-103,2026-11-12T15:00:00Z,\n\
         INC-104,2026-11-13T10:00:00Z,2026-11-13T11:30:00Z\n"
    );
    assert!(
        stderr.contains("1 closed incident(s)") && stderr.contains("count as open: INC-101"),
        "{stderr}"
    );
    // A configured timestamp comes first.
    let ws = Workspace::new();
    ws.write("doralens.toml", INCIDENT_IO_CONFIG);
    output_ok(incident_io_ingest(
        &ws,
        &mock,
        &["--resolved-timestamp", "Reported at"],
    ));
    assert_eq!(
        ws.sql_csv("SELECT resolved_at FROM incidents WHERE id = 'INC-104'"),
        "resolved_at\n2026-11-13T10:05:00Z\n"
    );
}

/// incident.io links: one "Caused by" field holding a deployment id or a
/// commit. Read as `--link-field`, and as the same field given to both
/// `--deployment-field` and `--commit-field` (which stored a 40-hex value
/// as both a deployment and a commit).
#[test]
fn regression_incident_io_link_field_is_a_deployment_or_a_commit() {
    let mock = MockPagerDuty::start();
    let set = |reference: &str, value: &str| {
        mock.edit_incident_io(reference, |i| {
            i["custom_field_entries"]
                .as_array_mut()
                .unwrap()
                .push(caused_by(value))
        })
    };
    set("INC-104", "deploy-7");
    set("INC-102", "c0ffee0000000000000000000000000000000000");
    set("INC-101", "ABCDEF1234567");
    set("INC-103", "v9.9");
    let expected = "id,deployment_id,sha\n\
                    INC-101,,abcdef1234567\n\
                    INC-102,c0ffee0000000000000000000000000000000000,\n\
                    INC-103,,\n\
                    INC-104,deploy-7,\n";
    for flags in [
        &["--link-field", "Caused by"][..],
        &[
            "--deployment-field",
            "Caused by",
            "--commit-field",
            "Caused by",
        ][..],
    ] {
        let ws = Workspace::new();
        ws.write("doralens.toml", INCIDENT_IO_CONFIG);
        import_deployments(&ws);
        let out = output_ok(incident_io_ingest(&ws, &mock, flags));
        assert_eq!(ws.sql_csv(LINKS), expected, "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches("v9.9").count(), 1, "{stderr}");
        assert!(
            stderr.contains("1 incident(s) have a link field naming neither"),
            "{stderr}"
        );
    }
}

/// Jira: `link_field` in [jira] resolves the same way; explicit deployment
/// and commit fields keep working beside it.
#[test]
fn jira_link_field_is_a_deployment_or_a_commit() {
    let mock = MockPagerDuty::start();
    mock.edit_jira("OPS-2", |i| {
        i["fields"]["customfield_10052"] = "c0ffee0000000000000000000000000000000000".into()
    });
    mock.edit_jira("OPS-4", |i| {
        i["fields"]["customfield_10052"] = "deploy-7".into()
    });
    mock.edit_jira("OPS-1", |i| {
        i["fields"]["customfield_10052"] = "not-a-thing".into()
    });
    let ws = Workspace::new();
    ws.write(
        "doralens.toml",
        &jira_config(&mock).replace(
            "commit_field = \"customfield_10051\"\n",
            "commit_field = \"customfield_10051\"\nlink_field = \"customfield_10052\"\n",
        ),
    );
    import_deployments(&ws);
    let out = output_ok(jira_ingest(&ws, &[]));
    assert_eq!(
        ws.sql_csv(LINKS),
        "id,deployment_id,sha\n\
         OPS-1,d-api-2,\n\
         OPS-2,c0ffee0000000000000000000000000000000000,\n\
         OPS-3,,c300000000000000000000000000000000000000\n\
         OPS-4,deploy-7,\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OPS-1 (\"not-a-thing\")"), "{stderr}");
}

/// PagerDuty: `link_field` names a change event's custom detail holding
/// either kind.
#[test]
fn pagerduty_link_field_is_a_deployment_or_a_commit() {
    let (ws, mock) = setup();
    let event = |at: &str, value: &str| {
        serde_json::json!([{
            "id": "01CHG0900", "type": "change_event", "summary": "Deploy",
            "timestamp": at, "links": [], "custom_details": { "caused_by": value },
            "reason": { "type": "related_service" }
        }])
    };
    mock.edit_change_events("Q1WEB102", |e| {
        *e = event("2026-11-11T07:30:00Z", "deploy-7")
    });
    mock.edit_change_events("Q1API104", |e| {
        *e = event(
            "2026-11-13T09:00:00Z",
            "A400000000000000000000000000000000000000",
        )
    });
    import_deployments(&ws);
    output_ok(pagerduty(&ws, &mock, &["--link-field", "caused_by"]));
    assert_eq!(
        ws.sql_csv(LINKS),
        "id,deployment_id,sha\n\
         PD-101,d-api-2,\n\
         PD-102,deploy-7,\n\
         PD-103,,c300000000000000000000000000000000000000\n\
         PD-104,,a400000000000000000000000000000000000000\n"
    );
}
