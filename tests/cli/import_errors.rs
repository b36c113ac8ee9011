//! Every bad-input case of `doralens import`: the error names file, line,
//! column and the expected form; the exit code is 2; the warehouse is
//! unchanged afterwards.

use crate::util::Workspace;

const GOOD_DEPLOYMENTS: &str = "id,repo,service,environment,sha,status,finished_at\n\
    d1,r,api,production,a,success,2026-01-02T00:00:00Z\n";

/// Imports a good file, then a bad one; checks the message and that the
/// warehouse still has exactly the good row.
fn rejects(table: &str, file_name: &str, content: &str, expected: &[&str]) {
    let ws = Workspace::new();
    let good = ws.write("good.csv", GOOD_DEPLOYMENTS);
    ws.doralens(&["import", "deployments", good.to_str().unwrap()])
        .assert()
        .success();
    let manifest_before = std::fs::read(ws.warehouse().join("deployments/_manifest.json")).unwrap();

    let bad = ws.write(file_name, content);
    let out = ws
        .doralens(&["import", table, bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{file_name}: exit code");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in expected {
        assert!(
            stderr.contains(needle),
            "{file_name}: `{needle}` not in:\n{stderr}"
        );
    }
    let manifest_after = std::fs::read(ws.warehouse().join("deployments/_manifest.json")).unwrap();
    assert_eq!(
        manifest_before, manifest_after,
        "{file_name}: warehouse changed"
    );
    let count = ws
        .doralens(&[
            "sql",
            "SELECT count(*) AS n FROM deployments",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout), "n\n1\n");
}

#[test]
fn unknown_column() {
    rejects(
        "deployments",
        "unknown.csv",
        "id,repo,service,environment,sha,status,finished_at,colour\nd2,r,api,production,a,success,2026-01-02T00:00:00Z,red\n",
        &[
            "unknown.csv:1: column `colour`",
            "unknown column",
            "expected columns: id, repo",
        ],
    );
}

#[test]
fn missing_required_column() {
    rejects(
        "deployments",
        "missing.csv",
        "id,repo,service,environment,sha,status\nd2,r,api,production,a,success\n",
        &[
            "missing.csv:1: column `finished_at`",
            "required column is missing",
        ],
    );
}

#[test]
fn unparsable_timestamp() {
    rejects(
        "deployments",
        "badtime.csv",
        "id,repo,service,environment,sha,status,finished_at\nd2,r,api,production,a,success,2026-01-02T00:00:00Z\nd3,r,api,production,a,success,yesterday\n",
        &[
            "badtime.csv:3: column `finished_at`",
            "`yesterday`",
            "RFC 3339",
        ],
    );
}

#[test]
fn bad_status() {
    rejects(
        "deployments",
        "badstatus.csv",
        "id,repo,service,environment,sha,status,finished_at\nd2,r,api,production,a,done,2026-01-02T00:00:00Z\n",
        &[
            "badstatus.csv:2: column `status`",
            "bad status `done`",
            "success, failure, error, cancelled",
        ],
    );
}

#[test]
fn bad_approval_state() {
    rejects(
        "deployment_approvals",
        "approvals.csv",
        "deployment_id,approver,state\nd1,ann,approved\nd1,bob,maybe\n",
        &[
            "approvals.csv:3: column `state`",
            "bad state `maybe`",
            "approved, rejected",
        ],
    );
}

#[test]
fn bad_line_count() {
    rejects(
        "change_files",
        "files.csv",
        "repo,number,path,additions,deletions\nr,1,a.rs,x,1\n",
        &["files.csv:2: column `additions`", "`x`", "whole number"],
    );
}

#[test]
fn duplicate_key_within_a_file() {
    rejects(
        "deployments",
        "dup.csv",
        "id,repo,service,environment,sha,status,finished_at\nd2,r,api,production,a,success,2026-01-02T00:00:00Z\nd2,r,api,production,b,success,2026-01-03T00:00:00Z\n",
        &["dup.csv:3: column `id`", "duplicate key: line 2"],
    );
}

#[test]
fn duplicate_composite_key_in_ndjson() {
    rejects(
        "commits",
        "dup.ndjson",
        "{\"repo\":\"r\",\"sha\":\"a\",\"parents\":[],\"authored_at\":\"2026-01-01T00:00:00Z\"}\n\
         {\"repo\":\"r\",\"sha\":\"a\",\"parents\":[],\"authored_at\":\"2026-01-02T00:00:00Z\"}\n",
        &["dup.ndjson:2: column `repo, sha`", "duplicate key: line 1"],
    );
}

#[test]
fn ndjson_errors_name_the_line() {
    rejects(
        "deployments",
        "bad.ndjson",
        "{\"id\":\"d2\",\"repo\":\"r\",\"service\":\"api\",\"environment\":\"production\",\"sha\":\"a\",\"status\":\"success\",\"finished_at\":\"2026-01-02T00:00:00Z\"}\n\
         {\"id\":\"d3\",\"repo\":\"r\",\"service\":\"api\",\"environment\":\"production\",\"sha\":\"a\",\"status\":\"success\",\"finished_at\":17}\n",
        &["bad.ndjson:2: column `finished_at`", "cannot parse `17`"],
    );
}

#[test]
fn invalid_json_line() {
    rejects(
        "deployments",
        "broken.jsonl",
        "{\"id\": \n",
        &["broken.jsonl:1", "invalid JSON"],
    );
}

#[test]
fn missing_required_value() {
    rejects(
        "deployments",
        "empty_sha.csv",
        "id,repo,service,environment,sha,status,finished_at\nd2,r,api,production,,success,2026-01-02T00:00:00Z\n",
        &["empty_sha.csv:2: column `sha`", "value is required"],
    );
}

#[test]
fn bad_integer() {
    rejects(
        "changes",
        "changes.csv",
        "repo,number,created_at,labels\nr,seven,2026-01-01T00:00:00Z,\n",
        &[
            "changes.csv:2: column `number`",
            "`seven` is not a whole number",
        ],
    );
}

#[test]
fn ragged_csv_row() {
    rejects(
        "deployments",
        "ragged.csv",
        "id,repo,service,environment,sha,status,finished_at\nd2,r,api,production,a,success\n",
        &["ragged.csv:2", "fields but the header has 7"],
    );
}

#[test]
fn unknown_extension_and_table() {
    rejects(
        "deployments",
        "data.txt",
        "x",
        &["data.txt", "name it .csv, .ndjson or .jsonl"],
    );
    rejects(
        "widgets",
        "w.csv",
        "a\n1\n",
        &["unknown table `widgets`", "commits, changes"],
    );
}

#[test]
fn a_bad_second_file_rejects_the_whole_import() {
    let ws = Workspace::new();
    let good = ws.write("good.csv", GOOD_DEPLOYMENTS);
    let bad = ws.write("bad.csv", "id,repo\nx,y\n");
    let out = ws
        .doralens(&[
            "import",
            "deployments",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!ws.warehouse().join("deployments/_manifest.json").exists());
}

#[test]
fn bad_review_state() {
    rejects(
        "reviews",
        "reviews.csv",
        "repo,number,reviewer,state,submitted_at\nr,1,ann,APPROVED,2026-01-02T00:00:00Z\nr,1,bob,LGTM,2026-01-02T01:00:00Z\n",
        &[
            "reviews.csv:3: column `state`",
            "bad review state",
            "APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED",
        ],
    );
}

#[test]
fn duplicate_review_key() {
    // The key is (repo, number, reviewer, submitted_at): the same review
    // twice in one file, whatever its state, is a mistake.
    rejects(
        "reviews",
        "twice.csv",
        "repo,number,reviewer,state,submitted_at\nr,1,ann,APPROVED,2026-01-02T00:00:00Z\nr,1,ann,DISMISSED,2026-01-02T01:00:00+01:00\n",
        &["twice.csv:3", "duplicate key: line 2"],
    );
}
