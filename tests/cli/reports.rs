//! The weekly report and charts, on a generated organisation (seed 42, six
//! teams, 120 days to 2026-11-16): the Markdown against the committed
//! sample (`reports/sample/2026-W46/report.md`), the HTML in headless
//! Chromium at phone width, and the chart SVGs by their content.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use doralens::render::svg::{series_colours, texts};

use crate::util::{Workspace, output_ok, repo_root};

const TEAMS: [&str; 6] = [
    "checkout", "identity", "mobile", "payments", "platform", "search",
];

/// One generated warehouse for every test here (generating takes seconds).
fn organisation() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let ws = Workspace::new();
        output_ok(ws.doralens(&[
            "generate",
            "--seed",
            "42",
            "--teams",
            "6",
            "--days",
            "120",
            "--end",
            "2026-11-16",
        ]));
        let warehouse = ws.warehouse();
        (ws.dir, warehouse)
    })
    .1
}

fn report(ws: &Workspace) -> PathBuf {
    let out = ws.path("report");
    output_ok(ws.doralens_in(
        organisation(),
        &[
            "report",
            "--week",
            "2026-W46",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    out
}

#[test]
fn the_markdown_report_matches_the_sample() {
    let ws = Workspace::new();
    let out = report(&ws);
    let got = std::fs::read_to_string(out.join("report.md")).unwrap();
    let sample = repo_root().join("reports/sample/2026-W46/report.md");
    let expected = std::fs::read_to_string(&sample).unwrap();
    assert_eq!(
        got,
        expected,
        "the report changed; if intended, review it and copy it over {}",
        sample.display()
    );
    for chart in ["deployment-frequency", "lead-time", "change-failure-rate"] {
        assert!(got.contains(&format!("(charts/{chart}.png)")));
        let png = std::fs::read(out.join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(out.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(texts(&svg).iter().any(|t| t.ends_with("last 13 weeks")));
    }
}

/// Headless Chromium, which `.ci/test` (the README's test command)
/// installs; tests never install anything themselves.
fn chromium() -> &'static str {
    assert!(
        Command::new("chromium").arg("--version").output().is_ok(),
        "chromium is missing: run the tests with `bash .ci/test` (it installs what they need), \
         or install Debian's chromium package yourself"
    );
    "chromium"
}

#[test]
fn the_html_report_renders_in_headless_chromium_without_errors() {
    let ws = Workspace::new();
    // The check below sees console errors: a page with one is caught.
    let bad = ws.write(
        "bad.html",
        "<html><body><script>console.error('boom')</script></body></html>",
    );
    let (_, log) = screenshot(&ws, &bad, "bad.png");
    assert!(log.contains("CONSOLE") && log.contains("boom"), "{log}");

    let out = report(&ws);
    let html_path = out.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    // Self-contained: no scripts, stylesheets, images or fonts from elsewhere
    // (links to a forge's pages are <a href>, which load nothing).
    for needle in ["src=", "<link", "url(", "@import", "<script"] {
        assert!(!html.contains(needle), "the report references `{needle}`");
    }
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("@media print"));
    let (shot, log) = screenshot(&ws, &html_path, "phone.png");
    // The page's console messages are logged as CONSOLE lines.
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:?}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // A real page, not a blank one: well above an empty screenshot's size.
    assert!(png.len() > 20_000, "{} bytes", png.len());
}

/// Headless Chromium as this machine allows it (no sandbox as root, no
/// background network: the workplace has none), with a fresh profile.
pub fn headless(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Opens `page` in headless Chromium at phone size; (screenshot, log).
fn screenshot(ws: &Workspace, page: &Path, name: &str) -> (PathBuf, String) {
    let shot = ws.path(name);
    let profile = ws.path(&format!("{name}-profile"));
    let run = headless(&profile)
        .args(["--enable-logging=stderr", "--v=0", "--window-size=390,2400"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(run.status.success(), "{log}");
    (shot, log)
}

#[test]
fn chart_svgs_show_title_units_and_one_series_per_team() {
    let ws = Workspace::new();
    let out = ws.path("charts");
    let run = |args: &[&str]| {
        let mut all = vec!["chart"];
        all.extend(args);
        all.extend(["--to", "2026-11-16", "--out", out.to_str().unwrap()]);
        output_ok(ws.doralens_in(organisation(), &all));
    };
    run(&["lead-time", "--by", "team", "--interval", "week"]);
    let svg = std::fs::read_to_string(out.join("lead-time.svg")).unwrap();
    let t = texts(&svg);
    assert!(
        t.contains(&"Lead time for changes (median) by team".to_string()),
        "{t:?}"
    );
    assert!(t.contains(&"hours".to_string()));
    for team in TEAMS {
        assert!(t.contains(&team.to_string()), "{team} missing: {t:?}");
    }
    // Six teams, six of the palette's colours.
    assert_eq!(series_colours(&svg), 6);
    assert!(svg.contains("Shaded bands, light to dark: elite, high, medium, low"));
    let png = std::fs::read(out.join("lead-time.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    run(&["lead-time", "--kind", "distribution"]);
    let t = texts(&std::fs::read_to_string(out.join("lead-time-distribution.svg")).unwrap());
    assert!(
        t.iter()
            .any(|x| x.starts_with("p50 = ") && x.ends_with(" hours")),
        "{t:?}"
    );
    assert!(t.iter().any(|x| x.starts_with("p90 = ")), "{t:?}");
    assert!(t.contains(&"commits".to_string()));

    run(&[
        "change-failure-rate",
        "--by",
        "team",
        "--kind",
        "comparison",
    ]);
    let t =
        texts(&std::fs::read_to_string(out.join("change-failure-rate-comparison.svg")).unwrap());
    assert!(t.contains(&"Change failure rate by team, with 95% intervals".to_string()));
    assert!(t.contains(&"%".to_string()));
    for team in TEAMS {
        assert!(
            t.iter().any(|x| x.starts_with(&format!("{team}: "))),
            "{team}: {t:?}"
        );
    }
}

#[test]
fn benchmark_gives_levels_per_quarter_with_trends_and_charts() {
    let ws = Workspace::new();
    let charts = ws.path("bench-charts");
    let out = output_ok(ws.doralens_in(
        organisation(),
        &[
            "benchmark",
            "--to",
            "2026-11-16",
            "--format",
            "csv",
            "--charts",
            charts.to_str().unwrap(),
        ],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "team",
            "interval_start",
            "deployments",
            "df_level",
            "df_trend",
            "lt_level",
            "lt_trend",
            "cfr_level",
            "cfr_trend",
            "rt_level",
            "rt_trend"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    // Six teams × the five quarters overlapping 2025-11-16..2026-11-16.
    assert_eq!(rows.len(), 30);
    for team in TEAMS {
        let own: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == team).collect();
        assert_eq!(own.len(), 5, "{team}");
        for (level, trend) in [(3, 4), (5, 6), (7, 8), (9, 10)] {
            let judged: Vec<&str> = own
                .iter()
                .filter(|r| r[2].parse::<u64>().unwrap() >= 5)
                .map(|r| r[level].as_str())
                .collect();
            // Under 5 deployments: no level.
            for r in own.iter().filter(|r| r[2].parse::<u64>().unwrap() < 5) {
                assert_eq!(r[level], "too few");
            }
            // The trend compares the first and last judged levels.
            let rank = |l: &str| {
                ["low", "medium", "high", "elite"]
                    .iter()
                    .position(|x| *x == l)
            };
            let expected = match (
                judged.first().and_then(|l| rank(l)),
                judged.last().and_then(|l| rank(l)),
            ) {
                (Some(a), Some(b)) if judged.len() >= 2 => {
                    if b > a {
                        "improving"
                    } else if b == a {
                        "steady"
                    } else {
                        "declining"
                    }
                }
                _ => "",
            };
            assert!(
                own.iter().all(|r| r[trend] == expected),
                "{team} column {trend}"
            );
        }
    }
    // Generated history starts in July: the first three quarters are empty.
    assert!(
        rows.iter()
            .filter(|r| r[1].starts_with("2026-04-01"))
            .all(|r| r[3] == "too few")
    );
    let svg = std::fs::read_to_string(charts.join("lead-time.svg")).unwrap();
    assert_eq!(series_colours(&svg), 6);
}

/// The report on a 390 px phone hid its tables' last columns off-screen and
/// drew chart text under 3 px. Measured in headless Chromium (the page in
/// an iframe of the exact width; `tests/cli/assets/report-harness.html`):
/// nothing overflows, no table or wrapper scrolls sideways, and no chart
/// text is under 7 px, at phone and desktop widths.
#[test]
fn regression_the_report_reads_on_a_phone_and_a_desktop() {
    let ws = Workspace::new();
    let out = report(&ws);
    let harness =
        std::fs::read_to_string(repo_root().join("tests/cli/assets/report-harness.html")).unwrap();
    for width in [390, 1280] {
        let page = out.join(format!("harness-{width}.html"));
        std::fs::write(&page, harness.replace("WIDTH", &width.to_string())).unwrap();
        let profile = ws.path(&format!("measure-{width}"));
        let run = headless(&profile)
            .args([
                "--allow-file-access-from-files",
                "--window-size=1400,2000",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&run.stdout);
        let measured = dom
            .split("<pre id=\"measured\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("no measurement at {width} px: {dom}"));
        let m: serde_json::Value = serde_json::from_str(measured).unwrap();
        assert_eq!(m["pageOverflow"], 0, "{width} px: {m}");
        assert_eq!(m["hiddenColumns"], 0, "{width} px: {m}");
        assert!(m["chartTexts"].as_u64().unwrap() > 20, "{width} px: {m}");
        assert!(
            m["smallestChartTextPx"].as_f64().unwrap() >= 7.0,
            "{width} px: {m}"
        );
    }
    // The x axis ticks on bucket starts and marks the report's week.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let labels = texts(&html);
    assert!(
        labels.iter().any(|t| t == "11-09") && labels.iter().any(|t| t == "this week"),
        "{labels:?}"
    );
}

#[test]
fn benchmark_dora_2025_gives_answers_and_scores_and_leaves_others_alone() {
    let ws = Workspace::new();
    let run = |args: &[&str]| {
        let out = output_ok(ws.doralens_in(organisation(), args));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    };
    let (header, rows) = run(&[
        "benchmark",
        "--to",
        "2026-11-16",
        "--format",
        "csv",
        "--benchmark",
        "dora-2025",
    ]);
    let scores = [
        "deployment_frequency_score",
        "lead_time_score",
        "change_failure_rate_score",
        "recovery_time_score",
        "rework_rate_score",
        "throughput_score",
        "stability_score",
    ];
    assert_eq!(&header[header.len() - 7..], scores);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let answers = [
        "on-demand",
        "hourly-to-daily",
        "daily-to-weekly",
        "weekly-to-monthly",
        "monthly-to-6-monthly",
        "less-than-6-monthly",
    ];
    let mut judged = 0;
    for r in &rows {
        if r[col("df_level")] == "too few" {
            assert!(scores.iter().all(|s| r[col(s)].is_empty()), "{r:?}");
            continue;
        }
        judged += 1;
        // The frequency answer's score is 10, 8, … 0 in the order above.
        let i = answers
            .iter()
            .position(|a| *a == r[col("df_level")])
            .unwrap();
        let df: f64 = r[col("deployment_frequency_score")].parse().unwrap();
        assert_eq!(df, 10.0 - 2.0 * i as f64, "{r:?}");
        assert!(r[col("cfr_level")].ends_with('%'), "{r:?}");
        let num = |s: &str| r[col(s)].parse::<f64>().ok();
        if let (Some(a), Some(b)) = (num("change_failure_rate_score"), num("rework_rate_score")) {
            assert!((num("stability_score").unwrap() - (a + b) / 2.0).abs() < 1e-9);
        }
        match (num("lead_time_score"), num("recovery_time_score")) {
            (Some(lt), Some(rt)) => {
                let t = num("throughput_score").unwrap();
                assert!((t - (lt + df + rt) / 3.0).abs() < 1e-9, "{r:?}");
            }
            _ => assert_eq!(num("throughput_score"), None, "{r:?}"),
        }
    }
    assert!(judged >= 6, "{judged}");
    // Other benchmarks: no score column anywhere.
    for args in [
        &["metrics", "--to", "2026-11-16", "--format", "csv"][..],
        &["benchmark", "--to", "2026-11-16", "--format", "csv"][..],
    ] {
        let (header, _) = run(args);
        assert!(header.iter().all(|h| !h.ends_with("_score")), "{header:?}");
    }
}
