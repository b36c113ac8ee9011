//! Provenance (issue #22, part 5): every row names its source, scope,
//! fetch time, run and origin, `explain` prints them, and `syncs` lists
//! every run, failed ones included.

use crate::forges::github;
use crate::git::{commit, new_repo};
use crate::mock_forge::{Fault, Flavour, MockForge};
use crate::util::{Workspace, output_ok};

fn stdout(out: std::process::Output) -> String {
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_imported_row_traces_to_its_file_line() {
    let ws = Workspace::new();
    let file = ws.write(
        "deploys.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         D1,r,web,production,a,success,2026-03-01T10:00:00Z\n\
         D2,r,web,production,b,success,2026-03-02T10:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "deployments", file.to_str().unwrap()]));
    let path = std::path::absolute(&file).unwrap().display().to_string();
    let text = stdout(output_ok(ws.doralens(&["explain", "deployment", "D2"])));
    assert!(
        text.contains(&format!("Provenance: import {path}, fetched ")),
        "{text}"
    );
    // The header is line 1: D2 is line 3.
    assert!(text.contains(&format!("  from: {path}:3\n")), "{text}");
    assert!(text.contains("  run: import from "), "{text}");
    assert!(text.contains(", 2 row(s) upserted, ok"), "{text}");
    assert_eq!(
        ws.sql_csv("SELECT _origin FROM deployments ORDER BY id"),
        format!("_origin\n{path}:2\n{path}:3\n")
    );
    assert_eq!(
        ws.sql_csv("SELECT source, \"rows\", outcome, rows_by_table FROM syncs"),
        "source,rows,outcome,rows_by_table\nimport,2,ok,\"{\"\"deployments\"\":2}\"\n"
    );
}

/// A review's key holds a timestamp: `explain change` lists each review of
/// the change with the file line it came from.
#[test]
fn explain_change_traces_each_review_to_its_file_line() {
    let ws = Workspace::new();
    let changes = ws.write(
        "changes.csv",
        "repo,number,title,author,created_at,merged_at,merge_sha,labels\n\
         r,1,Add search,bob,2026-03-02T09:00:00Z,2026-03-02T15:00:00Z,q1,\n",
    );
    let reviews = ws.write(
        "reviews.csv",
        "repo,number,reviewer,state,submitted_at\n\
         r,1,cat,COMMENTED,2026-03-02T10:00:00Z\n\
         r,2,dan,APPROVED,2026-03-02T11:00:00Z\n\
         r,1,cat,APPROVED,2026-03-02T13:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "changes", changes.to_str().unwrap()]));
    output_ok(ws.doralens(&["import", "reviews", reviews.to_str().unwrap()]));
    let path = std::path::absolute(&reviews).unwrap().display().to_string();
    let text = stdout(output_ok(ws.doralens(&["explain", "change", "r#1"])));
    let section = text
        .split("Its reviews came from:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no reviews section: {text}"));
    // Oldest first; r#2's review (line 3) is not r#1's.
    let first = section
        .find("  cat COMMENTED 2026-03-02T10:00:00Z\n")
        .expect(&text);
    let second = section
        .find("  cat APPROVED 2026-03-02T13:00:00Z\n")
        .expect(&text);
    assert!(first < second, "{text}");
    assert!(
        section.contains(&format!("      from: {path}:2\n")),
        "{text}"
    );
    assert!(
        section.contains(&format!("      from: {path}:4\n")),
        "{text}"
    );
    assert!(!section.contains(&format!("{path}:3")), "{text}");
}

#[test]
fn a_rejected_import_is_a_failed_sync_that_wrote_nothing() {
    let ws = Workspace::new();
    let good = ws.write(
        "good.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         D1,r,web,production,a,success,2026-03-01T10:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "deployments", good.to_str().unwrap()]));
    let bad = ws.write(
        "bad.csv",
        "id,repo,service,environment,sha,status,finished_at\n\
         D2,r,web,production,b,success,2026-03-02T10:00:00Z\n\
         D3,r,web,production,c,success,yesterday\n",
    );
    let out = ws
        .doralens(&["import", "deployments", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Nothing of bad.csv was written, not even its valid line 2.
    assert_eq!(ws.sql_csv("SELECT id FROM deployments"), "id\nD1\n");
    let syncs = ws.sql_csv("SELECT source, \"rows\", outcome, message FROM syncs ORDER BY id");
    let lines: Vec<&str> = syncs.lines().collect();
    assert_eq!(lines[1], "import,1,ok,", "{syncs}");
    assert!(lines[2].starts_with("import,0,failed,"), "{syncs}");
    assert!(
        lines[2].contains("bad.csv") && lines[2].contains("3"),
        "{syncs}"
    );
}

#[test]
fn git_rows_name_their_repository_and_runs_record_their_cursors() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "shop");
    let c1 = commit(&dir, "2026-01-01T10:00:00Z", "a", "First");
    output_ok(ws.doralens(&["ingest", "git", dir.to_str().unwrap()]));
    commit(&dir, "2026-01-02T10:00:00Z", "b", "Second");
    output_ok(ws.doralens(&["ingest", "git", dir.to_str().unwrap()]));
    let shown = std::path::absolute(&dir).unwrap().display().to_string();
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT _source, _scope, _origin FROM commits"),
        format!("_source,_scope,_origin\ngit,git:{shown},git repository {shown}\n")
    );
    // Each commit names the run that wrote it: the second run wrote one.
    assert_eq!(
        ws.sql_csv(
            "SELECT s.source, s.outcome, count(*) AS n FROM commits c JOIN syncs s \
             ON c._sync = s.id GROUP BY s.id, s.source, s.outcome ORDER BY s.id"
        ),
        "source,outcome,n\ngit,ok,1\ngit,ok,1\n"
    );
    let runs = ws.sql_csv(
        "SELECT cursor_before IS NULL AS first, cursor_after IS NOT NULL AS wrote, \
         array_to_string(scopes, ';') AS scopes FROM syncs ORDER BY id",
    );
    assert_eq!(
        runs,
        format!("first,wrote,scopes\ntrue,true,git:{shown}\nfalse,true,git:{shown}\n")
    );
    // The cursor the first run wrote is the one the second replaced.
    assert_eq!(
        ws.sql_csv(
            "SELECT count(*) AS n FROM syncs a JOIN syncs b ON a.cursor_after = b.cursor_before"
        ),
        "n\n1\n"
    );
    let text = stdout(output_ok(ws.doralens(&["sql", "SELECT sha FROM commits"])));
    assert!(text.contains(&c1), "{text}");
}

#[test]
fn a_failed_forge_sync_is_recorded_and_explain_names_the_requests() {
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
    let syncs = ws.sql_csv("SELECT source, outcome, message FROM syncs");
    let lines: Vec<&str> = syncs.lines().collect();
    assert_eq!(lines.len(), 2, "{syncs}");
    assert!(lines[1].starts_with("github,failed,"), "{syncs}");
    assert!(lines[1].contains("gave up after 6 attempts"), "{syncs}");
    // What was kept (commits and changes of acme/api, acme/web whole)
    // names the failed run, its repository and the requests it came from.
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT _source, _scope FROM commits ORDER BY _scope"),
        "_source,_scope\ngithub,github:acme/api\ngithub,github:acme/web\n"
    );
    let number = ws
        .sql_csv("SELECT min(number) AS n FROM changes WHERE repo = 'acme/api'")
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let text = stdout(output_ok(ws.doralens(&[
        "explain",
        "change",
        &format!("acme/api#{number}"),
    ])));
    assert!(
        text.contains(&format!("change acme/api#{number}: ")),
        "{text}"
    );
    assert!(
        text.contains("Provenance: github github:acme/api, fetched "),
        "{text}"
    );
    assert!(
        text.contains("  from: ") && text.contains("acme/api"),
        "{text}"
    );
    assert!(text.contains(", failed: "), "{text}");
    assert!(text.contains("Holds "), "{text}");
    // Resuming is a second, successful run.
    gh.clear_faults();
    output_ok(github(&ws, &gh, &["acme/api", "acme/web"]));
    assert_eq!(
        ws.sql_csv("SELECT source, outcome FROM syncs ORDER BY id"),
        "source,outcome\ngithub,failed\ngithub,ok\n"
    );
}

#[test]
fn generated_rows_and_an_incident_say_where_they_came_from() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&["generate", "--days", "30"]));
    let id = ws
        .sql_csv("SELECT min(id) AS id FROM incidents")
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let text = stdout(output_ok(ws.doralens(&["explain", "incident", &id])));
    assert!(
        text.contains("Provenance: generate generate:seed "),
        "{text}"
    );
    assert!(text.contains("  run: generate from "), "{text}");
    for table in ["commits", "changes", "deployments", "incidents"] {
        assert_eq!(
            ws.sql_csv(&format!(
                "SELECT count(*) AS missing FROM {table} WHERE _sync IS NULL OR _source IS NULL"
            )),
            "missing\n0\n",
            "{table}"
        );
    }
}
