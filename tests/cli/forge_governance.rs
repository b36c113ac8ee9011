//! Release governance from the forges (docs/metrics.md section 9): who
//! triggered a deployment, its environment approvals, and each merged
//! change's files with their line counts (fixtures/github/README.md,
//! "governance").

use crate::forges::{github, gitlab};
use crate::mock_forge::{Flavour, MockForge};
use crate::util::{Workspace, output_ok};

const FLAGS: [&str; 4] = ["acme/api", "--deploy-workflow", "^Deploy", "--governance"];

#[test]
fn github_approvals_triggerers_and_pull_files_are_stored() {
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    output_ok(github(&ws, &gh, &FLAGS));
    assert_eq!(
        ws.sql_csv(
            "SELECT id, triggered_by FROM deployments \
             WHERE id IN ('acme/api/deployments/105', 'acme/api/actions/runs/9001') ORDER BY id"
        ),
        "id,triggered_by\n\
         acme/api/actions/runs/9001,deploy-bot\n\
         acme/api/deployments/105,deploy-bot\n"
    );
    assert_eq!(
        ws.sql_csv(
            "SELECT deployment_id, approver, state, requested_at, decided_at, comment \
             FROM deployment_approvals ORDER BY deployment_id"
        ),
        "deployment_id,approver,state,requested_at,decided_at,comment\n\
         acme/api/actions/runs/9001,bob,approved,,,Ship it!\n\
         acme/api/actions/runs/9002,carol,rejected,,,Not during the freeze\n"
    );
    assert_eq!(
        ws.sql_csv(
            "SELECT number, path, additions, deletions FROM change_files ORDER BY number, path"
        ),
        "number,path,additions,deletions\n\
         1,Cargo.lock,40,10\n\
         1,src/search.rs,120,30\n\
         2,src/api.rs,300,200\n\
         3,Cargo.lock,8,8\n"
    );
    // The open pull request #4 has no files read.
    assert!(
        gh.requests()
            .iter()
            .all(|r| r.path != "/repos/acme/api/pulls/4/files")
    );
    let out = output_ok(ws.doralens(&[
        "metrics",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-08",
        "--format",
        "csv",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()].to_string();
    // fixtures/github/README.md, "governance": 6 successful production
    // deployments, one approved by someone other than its triggerer.
    assert_eq!(get("deployments"), "6", "{text}");
    assert_eq!(get("approved_deployments"), "1", "{text}");
    assert_eq!(get("self_approved_deployments"), "0", "{text}");
    assert_eq!(get("approval_wait_p50_s"), "", "{text}");
    // Lines [0 (#3, a lock file only), 150 (#1 without Cargo.lock), 500].
    assert_eq!(get("sized_changes"), "3", "{text}");
    assert_eq!(get("change_lines_p50"), "150.0", "{text}");
    assert_eq!(get("change_lines_p90"), "430.0", "{text}");
    assert_eq!(get("large_changes"), "1", "{text}");
}

#[test]
fn without_governance_no_approvals_or_files_are_read() {
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    output_ok(github(&ws, &gh, &FLAGS[..3]));
    assert!(
        gh.requests()
            .iter()
            .all(|r| !r.path.ends_with("/approvals") && !r.path.ends_with("/files")),
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployment_approvals"),
        "n\n0\n"
    );
}

#[test]
fn gitlab_approvals_and_merge_request_diffs_are_stored() {
    let gl = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    output_ok(gitlab(&ws, &gl, &["acme/billing", "--governance"]));
    assert_eq!(
        ws.sql_csv(
            "SELECT deployment_id, approver, state, requested_at, decided_at, comment \
             FROM deployment_approvals ORDER BY deployment_id, decided_at"
        ),
        "deployment_id,approver,state,requested_at,decided_at,comment\n\
         acme/billing/deployments/1,erin,approved,2026-11-01T10:00:00Z,2026-11-01T10:00:30Z,routine\n\
         acme/billing/deployments/3,frank,rejected,2026-11-03T17:00:00Z,2026-11-03T17:05:00Z,tests still red\n\
         acme/billing/deployments/3,gina,approved,2026-11-03T17:00:00Z,2026-11-03T17:20:00Z,\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT triggered_by FROM deployments"),
        "triggered_by\nerin\n"
    );
    assert_eq!(
        ws.sql_csv(
            "SELECT number, path, additions, deletions FROM change_files ORDER BY number, path"
        ),
        "number,path,additions,deletions\n\
         7,Gemfile.lock,1,1\n\
         7,app/billing.rb,2,1\n"
    );
    // Only the production deployments' details are read.
    assert!(
        gl.requests()
            .iter()
            .all(|r| !r.path.ends_with("/deployments/4004"))
    );
    let out = output_ok(ws.doralens(&[
        "metrics",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-08",
        "--format",
        "csv",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    println!("{text}");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let get = |name: &str| row[header.iter().position(|h| *h == name).unwrap()].to_string();
    // fixtures/github/README.md, "acme/billing: governance".
    assert_eq!(get("approved_deployments"), "1", "{text}");
    assert_eq!(get("self_approved_deployments"), "1", "{text}");
    assert_eq!(get("approval_wait_p50_s"), "615.0", "{text}");
    assert_eq!(get("approval_wait_p90_s"), "1083.0", "{text}");
    assert_eq!(get("change_lines_p50"), "3.0", "{text}");
}
