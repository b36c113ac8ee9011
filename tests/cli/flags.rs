//! Flag platforms against a mock Unleash on 127.0.0.1
//! (`tests/cli/mock_unleash.rs`, fixtures in `fixtures/unleash/`), and
//! flags from files.

use assert_cmd::Command;
use serde_json::json;

use crate::mock_unleash::{MockUnleash, TOKEN};
use crate::util::{Workspace, output_ok};

const CONFIG: &str =
    "[unleash]\nsince = \"2026-09-01\"\n\n[unleash.services]\n\"service:checkout\" = \"api\"\n";

fn unleash(ws: &Workspace, mock: &MockUnleash, extra: &[&str]) -> Command {
    let url = mock.url();
    let mut args = vec!["ingest", "unleash", "--api-url", url.as_str()];
    args.extend(extra);
    let mut cmd = ws.doralens(&args);
    cmd.env("UNLEASH_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    cmd
}

fn setup() -> (Workspace, MockUnleash) {
    let ws = Workspace::new();
    ws.write("doralens.toml", CONFIG);
    (ws, MockUnleash::start())
}

const FLAGS: &str = "SELECT key, project, kind, created_at, created_by, owner, archived_at, stale, \
                     lifecycle_stage, expected_lifetime_days, service FROM flags ORDER BY key";
const EVENTS: &str = "SELECT id, flag_key, project, environment, at, actor, kind, \
                      rollout_percentage, change_request FROM flag_events ORDER BY id";

#[test]
fn unleash_flags_and_events_are_mapped_paged_to_the_end_through_429() {
    let (ws, mock) = setup();
    // Unleash falls back to its default page for a limit over its maximum.
    mock.set_limits(2, 2);
    mock.retry_after("/search/events", 1);
    let out = output_ok(unleash(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unleash all-projects: 2 flags, 5 flag_events"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv(FLAGS),
        "key,project,kind,created_at,created_by,owner,archived_at,stale,lifecycle_stage,expected_lifetime_days,service\n\
         new-checkout,shop,release,2026-10-01T09:00:00Z,Ada Lovelace,,,0,live,40,api\n\
         payments-off,payments,kill-switch,2025-03-01T12:00:00Z,Grace Hopper,,,1,live,,payments\n"
    );
    assert_eq!(
        ws.sql_csv(EVENTS),
        "id,flag_key,project,environment,at,actor,kind,rollout_percentage,change_request\n\
         unleash:102,new-checkout,shop,production,2026-11-03T09:00:00Z,grace@acme.example,rollout-changed,10,\n\
         unleash:103,new-checkout,shop,production,2026-11-03T09:05:00Z,grace@acme.example,enabled,,\n\
         unleash:104,new-checkout,shop,production,2026-11-10T09:00:00Z,grace@acme.example,rollout-changed,100,42\n\
         unleash:105,payments-off,payments,production,2026-11-16T08:30:00Z,ada@acme.example,disabled,,\n\
         unleash:106,old-banner,shop,,2026-11-18T16:00:00Z,ada@acme.example,archived,,\n"
    );
    let requests = mock.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").map(String::as_str) == Some(TOKEN))
    );
    // Six events two a page (plus the 429), offsets advanced by what came back.
    let offsets: Vec<&str> = requests
        .iter()
        .filter(|r| r.path == "/api/admin/search/events")
        .map(|r| r.param("offset").unwrap())
        .collect();
    assert_eq!(offsets, ["0", "0", "2", "4"]);
    assert!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/api/admin/search/"))
            .all(|r| r.param("archived").is_none())
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/admin/projects/shop/features/new-checkout")
    );
}

#[test]
fn unleash_archived_flags_only_when_asked() {
    let (ws, mock) = setup();
    output_ok(unleash(&ws, &mock, &["--archived"]));
    assert_eq!(
        ws.sql_csv("SELECT key, archived_at, expected_lifetime_days FROM flags ORDER BY key"),
        "key,archived_at,expected_lifetime_days\n\
         new-checkout,,40\n\
         old-banner,2026-11-18T16:00:00Z,40\n\
         payments-off,,\n"
    );
    let archived: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.param("archived").is_some())
        .collect();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].param("archived"), Some("IS:true"));
    // Archived flags answer 404 on the single-flag endpoint: not asked.
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/features/old-banner"))
    );
}

#[test]
fn unleash_incremental_sync_equals_a_full_one() {
    let (ws, mock) = setup();
    output_ok(unleash(&ws, &mock, &[]));
    mock.add_event(json!({
        "id": 107, "createdAt": "2026-11-19T07:00:00.000Z",
        "type": "feature-environment-enabled", "createdBy": "ada@acme.example",
        "createdByUserId": 7, "environment": "production", "project": "payments",
        "featureName": "payments-off", "data": null, "preData": null, "tags": []
    }));
    let out = output_ok(unleash(&ws, &mock, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(incremental)"), "{stderr}");
    // The incremental run read from the day of the newest stored event.
    let last = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/api/admin/search/events")
        .unwrap();
    assert_eq!(last.param("from"), Some("IS:2026-11-18"));
    let full = Workspace::new();
    full.write("doralens.toml", CONFIG);
    output_ok(unleash(&full, &mock, &[]));
    assert_eq!(ws.sql_csv(EVENTS), full.sql_csv(EVENTS));
    assert_eq!(ws.sql_csv(FLAGS), full.sql_csv(FLAGS));
    assert!(ws.sql_csv(EVENTS).contains("unleash:107,payments-off"));
}

#[test]
fn unleash_rejected_token_is_named_without_the_token() {
    let (ws, mock) = setup();
    let out = unleash(&ws, &mock, &[])
        .env("UNLEASH_TOKEN", "wrong-token-4242")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("UNLEASH_TOKEN") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token-4242"), "{stderr}");
}

#[test]
fn unleash_pages_that_disagree_with_total_fail_loudly() {
    let (ws, mock) = setup();
    mock.lie_about_total(1);
    let out = unleash(&ws, &mock, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`total` says"), "{stderr}");
}

#[test]
fn flags_and_flag_events_import_from_files_with_checked_kinds() {
    let ws = Workspace::new();
    let flags = ws.write(
        "flags.csv",
        "key,project,kind,created_at,created_by,owner,archived_at,stale,lifecycle_stage,expected_lifetime_days,service\n\
         dark-mode,web,release,2026-10-01T09:00:00Z,ada,team-web,,0,live,40,web\n",
    );
    output_ok(ws.doralens(&["import", "flags", flags.to_str().unwrap()]));
    // Importing again upserts by (project, key).
    output_ok(ws.doralens(&["import", "flags", flags.to_str().unwrap()]));
    assert_eq!(
        ws.sql_csv("SELECT key, owner FROM flags"),
        "key,owner\ndark-mode,team-web\n"
    );
    let events = ws.write(
        "flag_events.ndjson",
        "{\"id\":\"lf:1\",\"flag_key\":\"dark-mode\",\"project\":\"web\",\"environment\":\"production\",\"at\":\"2026-10-02T10:00:00Z\",\"kind\":\"toggled\"}\n",
    );
    let out = ws
        .doralens(&["import", "flag_events", events.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("flag_events.ndjson:1: column `kind`: bad value `toggled`")
            && stderr.contains("enabled, disabled, rollout-changed"),
        "{stderr}"
    );
}

#[test]
fn plain_ingest_syncs_the_unleash_section_one_cursor_per_project() {
    let mock = MockUnleash::start();
    let ws = Workspace::new();
    ws.write(
        "doralens.toml",
        &format!(
            "[unleash]\napi_url = \"{}\"\nprojects = [\"shop\"]\nsince = \"2026-09-01\"\n",
            mock.url()
        ),
    );
    let mut cmd = ws.doralens(&["ingest"]);
    cmd.env("UNLEASH_TOKEN", TOKEN)
        .env("DORALENS_HTTP_BACKOFF_MS", "10");
    let out = output_ok(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unleash shop: 1 flags, 4 flag_events"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT project FROM flag_events"),
        "project\nshop\n"
    );
    assert!(
        mock.requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/admin/search/"))
            .all(|r| r.param("project") == Some("IS:shop"))
    );
}
