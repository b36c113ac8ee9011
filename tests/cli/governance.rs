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

/// The weekly report of the scenario's week (2026-W10, 03-02 to 03-08):
/// (report.md, report.html).
fn weekly_report(ws: &Workspace) -> (String, String) {
    let out = ws.path("report");
    output_ok(ws.doralens(&[
        "report",
        "--week",
        "2026-W10",
        "--out",
        out.to_str().unwrap(),
    ]));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    (read("report.md"), read("report.html"))
}

#[test]
fn the_weekly_report_has_a_release_governance_section() {
    let ws = scenario();
    let (md, html) = weekly_report(&ws);
    // The numbers are the README's (organisation, by team): 30 min = 1 800
    // s, 1.7 h = 6 120 s, core's approval p90 1.9 h = 6 840 s, front's
    // first review p90 56 min = 3 360 s. No earlier week: no trends.
    let start = md
        .find("## Release governance")
        .expect("no governance section");
    let end = md[start..].find("## Data quality").unwrap() + start;
    let section = &md[start..end];
    for row in [
        "| Changes that reached production | 11 | – | – |",
        "| Changes with a second pair of eyes | 4 | – | – |",
        "| Four-eyes share | 36.4% | – | – |",
        "| Time to first review (median) | 30 min |",
        "| Time to first review (90th percentile) | 1.0 h |",
        "| Approval to merge (median) | 50 min |",
        "| Approval to merge (90th percentile) | 1.7 h |",
        "| core | 9 | 2 | 22.2% | 30 min | 1.0 h | 1.5 h | 1.9 h |",
        "| front | 2 | 2 | 100.0% | 40 min | 56 min | 35 min | 39 min |",
    ] {
        assert!(section.contains(row), "{row} not in\n{section}");
    }
    // The audit table: the 7 production changes that are not four-eyes,
    // newest deployment first, each with its reason.
    let audit = &section[section.find("## Production changes without").unwrap()..];
    let rows: Vec<&str> = audit.lines().filter(|l| l.starts_with("| r#")).collect();
    assert_eq!(
        rows,
        [
            "| r#7 Imported change | – | 2026-03-05 10:00 | D5 (2026-03-05 12:00) | author unknown |",
            "| r#8 Docs | fay | 2026-03-05 11:00 | D5 (2026-03-05 12:00) | reviewed, not approved |",
            "| r#12 Config loader | ann | 2026-03-05 11:30 | D5 (2026-03-05 12:00) | no review |",
            "| r#5 Bump serde | bob | 2026-03-04 10:00 | D4 (2026-03-04 14:00) | approved only by a bot |",
            "| r#3 Cache headers | dan | 2026-03-03 12:00 | D3 (2026-03-03 15:00) | review dismissed |",
            "| r#4 Hotfix login | eve | 2026-03-03 11:00 | D3 (2026-03-03 15:00) | approved only after the merge |",
            "| r#2 Fix typo | cat | 2026-03-02 16:00 | D2 (2026-03-02 18:00) | approved only by its author |",
        ]
    );

    // The HTML carries the same section, cell for cell.
    let start = html
        .find("<h2>Release governance</h2>")
        .expect("no section");
    let end = html[start..].find("<h2>Data quality</h2>").unwrap() + start;
    let section = &html[start..end];
    for cell in [
        r#"<td data-label="metric">Four-eyes share</td><td data-label="this week">36.4%</td>"#,
        r#"<td data-label="metric">Approval to merge (90th percentile)</td><td data-label="this week">1.7 h</td>"#,
        r#"<td data-label="team">core</td><td data-label="Prod changes">9</td><td data-label="Four-eyes">2</td><td data-label="Four-eyes %">22.2%</td>"#,
        r#"<td data-label="team">front</td><td data-label="Prod changes">2</td><td data-label="Four-eyes">2</td><td data-label="Four-eyes %">100.0%</td>"#,
        "<h2>Production changes without a second pair of eyes</h2>",
        r#"<td data-label="change">r#5 Bump serde</td><td data-label="author">bob</td><td data-label="merged">2026-03-04 10:00</td><td data-label="deployment">D4 (2026-03-04 14:00)</td><td data-label="why">approved only by a bot</td>"#,
        r#"<td data-label="change">r#2 Fix typo</td><td data-label="author">cat</td>"#,
        r#"<td data-label="why">approved only by its author</td>"#,
        r#"<td data-label="why">review dismissed</td>"#,
        r#"<td data-label="why">approved only after the merge</td>"#,
    ] {
        assert!(section.contains(cell), "{cell} not in\n{section}");
    }
    assert_eq!(section.matches(r#"<td data-label="why">"#).count(), 7);
}
