//! Golden scenarios: `fixtures/scenarios/<name>/` holds table files (named
//! after their table), and cases: `<case>.args` (arguments to `metrics`) or
//! `<case>.sql` (a query for `sql`), each with `<case>.expected.csv`,
//! hand-checked in the scenario's README. Numbers compare with a relative
//! tolerance of 1e-9; everything else exactly.

use std::path::{Path, PathBuf};

use crate::util::{Workspace, output_ok, repo_root};

pub fn scenarios() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("fixtures/scenarios"))
        .expect("fixtures/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    v.sort();
    v
}

/// Every canonical table, in an order that imports cleanly.
pub const TABLES: [&str; 13] = [
    "teams",
    "commits",
    "changes",
    "change_commits",
    "reviews",
    "deployments",
    "incidents",
    "rollbacks",
    "deployment_approvals",
    "change_files",
    "flags",
    "flag_events",
    "flag_references",
];

/// Imports every table file of a scenario into the workspace's warehouse.
pub fn load_scenario(ws: &Workspace, dir: &Path) {
    for table in TABLES {
        for ext in ["csv", "ndjson", "jsonl"] {
            let file = dir.join(format!("{table}.{ext}"));
            if file.exists() {
                ws.doralens(&["import", table, file.to_str().unwrap()])
                    .assert()
                    .success();
            }
        }
    }
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn cells_equal(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

/// Compares CSV output with a golden file. The golden file checks the
/// columns it names, which must be the output's leading columns in order:
/// cases written before the interval columns existed keep checking what
/// they hand-checked, and cases that name the intervals check them too.
pub fn assert_csv_matches(actual: &str, expected: &str, context: &str) {
    let (mut a, e) = (parse_csv(actual), parse_csv(expected));
    let width = e.first().map_or(0, |h| h.len());
    let prefix_ok = a
        .first()
        .is_some_and(|h| h.len() >= width && h[..width] == e[0][..]);
    assert!(
        prefix_ok,
        "{context}: header differs\nactual:\n{actual}\nexpected:\n{expected}"
    );
    for row in &mut a {
        row.truncate(width);
    }
    assert_eq!(
        a.len(),
        e.len(),
        "{context}: row count differs\nactual:\n{actual}\nexpected:\n{expected}"
    );
    for (i, (ra, re)) in a.iter().zip(&e).enumerate().skip(1) {
        assert_eq!(ra.len(), re.len(), "{context}: row {i} width");
        for (j, (ca, ce)) in ra.iter().zip(re).enumerate() {
            assert!(
                cells_equal(ca, ce),
                "{context}: row {i}, column `{}`: got `{ca}`, expected `{ce}`\nactual:\n{actual}",
                e[0][j]
            );
        }
    }
}

pub fn run_case(ws: &Workspace, case: &Path) -> String {
    let stem = case.file_stem().unwrap().to_str().unwrap();
    let out = if case.extension().unwrap() == "sql" {
        // A first line `-- args: ...` gives options (e.g. the window).
        let text = std::fs::read_to_string(case).unwrap();
        let extra: Vec<&str> = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-- args:"))
            .map(|a| a.split_whitespace().collect())
            .unwrap_or_default();
        let mut args = vec!["sql", "-f", case.to_str().unwrap(), "--format", "csv"];
        args.extend(extra);
        ws.doralens(&args).output().unwrap()
    } else {
        let args = std::fs::read_to_string(case).unwrap();
        let mut all: Vec<&str> = vec!["metrics"];
        all.extend(args.split_whitespace());
        all.extend(["--format", "csv"]);
        ws.doralens(&all).output().unwrap()
    };
    assert!(
        out.status.success(),
        "{stem}: failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn golden_scenarios() {
    let cases = check_golden_scenarios(Workspace::new);
    assert!(cases >= 15, "only {cases} golden cases ran");
}

/// Loads every golden scenario into a workspace `fresh` makes and checks
/// each of its cases; returns how many ran.
pub fn check_golden_scenarios(fresh: impl Fn() -> Workspace) -> usize {
    let mut cases = 0;
    for dir in scenarios() {
        let ws = fresh();
        load_scenario(&ws, &dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut inputs = files_with_ext(&dir, "args");
        inputs.extend(files_with_ext(&dir, "sql"));
        assert!(!inputs.is_empty(), "{name} has no cases");
        for case in inputs {
            let stem = case.file_stem().unwrap().to_str().unwrap().to_string();
            let expected = std::fs::read_to_string(dir.join(format!("{stem}.expected.csv")))
                .unwrap_or_else(|_| panic!("{name}/{stem}.expected.csv missing"));
            let actual = run_case(&ws, &case);
            assert_csv_matches(&actual, &expected, &format!("{name}/{stem}"));
            cases += 1;
        }
    }
    cases
}

#[test]
fn unknown_sha_is_a_warning_and_still_a_deployment() {
    let ws = Workspace::new();
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/merges_redeploy"));
    let out = output_ok(ws.doralens(&[
        "metrics",
        "--from",
        "2026-01-08",
        "--to",
        "2026-01-09",
        "--format",
        "json",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 production deployment(s) name a sha"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // d6 and d7 (unknown sha) both count.
    assert_eq!(json[0]["deployments"], 2);
}
