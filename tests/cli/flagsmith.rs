//! Flagsmith against a mock Admin API on 127.0.0.1
//! (`tests/cli/mock_flagsmith.rs`, fixtures in `fixtures/flagsmith/`).

use assert_cmd::Command;
use serde_json::json;

use crate::mock_flagsmith::{MockFlagsmith, TOKEN};
use crate::util::{Workspace, output_ok};

const CONFIG: &str =
    "[flagsmith]\nsince = \"2026-09-01\"\n\n[flagsmith.services]\n\"tag:7\" = \"api\"\n";

fn flagsmith(ws: &Workspace, mock: &MockFlagsmith, extra: &[&str]) -> Command {
    let url = mock.url();
    let mut args = vec![
        "ingest",
        "flagsmith",
        "--api-url",
        url.as_str(),
        "--project",
        "12",
    ];
    args.extend(extra);
    let mut cmd = ws.doralens(&args);
    cmd.env("FLAGSMITH_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    cmd
}

fn setup() -> (Workspace, MockFlagsmith) {
    let ws = Workspace::new();
    ws.write("doralens.toml", CONFIG);
    (ws, MockFlagsmith::start())
}

const FLAGS: &str = "SELECT key, project, kind, created_at, created_by, owner, archived_at, stale, \
                     lifecycle_stage, expected_lifetime_days, service FROM flags ORDER BY key";
const EVENTS: &str = "SELECT id, flag_key, project, environment, at, actor, kind, \
                      rollout_percentage, change_request FROM flag_events ORDER BY id";

#[test]
fn flagsmith_flags_and_events_are_mapped_paged_to_the_end_through_429() {
    let (ws, mock) = setup();
    mock.set_max_page(2);
    mock.retry_after("/audit/", 1);
    let out = output_ok(flagsmith(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("flagsmith 12: 3 flags, 7 flag_events"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv(FLAGS),
        "key,project,kind,created_at,created_by,owner,archived_at,stale,lifecycle_stage,expected_lifetime_days,service\n\
         new-checkout,12,release,2026-10-01T09:00:00Z,,ada@acme.example,,,,,api\n\
         old-banner,12,release,2026-06-01T08:00:00Z,,grace@acme.example,2026-11-18T16:00:00Z,,,,12\n\
         price-test,12,experiment,2026-10-05T10:00:00Z,,,,,,,12\n"
    );
    assert_eq!(
        ws.sql_csv(EVENTS),
        "id,flag_key,project,environment,at,actor,kind,rollout_percentage,change_request\n\
         flagsmith:501,new-checkout,12,development,2026-10-02T10:00:00Z,ada@acme.example,enabled,,\n\
         flagsmith:505,new-checkout,12,production,2026-11-03T09:05:00Z,grace@acme.example,enabled,,\n\
         flagsmith:506,price-test,12,production,2026-11-05T12:00:00Z,grace@acme.example,strategy-changed,,\n\
         flagsmith:507,new-checkout,12,production,2026-11-10T09:00:00Z,grace@acme.example,strategy-changed,,\n\
         flagsmith:508,new-checkout,12,production,2026-11-16T08:30:00Z,ada@acme.example,disabled,,\n\
         flagsmith:509,old-banner,12,,2026-11-18T16:00:00Z,ada@acme.example,archived,,\n\
         flagsmith:510,new-checkout,12,development,2026-11-17T10:00:00Z,ada@acme.example,strategy-changed,,\n"
    );
    let requests = mock.requests();
    let auth = format!("Api-Key {TOKEN}");
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization") == Some(&auth))
    );
    // Ten entries two a page (plus the 429), `next` followed to the end.
    let pages: Vec<Option<&str>> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/projects/12/audit/")
        .map(|r| r.param("page"))
        .collect();
    assert_eq!(
        pages,
        [None, None, Some("2"), Some("3"), Some("4"), Some("5")]
    );
    let feature_pages = requests
        .iter()
        .filter(|r| r.path == "/api/v1/projects/12/features/")
        .count();
    assert_eq!(feature_pages, 2);
    // The detail only for feature states (not an identity override) and
    // feature updates.
    let mut details: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.path.strip_prefix("/api/v1/projects/12/audit/"))
        .filter(|p| !p.is_empty())
        .collect();
    details.sort();
    assert_eq!(details, ["501/", "505/", "506/", "507/", "508/", "509/"]);
    assert!(
        requests
            .iter()
            .all(|r| r.param("is_system_event").is_none())
    );
    // What the sync cost: 2 feature pages, 5 audit pages and the 429, 6
    // details.
    assert_eq!(requests.len(), 14);
}

#[test]
fn flagsmith_incremental_sync_equals_a_full_one() {
    let (ws, mock) = setup();
    output_ok(flagsmith(&ws, &mock, &[]));
    // Entry 508 (production, by Ada) again, later, for `price-test`.
    let mut entry = fixture_entry(2);
    entry["id"] = json!(511);
    entry["created_date"] = json!("2026-11-19T07:00:00.000000Z");
    entry["log"] = json!("Flag state updated for feature: price-test");
    entry["related_object_id"] = json!(9003);
    mock.add_entry(
        entry,
        json!([{"field": "enabled", "old": false, "new": true}]),
        "UPDATE",
    );
    let before = mock.requests().len();
    let out = output_ok(flagsmith(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(incremental)"), "{stderr}");
    // The incremental run read back to the newest stored entry only.
    let details: Vec<String> = mock.requests()[before..]
        .iter()
        .filter_map(|r| r.path.strip_prefix("/api/v1/projects/12/audit/"))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(details, ["511/", "509/"]);
    let full = Workspace::new();
    full.write("doralens.toml", CONFIG);
    output_ok(flagsmith(&full, &mock, &[]));
    assert_eq!(ws.sql_csv(EVENTS), full.sql_csv(EVENTS));
    assert_eq!(ws.sql_csv(FLAGS), full.sql_csv(FLAGS));
    assert!(
        ws.sql_csv(EVENTS)
            .contains("flagsmith:511,price-test,12,production,2026-11-19T07:00:00Z")
    );
}

/// An entry of `fixtures/flagsmith/audit.json`, by position.
fn fixture_entry(n: usize) -> serde_json::Value {
    let path = crate::util::repo_root().join("fixtures/flagsmith/audit.json");
    let audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    audit["results"][n].clone()
}

#[test]
fn flagsmith_rejected_token_is_named_without_the_token() {
    let (ws, mock) = setup();
    let out = flagsmith(&ws, &mock, &[])
        .env("FLAGSMITH_TOKEN", "wrong-token-4242")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FLAGSMITH_TOKEN") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token-4242"), "{stderr}");
}

#[test]
fn flagsmith_pages_that_disagree_with_count_fail_loudly() {
    let (ws, mock) = setup();
    mock.set_max_page(2);
    mock.lie_about_count("/features/", 1);
    let out = flagsmith(&ws, &mock, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`count` says 4"), "{stderr}");
}

#[test]
fn plain_ingest_syncs_the_flagsmith_section() {
    let mock = MockFlagsmith::start();
    let ws = Workspace::new();
    ws.write(
        "doralens.toml",
        &format!(
            "[flagsmith]\napi_url = \"{}\"\nprojects = [\"12\"]\nsince = \"2026-11-01\"\n",
            mock.url()
        ),
    );
    let mut cmd = ws.doralens(&["ingest"]);
    cmd.env("FLAGSMITH_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    let out = output_ok(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // From 2026-11-01: entries 505 to 510 (501 is older).
    assert!(
        stderr.contains("flagsmith 12: 3 flags, 6 flag_events"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT project FROM flag_events"),
        "project\n12\n"
    );
}

#[test]
fn flagsmith_archived_without_its_entry_keeps_the_first_time_seen() {
    let (ws, mock) = setup();
    // The audit log read from after the archive (entry 509) on.
    let run = |now: &str, extra: &[&str]| {
        let mut args = vec!["--since", "2026-11-19"];
        args.extend(extra);
        let mut cmd = flagsmith(&ws, &mock, &args);
        cmd.env("DORALENS_NOW", now);
        output_ok(cmd);
    };
    run("2026-12-01T00:00:00Z", &[]);
    run("2026-12-02T00:00:00Z", &[]);
    run("2026-12-03T00:00:00Z", &["--full"]);
    assert_eq!(
        ws.sql_csv("SELECT key, archived_at FROM flags ORDER BY key"),
        "key,archived_at\nnew-checkout,\nold-banner,2026-12-01T00:00:00Z\nprice-test,\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM flag_events"),
        "n\n0\n"
    );
}

#[test]
fn flagsmith_an_empty_audit_log_is_said() {
    let (ws, mock) = setup();
    mock.clear_audit();
    let out = output_ok(flagsmith(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("flagsmith 12: the audit log is empty"),
        "{stderr}"
    );
    assert!(
        stderr.contains("flagsmith 12: 3 flags, 0 flag_events"),
        "{stderr}"
    );
}

#[test]
fn flagsmith_an_audit_log_that_disagrees_with_count_fails_and_keeps_the_flags() {
    let (ws, mock) = setup();
    mock.set_max_page(2);
    mock.lie_about_count("/audit/", 1);
    let out = flagsmith(&ws, &mock, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`count` says 11"), "{stderr}");
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM flags"), "n\n3\n");
    // The cursor did not move: the next run reads the whole log again.
    mock.lie_about_count("/audit/", 0);
    output_ok(flagsmith(&ws, &mock, &[]));
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM flag_events"),
        "n\n7\n"
    );
}
