//! Engine benchmarks at the scale issue #2 sets: ~10 million commits,
//! ~1 million deployments, ~100 000 incidents (50 teams, a year).
//!
//! `cargo bench` (or `cargo bench --bench engine -- --teams 10 --scale 5`
//! for a smaller run). The organisation is generated once and cached under
//! `target/doralens-bench/`. Each measurement runs in a child process so its
//! peak memory (VmHWM) is its own:
//!
//! - `attribution`: read commits + deployments, walk the graph, write
//!   `deployment_commits` (forced: the cached result is discarded first);
//! - `metrics`: `metrics --by team --interval week` over the last year;
//! - `import`: a 1 000-row deployments CSV upserted into the warehouse;
//! - `report`: the weekly report for the last complete week (all teams):
//!   Markdown, HTML and the charts' PNGs, from an opened warehouse;
//! - `scrape`: `serve`'s `/metrics`, the first (cold) answer and the median
//!   of 20 warm ones, over HTTP on 127.0.0.1;
//! - `team`: one team's metrics over the last 90 days (what a dashboard's
//!   team answers), from an opened warehouse.
//!
//! The scaling curve (issue #24, target 5): `cargo bench --bench engine --
//! --scales 13.25,26.5,53,106` generates the organisation at each scale
//! (50 teams, a year) and runs `attribution`, `metrics` and `team` on each,
//! then prints each task's time and peak memory per scale with its growth
//! against the data's (docs/scaling.md has the numbers).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;

use common::{END, organisation};
use doralens::base::production::ProductionPattern;
use doralens::base::time::Span;
use doralens::engine::{Engine, ensure_attribution};
use doralens::metrics::{self, Grouping, MetricsOptions, interval};
use doralens::store::schema::Table;
use doralens::store::warehouse::Warehouse;

/// A team of the generated organisation at any scale (the generator names
/// teams the same way whatever the scale).
const SCALING_TEAM: &str = "catalog";

struct Params {
    teams: usize,
    scale: f64,
    incident_rate: f64,
}

fn params() -> Params {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: f64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Params {
        teams: get("--teams", 50.0) as usize,
        scale: get("--scale", 53.0),
        incident_rate: get("--incident-rate", 8.0),
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn child(task: &str, dir: &Path) {
    let wh = Warehouse::open(dir).unwrap();
    let production = ProductionPattern::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let detail = match task {
        "attribution" => {
            let _ = std::fs::remove_dir_all(wh.root().join("_derived"));
            let _guard = wh.read_guard().unwrap();
            let snapshot = wh.snapshot().unwrap();
            let (derived, _) = ensure_attribution(&wh, &snapshot, &production).unwrap();
            let shipped: usize = doralens::store::warehouse::read_files_parallel(
                &derived.files("deployment_commits"),
                Some(&["sha"]),
            )
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
            format!("{shipped} shipped commit rows")
        }
        "metrics" => {
            let engine = rt.block_on(Engine::open(&wh, &production)).unwrap();
            let mut opts = MetricsOptions::defaults(END);
            opts.from = END - Span::days(365);
            opts.group = Some(Grouping::Team);
            opts.interval = Some(interval::Interval::Week);
            let table = rt.block_on(metrics::compute(&engine, &opts)).unwrap();
            format!("{} rows", table.num_rows())
        }
        "team" => {
            let engine = rt.block_on(Engine::open(&wh, &production)).unwrap();
            let mut opts = MetricsOptions::defaults(END);
            opts.from = END - Span::days(90);
            opts.scope.teams = vec![SCALING_TEAM.to_string()];
            let started = Instant::now();
            let table = rt.block_on(metrics::compute(&engine, &opts)).unwrap();
            format!(
                "{} row, {:.3}s after the engine opened",
                table.num_rows(),
                started.elapsed().as_secs_f64()
            )
        }
        "views" => {
            // Where metrics time goes: each view alone, same options.
            let engine = rt.block_on(Engine::open(&wh, &production)).unwrap();
            let mut opts = MetricsOptions::defaults(END);
            opts.from = END - Span::days(365);
            opts.group = Some(Grouping::Team);
            opts.interval = Some(interval::Interval::Week);
            rt.block_on(metrics::register_views(&engine, &opts))
                .unwrap();
            for view in [
                "grouped_deployments",
                "deployment_frequency",
                "lead_time",
                "deployment_failure_links",
                "change_failure_rate",
                "recovery_time",
                "time_to_restore",
                "rework_commits",
                "rework_deployment_reasons",
                "rework_rate",
            ] {
                let t = Instant::now();
                rt.block_on(engine.sql(&format!("SELECT count(*) FROM {view}")))
                    .unwrap();
                eprintln!("view {view}: {:.3}s", t.elapsed().as_secs_f64());
            }
            "see stderr".to_string()
        }
        "report" => {
            use doralens::report;
            let engine = rt.block_on(Engine::open(&wh, &production)).unwrap();
            let monday = report::last_complete_week(END);
            let opts = MetricsOptions::defaults(monday);
            let links = doralens::store::links::WebLinks::load(&wh);
            let built = rt
                .block_on(report::build(&engine, &opts, monday, &links))
                .unwrap();
            let md = report::markdown(&built);
            let html = report::html(&built);
            let pngs: usize = built
                .charts
                .iter()
                .map(|c| doralens::render::svg::png(&c.svg).unwrap().len())
                .sum();
            format!(
                "week {}, {} teams, {} + {} bytes, {pngs} bytes of PNG",
                built.week,
                built.teams.len(),
                md.len(),
                html.len()
            )
        }
        "scrape" => {
            use std::io::{Read, Write};
            let addr: std::net::SocketAddr = "127.0.0.1:39464".parse().unwrap();
            let options = doralens::serve::ServeOptions {
                addr,
                window_days: 90,
                production: production.clone(),
                bots: Default::default(),
                limits: doralens::serve::Limits::default(),
                allow_anonymous: false,
                tls: None,
            };
            rt.spawn(doralens::serve::run(Warehouse::open(dir).unwrap(), options));
            let get = || {
                let t = Instant::now();
                let mut s = loop {
                    match std::net::TcpStream::connect(addr) {
                        Ok(s) => break s,
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                    }
                };
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut body = String::new();
                s.read_to_string(&mut body).unwrap();
                assert!(body.contains("# EOF"), "{body}");
                t.elapsed().as_secs_f64()
            };
            let cold = get();
            let mut warm: Vec<f64> = (0..20).map(|_| get()).collect();
            warm.sort_by(f64::total_cmp);
            format!(
                "cold {:.3}s, warm median {:.1} ms (max {:.1} ms)",
                cold,
                warm[10] * 1000.0,
                warm[19] * 1000.0
            )
        }
        "repo_read" => {
            // What a forge sync's rollback detection reads: one repository's
            // commits (repo, sha, parents), by scanning everything and
            // filtering, then through row-group statistics.
            let columns = ["repo", "sha", "parents"];
            let repo = "acme/billing-2-api";
            let t = Instant::now();
            let scanned: usize = wh
                .read_table(Table::Commits, Some(&columns))
                .unwrap()
                .iter()
                .map(|b| {
                    let repos = datafusion::arrow::array::AsArray::as_string::<i32>(b.column(0));
                    repos.iter().filter(|r| *r == Some(repo)).count()
                })
                .sum();
            let full = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let pruned: usize = wh
                .read_table_where(Table::Commits, Some(&columns), "repo", repo)
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum();
            assert_eq!(scanned, pruned);
            format!(
                "{pruned} commits of {repo}: full scan {full:.3}s, pruned read {:.3}s",
                t.elapsed().as_secs_f64()
            )
        }
        "import" => {
            let file = dir.join("bench-import.csv");
            let mut csv = String::from("id,repo,service,environment,sha,status,finished_at\n");
            for i in 0..1000 {
                csv.push_str(&format!(
                    "bench-{i},acme/bench,bench-svc,production,{i:040x},success,2025-12-{:02}T10:00:00Z\n",
                    1 + i % 28
                ));
            }
            std::fs::write(&file, csv).unwrap();
            let started = Instant::now();
            let report =
                doralens::ingest::files::import_files(&wh, Table::Deployments, &[file.as_path()])
                    .unwrap();
            let t = started.elapsed().as_secs_f64();
            println!(
                "RESULT import {t:.3} {:.0} {} rows written, {} replaced",
                peak_rss_mib(),
                report.written,
                report.replaced
            );
            return;
        }
        other => panic!("unknown task {other}"),
    };
    println!(
        "RESULT {task} {:.3} {:.0} {detail}",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

/// One task's measurement, from its own process.
struct Measured {
    seconds: f64,
    peak_mib: f64,
    detail: String,
}

/// Runs `task` in a child process over the organisation in `dir`; `None`
/// (with the child's stderr printed) when it failed.
fn measure(task: &str, dir: &Path) -> Option<Measured> {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("DORALENS_BENCH_TASK", task)
        .env("DORALENS_BENCH_DIR", dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("RESULT "));
    let Some(line) = line else {
        eprintln!("{task} failed ({})", out.status);
        return None;
    };
    let f: Vec<&str> = line.splitn(5, ' ').collect();
    Some(Measured {
        seconds: f[2].parse().unwrap_or(f64::NAN),
        peak_mib: f[3].parse().unwrap_or(f64::NAN),
        detail: f.get(4).unwrap_or(&"").to_string(),
    })
}

/// The tasks `DORALENS_BENCH_ONLY` names, or `default`.
fn tasks(default: &[&str]) -> Vec<String> {
    match std::env::var("DORALENS_BENCH_ONLY") {
        Ok(list) => list.split(',').map(str::to_string).collect(),
        Err(_) => default.iter().map(|t| t.to_string()).collect(),
    }
}

/// The generator's count of `what` (e.g. "commits") in a marker's text.
fn count_of(counts: &str, what: &str) -> f64 {
    counts
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[0] == what)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(f64::NAN)
}

/// `--scales a,b,...`: each task at each scale, and how its time and
/// memory grew against the commits' growth from the previous scale.
fn scaling_curve(p: &Params, scales: &[f64]) {
    let tasks = tasks(&["attribution", "metrics", "team"]);
    let mut rows: Vec<(f64, f64, f64, Vec<Option<Measured>>)> = Vec::new();
    for &scale in scales {
        let (dir, counts) = organisation(p.teams, scale, p.incident_rate);
        eprintln!("scale {scale}: {counts}");
        let measured = tasks.iter().map(|t| measure(t, &dir)).collect();
        rows.push((
            scale,
            count_of(&counts, "commits"),
            count_of(&counts, "deployments"),
            measured,
        ));
    }
    println!(
        "{} cores; time in s, peak RSS in MiB; growth = the task's ratio to the previous scale \
         over the commits' ratio (at most 1.0: linear or better)\n",
        doralens::cores()
    );
    let mut header = String::from("| scale | commits | deployments |");
    let mut rule = String::from("|---|---|---|");
    for t in &tasks {
        header.push_str(&format!(" {t} s | {t} MiB | {t} growth (time, memory) |"));
        rule.push_str("---|---|---|");
    }
    println!("{header}\n{rule}");
    for (i, (scale, commits, deployments, measured)) in rows.iter().enumerate() {
        let mut line = format!("| {scale} | {commits} | {deployments} |");
        for (j, m) in measured.iter().enumerate() {
            let previous = i
                .checked_sub(1)
                .and_then(|k| rows[k].3[j].as_ref().map(|m| (m, rows[k].1)));
            match m {
                None => line.push_str(" failed | | |"),
                Some(m) => {
                    let growth = match previous {
                        Some((prev, prev_commits)) => {
                            let data = commits / prev_commits;
                            format!(
                                "{:.2}, {:.2}",
                                m.seconds / prev.seconds / data,
                                m.peak_mib / prev.peak_mib / data
                            )
                        }
                        None => String::new(),
                    };
                    line.push_str(&format!(
                        " {:.2} | {:.0} | {growth} |",
                        m.seconds, m.peak_mib
                    ));
                }
            }
        }
        println!("{line}");
    }
}

fn main() {
    if let Ok(task) = std::env::var("DORALENS_BENCH_TASK") {
        child(
            &task,
            Path::new(&std::env::var("DORALENS_BENCH_DIR").unwrap()),
        );
        return;
    }
    let p = params();
    let args: Vec<String> = std::env::args().collect();
    if let Some(list) = args
        .iter()
        .position(|a| a == "--scales")
        .and_then(|i| args.get(i + 1))
    {
        let scales: Vec<f64> = list
            .split(',')
            .map(|s| s.parse().expect("--scales: numbers separated by commas"))
            .collect();
        scaling_curve(&p, &scales);
        return;
    }
    let (dir, counts) = organisation(p.teams, p.scale, p.incident_rate);
    eprintln!("organisation: {counts}");
    println!("| task | seconds | peak RSS MiB | detail |\n|---|---|---|---|");
    let tasks = tasks(&[
        "attribution",
        "metrics",
        "metrics",
        "report",
        "scrape",
        // Last: an import changes deployments, so the next engine open
        // would redo attribution inside whatever is measured after it.
        "import",
    ]);
    for task in &tasks {
        if let Some(m) = measure(task, &dir) {
            println!(
                "| {task} | {:.3} | {:.0} | {} |",
                m.seconds, m.peak_mib, m.detail
            );
        }
    }
}
