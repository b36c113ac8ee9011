//! `ingest flag-references` against repositories each test builds with the
//! `git` binary (fixed dates, so the expected rows are exact).

use std::path::Path;

use crate::git::{git_at, new_repo};
use crate::util::{Workspace, output_ok};

/// Writes the files (an empty content deletes the file) and commits them.
fn commit_files(dir: &Path, date: &str, files: &[(&str, &str)], message: &str) -> String {
    for (file, content) in files {
        let path = dir.join(file);
        if content.is_empty() {
            let _ = std::fs::remove_file(&path);
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
    }
    git_at(dir, date, &["add", "-A"]);
    git_at(dir, date, &["commit", "-q", "-m", message]);
    git_at(dir, date, &["rev-parse", "HEAD"])
}

fn import_flags(ws: &Workspace, keys: &[&str]) {
    let mut csv = String::from("key,project,kind\n");
    for k in keys {
        csv.push_str(&format!("{k},shop,release\n"));
    }
    let file = ws.write("flags.csv", &csv);
    output_ok(ws.doralens(&["import", "flags", file.to_str().unwrap()]));
}

fn stderr_of(ws: &Workspace, args: &[&str]) -> String {
    String::from_utf8_lossy(&output_ok(ws.doralens(args)).stderr).to_string()
}

const ROWS: &str = "SELECT flag_key, first_sha, first_at, removed_sha, removed_at, \
                    tip_references FROM flag_references ORDER BY flag_key";

#[test]
fn references_are_found_removed_renamed_and_rescanned_incrementally() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "shop");
    // A file no pattern matches, then the JavaScript call.
    let c0 = commit_files(
        &dir,
        "2026-01-01T09:00:00Z",
        &[("README", "shop\n")],
        "Start",
    );
    let c1 = commit_files(
        &dir,
        "2026-01-01T10:00:00Z",
        &[(
            "web/app.js",
            "if (isEnabled(\"new-checkout\")) {\n  show();\n}\n",
        )],
        "Checkout behind a flag",
    );
    // The Python constant, and a banner flag as a string literal; a
    // binary file naming the flag does not count.
    let c2 = commit_files(
        &dir,
        "2026-01-02T10:00:00Z",
        &[
            (
                "api/flags.py",
                "if flags.NEW_CHECKOUT:\n    pass\nBANNER = 'old-banner'\n",
            ),
            ("api/logo.bin", "\"new-checkout\"\0\u{1}"),
        ],
        "Server side",
    );
    // The JavaScript reference goes: one is left.
    let c3 = commit_files(
        &dir,
        "2026-01-03T10:00:00Z",
        &[("web/app.js", "show();\n")],
        "Checkout for everyone (web)",
    );
    // The last reference goes; old-banner is renamed new-banner.
    let c4 = commit_files(
        &dir,
        "2026-01-04T10:00:00Z",
        &[("api/flags.py", "BANNER = \"new-banner\"\n")],
        "Checkout for everyone (api), banner renamed",
    );
    import_flags(&ws, &["new-checkout", "old-banner", "never-used"]);
    let repo = dir.to_str().unwrap();
    let stderr = stderr_of(
        &ws,
        &["ingest", "flag-references", repo, "--flag", "new-banner"],
    );
    assert!(
        stderr.contains("shop: 5 commits scanned, 4 flag keys (3 referenced), 3 rows written"),
        "{stderr}"
    );
    let _ = (c0, c3);
    assert_eq!(
        ws.sql_csv(ROWS),
        format!(
            "flag_key,first_sha,first_at,removed_sha,removed_at,tip_references\n\
             new-banner,{c4},2026-01-04T10:00:00Z,,,1\n\
             new-checkout,{c1},2026-01-01T10:00:00Z,{c4},2026-01-04T10:00:00Z,0\n\
             old-banner,{c2},2026-01-02T10:00:00Z,{c4},2026-01-04T10:00:00Z,0\n"
        )
    );
    // Provenance: one syncs row of the source.
    assert_eq!(
        ws.sql_csv("SELECT source, outcome FROM syncs WHERE source = 'flag-references'"),
        "source,outcome\nflag-references,ok\n"
    );

    // Incremental: one new commit references new-checkout again (single
    // quotes): its removal is cleared, its first commit stays, and only
    // its row is written.
    let c5 = commit_files(
        &dir,
        "2026-01-05T10:00:00Z",
        &[("web/app.js", "if (isEnabled('new-checkout')) show();\n")],
        "Checkout back behind the flag",
    );
    let stderr = stderr_of(
        &ws,
        &["ingest", "flag-references", repo, "--flag", "new-banner"],
    );
    assert!(
        stderr.contains("shop: 1 new commits scanned, 4 flag keys (3 referenced), 1 rows written"),
        "{stderr}"
    );
    assert!(!stderr.contains("rescanning"), "{stderr}");
    let rows = ws.sql_csv(ROWS);
    assert!(
        rows.contains(&format!("new-checkout,{c1},2026-01-01T10:00:00Z,,,1\n")),
        "{rows}"
    );
    // Nothing new: nothing scanned, nothing written.
    let stderr = stderr_of(
        &ws,
        &["ingest", "flag-references", repo, "--flag", "new-banner"],
    );
    assert!(
        stderr.contains("shop: 0 new commits scanned, 4 flag keys (3 referenced), 0 rows written"),
        "{stderr}"
    );

    // A key new since the last run: the whole history again, and the rows
    // that did not change are not rewritten.
    let stderr = stderr_of(
        &ws,
        &[
            "ingest",
            "flag-references",
            repo,
            "--flag",
            "new-banner",
            "--flag",
            "later-flag",
        ],
    );
    assert!(
        stderr.contains("rescanning the whole history: flag key `later-flag` is new")
            && stderr
                .contains("shop: 6 commits scanned, 5 flag keys (3 referenced), 0 rows written"),
        "{stderr}"
    );

    // A force push: the stored tip is gone from the branch, so everything
    // is scanned again; the new last commit removes new-checkout again.
    git_at(
        &dir,
        "2026-01-06T10:00:00Z",
        &["reset", "-q", "--hard", &c4],
    );
    let c6 = commit_files(
        &dir,
        "2026-01-06T10:00:00Z",
        &[("docs/notes.md", "nothing about flags\n")],
        "Notes",
    );
    let stderr = stderr_of(
        &ws,
        &[
            "ingest",
            "flag-references",
            repo,
            "--flag",
            "new-banner",
            "--flag",
            "later-flag",
        ],
    );
    assert!(
        stderr.contains("is no longer on the branch's first-parent line")
            && stderr
                .contains("shop: 6 commits scanned, 5 flag keys (3 referenced), 1 rows written"),
        "{stderr}"
    );
    let _ = (c5, c6);
    assert!(
        ws.sql_csv(ROWS).contains(&format!(
            "new-checkout,{c1},2026-01-01T10:00:00Z,{c4},2026-01-04T10:00:00Z,0\n"
        )),
        "{}",
        ws.sql_csv(ROWS)
    );
}

#[test]
fn a_merge_brings_references_onto_the_branch_as_one_commit() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "api");
    commit_files(
        &dir,
        "2026-02-01T10:00:00Z",
        &[("a.go", "package a\n")],
        "A",
    );
    git_at(
        &dir,
        "2026-02-01T11:00:00Z",
        &["checkout", "-q", "-b", "feature"],
    );
    commit_files(
        &dir,
        "2026-02-01T12:00:00Z",
        &[("b.go", "var on = client.Bool(\"dark-mode\")\n")],
        "Dark mode",
    );
    git_at(&dir, "2026-02-02T10:00:00Z", &["checkout", "-q", "main"]);
    commit_files(
        &dir,
        "2026-02-02T10:00:00Z",
        &[("c.go", "package c\n")],
        "C",
    );
    git_at(
        &dir,
        "2026-02-03T10:00:00Z",
        &["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"],
    );
    let merge = git_at(&dir, "2026-02-03T10:00:00Z", &["rev-parse", "HEAD"]);
    let stderr = stderr_of(
        &ws,
        &[
            "ingest",
            "flag-references",
            dir.to_str().unwrap(),
            "--flag",
            "dark-mode",
        ],
    );
    assert!(stderr.contains("api: 3 commits scanned"), "{stderr}");
    assert_eq!(
        ws.sql_csv("SELECT repo, flag_key, first_sha, first_at FROM flag_references"),
        format!("repo,flag_key,first_sha,first_at\napi,dark-mode,{merge},2026-02-03T10:00:00Z\n")
    );
}

#[test]
fn custom_patterns_from_the_config_file_under_plain_ingest() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "web");
    // Only the Python call counts: the defaults are off and the pattern
    // applies to *.py files.
    commit_files(
        &dir,
        "2026-03-01T10:00:00Z",
        &[
            ("ui.js", "on(\"dark-mode\")\n"),
            ("x.py", "MODE = \"dark-mode\"\n"),
        ],
        "Literals only",
    );
    let call = commit_files(
        &dir,
        "2026-03-02T10:00:00Z",
        &[(
            "src/app.py",
            "if is_enabled(\"dark-mode\"):\n    a()\nif is_enabled(\"dark-mode\"): b()\n",
        )],
        "Call",
    );
    ws.write(
        "doralens.toml",
        "[flag_references]\n\
         repos = [\"web\"]\n\
         flags = [\"dark-mode\"]\n\
         default_patterns = false\n\
         patterns = [\n\
         \x20 { glob = \"*.py\", pattern = \"is_enabled\\\\(\\\"{key}\\\"\\\\)\" },\n\
         ]\n",
    );
    let stderr = stderr_of(&ws, &["ingest"]);
    assert!(
        stderr.contains("web: 2 commits scanned, 1 flag keys (1 referenced), 1 rows written"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv("SELECT flag_key, first_sha, tip_references FROM flag_references"),
        format!("flag_key,first_sha,tip_references\ndark-mode,{call},2\n")
    );
}

#[test]
fn a_bad_pattern_is_a_config_error_naming_file_line_and_field() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "web");
    commit_files(&dir, "2026-03-01T10:00:00Z", &[("a.py", "x\n")], "A");
    ws.write(
        "bad.toml",
        "[flag_references]\nrepos = [\"web\"]\npatterns = [\n\
         \x20 { glob = \"*.py\", pattern = \"is_enabled({key}\" },\n]\n",
    );
    let out = ws
        .doralens(&[
            "ingest",
            "--config",
            "bad.toml",
            "flag-references",
            "--flag",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml")
            && stderr.contains("line 4: [flag_references] patterns[0]")
            && stderr.contains("not a valid regular expression")
            && stderr.contains("escape literal parentheses"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM flag_references"),
        "n\n0\n"
    );
}

#[test]
fn no_flag_keys_says_so_and_writes_nothing() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "web");
    commit_files(&dir, "2026-03-01T10:00:00Z", &[("a.js", "\"x\"\n")], "A");
    let stderr = stderr_of(&ws, &["ingest", "flag-references", dir.to_str().unwrap()]);
    assert!(
        stderr.contains("no flag keys to search") && stderr.contains("nothing written"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM flag_references"),
        "n\n0\n"
    );
}
