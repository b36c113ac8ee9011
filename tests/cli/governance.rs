//! Release governance through the CLI (docs/metrics.md section 8): the
//! bot rule from doralens.toml and `--bot-logins`, `explain change` and
//! `explain deployment` on the `four_eyes` scenario (its README checks
//! every number), re-imports replacing a dismissed approval, and the
//! weekly report's section.

use crate::scenarios::{assert_csv_matches, load_scenario};
use crate::util::{Workspace, output_ok, repo_root};

fn scenario() -> Workspace {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/four_eyes"));
    ws
}

fn stdout(ws: &Workspace, args: &[&str]) -> String {
    String::from_utf8(output_ok(ws.doralens(args)).stdout).unwrap()
}

const WINDOW: [&str; 4] = ["--from", "2026-03-01", "--to", "2026-03-08"];

fn metrics_csv(ws: &Workspace, extra: &[&str]) -> String {
    let mut args = vec!["metrics"];
    args.extend(WINDOW);
    args.extend(extra);
    args.extend(["--format", "csv"]);
    stdout(ws, &args)
}

fn expected(case: &str) -> String {
    std::fs::read_to_string(
        repo_root().join(format!("fixtures/scenarios/four_eyes/{case}.expected.csv")),
    )
    .unwrap()
}

#[test]
fn the_bot_rule_comes_from_doralens_toml_and_the_flag_overrides_it() {
    let ws = scenario();
    ws.write("doralens.toml", "[bots]\nlogins = [\"*[bot]\", \"ci-*\"]\n");
    assert_csv_matches(&metrics_csv(&ws, &[]), &expected("ci_bots"), "toml");
    // The flag wins over the file.
    assert_csv_matches(
        &metrics_csv(&ws, &["--bot-logins", "*[bot]"]),
        &expected("organisation"),
        "flag",
    );
    // No bots at all: dependabot's approval of r#5 counts too (5 of 11).
    let none = metrics_csv(&ws, &["--bot-logins", ""]);
    let rows: Vec<Vec<&str>> = none.lines().map(|l| l.split(',').collect()).collect();
    let at = rows[0]
        .iter()
        .position(|c| *c == "four_eyes_changes")
        .unwrap();
    assert_eq!(rows[1][at], "5", "{none}");
    // A bad file is an error naming it.
    ws.write("doralens.toml", "[bots]\nlogin = [\"x\"]\n");
    let out = ws.doralens(&["metrics"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("doralens.toml"));
}

#[test]
fn explain_change_judges_each_review() {
    let ws = scenario();
    let text = stdout(&ws, &["explain", "change", "r#3"]);
    for needle in [
        "change r#3: Cache headers (by dan)",
        "3 review(s):",
        "bob APPROVED  does not count: dismissed",
        "eve COMMENTED  not an approval",
        "Four-eyes: NO, no second pair of eyes (review dismissed).",
        "First review by someone else: 2026-03-03T09:30:00Z (30m after opening).",
        "Reached production with D3 (api",
    ] {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    let text = stdout(&ws, &["explain", "change", "r#5"]);
    assert!(
        text.contains("dependabot[bot] is a bot (bot logins: *[bot])"),
        "{text}"
    );
    let text = stdout(&ws, &["explain", "change", "r#6"]);
    assert!(
        text.contains("Four-eyes: yes (last approval 2026-03-04T11:00:00Z, 1h before the merge)."),
        "{text}"
    );
    let text = stdout(&ws, &["explain", "change", "w#10"]);
    assert!(text.contains("Not in production yet"), "{text}");
    // Bad or unknown ids are user errors.
    let out = ws.doralens(&["explain", "change", "r-1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<repo>#<number>"));
    let out = ws
        .doralens(&["explain", "change", "r#99"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_deployment_marks_changes_without_four_eyes() {
    let ws = scenario();
    let text = stdout(&ws, &["explain", "deployment", "D2"]);
    assert!(
        text.contains(
            "First brought 2 merged change(s) to production, 1 without a second pair of eyes:"
        ),
        "{text}"
    );
    assert!(text.contains("r#1  four-eyes  Add search"), "{text}");
    assert!(
        text.contains("r#2  WITHOUT a second pair of eyes (approved only by its author)  Fix typo"),
        "{text}"
    );
}

#[test]
fn a_resynced_dismissal_replaces_the_approval_it_was() {
    // GitHub keeps a dismissed review's time and changes its state: the
    // second import of the same review (same key) replaces the approval.
    let ws = scenario();
    let verdict = |ws: &Workspace| {
        ws.sql_csv("SELECT four_eyes FROM change_reviews WHERE repo = 'r' AND number = 1")
    };
    assert_eq!(verdict(&ws), "four_eyes\ntrue\n");
    let again = ws.write(
        "again.csv",
        "repo,number,reviewer,state,submitted_at\nr,1,cat,dismissed,2026-03-02T13:00:00Z\n",
    );
    output_ok(ws.doralens(&["import", "reviews", again.to_str().unwrap()]));
    assert_eq!(verdict(&ws), "four_eyes\nfalse\n");
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM reviews"),
        "n\n18\n",
        "replaced, not added"
    );
}
