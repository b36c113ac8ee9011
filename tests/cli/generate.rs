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
        for table in crate::scenarios::TABLES {
            let file = files.join(format!("{table}.{format}"));
            assert!(file.exists(), "{}", file.display());
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
    assert!(
        stdout.contains("df_level") && stdout.contains("elite"),
        "{stdout}"
    );
    assert!(stdout.contains("Next:"));
    // A second run replaces its own demo warehouse; a foreign directory is refused.
    ws.doralens(&["demo", "--dir", "demo"]).assert().success();
    std::fs::create_dir_all(ws.path("mine")).unwrap();
    ws.doralens(&["demo", "--dir", "mine"]).assert().code(2);
}
