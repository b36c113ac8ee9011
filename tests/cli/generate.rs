//! `generate` and `demo` through the CLI.

use crate::util::{Workspace, output_ok};

const GEN: [&str; 10] = [
    "generate",
    "--seed",
    "9",
    "--teams",
    "3",
    "--days",
    "60",
    "--end",
    "2026-03-01",
    "--scale",
];

fn metrics_csv(ws: &Workspace, warehouse: &std::path::Path) -> String {
    let out = output_ok(ws.doralens_in(
        warehouse,
        &[
            "metrics",
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-01",
            "--by",
            "team",
            "--interval",
            "month",
            "--format",
            "csv",
        ],
    ));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generated_files_import_to_the_same_metrics_as_direct_generation() {
    let ws = Workspace::new();
    let mut direct = GEN.to_vec();
    direct.push("1.5");
    ws.doralens(&direct).assert().success();
    let expected = metrics_csv(&ws, &ws.warehouse());
    assert!(expected.lines().count() > 3, "{expected}");

    for format in ["csv", "ndjson"] {
        let files = ws.path(&format!("files-{format}"));
        let mut args = direct.clone();
        args.extend(["--out", files.to_str().unwrap(), "--file-format", format]);
        ws.doralens(&args).assert().success();
        let other = ws.path(&format!("wh-{format}"));
        // The generator writes every table.
        let tables = crate::scenarios::TABLES;
        let mut written: Vec<String> = std::fs::read_dir(&files)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        let mut wanted: Vec<String> = tables.iter().map(|t| format!("{t}.{format}")).collect();
        wanted.sort();
        assert_eq!(written, wanted);
        for table in tables {
            let file = files.join(format!("{table}.{format}"));
            ws.doralens_in(&other, &["import", table, file.to_str().unwrap()])
                .assert()
                .success();
        }
        assert_eq!(metrics_csv(&ws, &other), expected, "{format} round trip");
    }
}

#[test]
fn demo_prints_organisation_and_team_metrics_with_levels() {
    let ws = Workspace::new();
    let out = output_ok(ws.doralens(&["demo", "--dir", "demo"]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Organisation, last 90 days"), "{stdout}");
    for team in [
        "payments", "search", "checkout", "identity", "platform", "mobile",
    ] {
        assert!(stdout.contains(team), "{team} missing:\n{stdout}");
    }
    // Levels, under titles for people (not machine column names).
    assert!(
        stdout.contains("Deployment frequency")
            && stdout.contains("Level")
            && stdout.contains("elite"),
        "{stdout}"
    );
    assert!(!stdout.contains("df_level"), "{stdout}");
    assert!(stdout.contains("Next:"));
    // A second run replaces its own demo warehouse; a foreign directory is refused.
    ws.doralens(&["demo", "--dir", "demo"]).assert().success();
    std::fs::create_dir_all(ws.path("mine")).unwrap();
    ws.doralens(&["demo", "--dir", "mine"]).assert().code(2);
}

/// The metric SQL joins `deployment_commits` on `sha_key` and counts
/// reverts from its `revert` flag; both must agree with the strings they
/// stand for, row by row.
#[test]
fn deployment_commits_keys_and_revert_flags_match_their_commits() {
    let ws = Workspace::new();
    let mut args = GEN.to_vec();
    args.push("1.0");
    ws.doralens(&args).assert().success();
    let sql = |q: &str| -> String {
        let out = output_ok(ws.doralens(&["sql", q, "--format", "csv"]));
        String::from_utf8(out.stdout).unwrap()
    };
    let checks = sql("SELECT count(*) AS shipped, \
                sum(CASE WHEN dc.sha_key = sha_key(dc.sha) THEN 1 ELSE 0 END) AS keyed, \
                sum(CASE WHEN dc.revert = (c.message LIKE 'Revert %') THEN 1 ELSE 0 END) AS flagged, \
                sum(CASE WHEN dc.revert THEN 1 ELSE 0 END) AS reverts \
         FROM deployment_commits dc JOIN commits c ON c.repo = dc.repo AND c.sha = dc.sha");
    let row: Vec<u64> = checks
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let (shipped, keyed, flagged, reverts) = (row[0], row[1], row[2], row[3]);
    assert!(shipped > 1000, "{checks}");
    assert_eq!(
        keyed, shipped,
        "sha_key differs from sha_key(sha): {checks}"
    );
    assert_eq!(
        flagged, shipped,
        "revert differs from the message: {checks}"
    );
    assert!(reverts > 0, "the generator writes reverts: {checks}");
    // Distinct shas get distinct keys.
    let distinct =
        sql("SELECT count(DISTINCT sha) = count(DISTINCT sha_key) AS same FROM deployment_commits");
    assert_eq!(distinct.lines().nth(1), Some("true"), "{distinct}");
}

/// The one wall clock (`Timestamp::now`): DORALENS_NOW stops it, so the
/// default window (the 90 days before now) is reproducible.
#[test]
fn doralens_now_stops_the_clock_for_default_windows() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&crate::util::SMALL_ORG));
    let mut pinned = ws.doralens(&["metrics", "--by", "team", "--format", "csv"]);
    pinned.env("DORALENS_NOW", "2026-10-01T00:00:00Z");
    let explicit = ws.doralens(&[
        "metrics",
        "--by",
        "team",
        "--from",
        "2026-07-03",
        "--to",
        "2026-10-01",
        "--format",
        "csv",
    ]);
    let (pinned, explicit) = (output_ok(pinned).stdout, output_ok(explicit).stdout);
    assert!(String::from_utf8_lossy(&pinned).lines().count() > 1);
    assert_eq!(pinned, explicit);
}

#[test]
fn the_synthetic_organisation_has_every_kind_of_review() {
    let ws = Workspace::new();
    let mut args = GEN.to_vec();
    args.push("1");
    ws.doralens(&args).assert().success();
    // Each reason a production change can lack a second pair of eyes
    // occurs, and most changes still have one.
    let reasons = ws.sql_csv(
        "SELECT reason, count(*) AS n FROM change_reviews WHERE NOT four_eyes \
         GROUP BY reason ORDER BY reason",
    );
    for reason in [
        "approved only after the merge",
        "approved only by a bot",
        "approved only by its author",
        "no review",
        "review dismissed",
        "reviewed, not approved",
    ] {
        // (CSV quotes the one with a comma.)
        let cell = if reason.contains(',') {
            format!("\"{reason}\",")
        } else {
            format!("{reason},")
        };
        assert!(reasons.contains(&cell), "{reason}:\n{reasons}");
    }
    let share: f64 = ws
        .sql_csv("SELECT avg(CASE WHEN four_eyes THEN 1.0 ELSE 0.0 END) AS s FROM change_reviews")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.6..0.95).contains(&share), "four-eyes share {share}");
    // Every state is generated, and bots review as `*[bot]`.
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT state FROM reviews ORDER BY state"),
        "state\nAPPROVED\nCHANGES_REQUESTED\nCOMMENTED\nDISMISSED\n"
    );
    assert_ne!(
        ws.sql_csv("SELECT count(*) AS n FROM reviews WHERE reviewer LIKE '%[bot]'"),
        "n\n0\n"
    );
}

#[test]
fn generated_flag_references_ship_in_real_commits_before_their_flags() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&crate::util::SMALL_ORG));
    // One row per flag; every first and removing commit is a commit of the
    // row's repository at the row's time; the code lands before the flag's
    // first production event when the main line had a commit by then.
    let check = ws.sql_csv(
        "WITH ev AS (SELECT flag_key, min(at) AS first_event FROM flag_events GROUP BY flag_key) \
         SELECT \
           (SELECT count(*) FROM flags) AS flags, \
           count(*) AS refs, \
           sum(CASE WHEN c1.sha IS NULL OR c1.committed_at <> r.first_at THEN 1 ELSE 0 END) AS bad_first, \
           sum(CASE WHEN r.removed_sha IS NOT NULL AND (c2.sha IS NULL OR c2.committed_at <> r.removed_at \
                    OR r.removed_at <= r.first_at) THEN 1 ELSE 0 END) AS bad_removed, \
           sum(CASE WHEN (r.removed_sha IS NULL) <> (r.tip_references > 0) THEN 1 ELSE 0 END) AS bad_tip, \
           sum(CASE WHEN ev.first_event IS NOT NULL AND r.first_at <= ev.first_event THEN 1 ELSE 0 END) AS before_release, \
           count(ev.first_event) AS with_events, \
           count(r.removed_sha) AS removed \
         FROM flag_references r \
         LEFT JOIN commits c1 ON c1.repo = r.repo AND c1.sha = r.first_sha \
         LEFT JOIN commits c2 ON c2.repo = r.repo AND c2.sha = r.removed_sha \
         LEFT JOIN ev ON ev.flag_key = r.flag_key",
    );
    let values: Vec<i64> = check
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let [
        flags,
        refs,
        bad_first,
        bad_removed,
        bad_tip,
        before,
        with_events,
        removed,
    ] = values[..]
    else {
        panic!("{check}")
    };
    assert!(flags > 10 && refs == flags, "{check}");
    assert_eq!((bad_first, bad_removed, bad_tip), (0, 0, 0), "{check}");
    assert!(before * 10 >= with_events * 9, "{check}");
    // Both cleaned-up flags and flag debt.
    assert!(removed > 0 && removed < refs, "{check}");
}
