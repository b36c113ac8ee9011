//! The dashboard's answer times (issue #25: a first page load under 2 s on
//! a warm server, any filter change under 300 ms, at the engine benchmark's
//! scale).
//!
//! `cargo bench --bench dashboard` (or `-- --teams 10 --scale 10` for a
//! smaller organisation; `--query-memory-mb N` is `serve --query-memory`,
//! whose default it keeps otherwise). `serve` runs with its defaults. The
//! organisation is generated once (the same generator as `doralens
//! generate`) and cached under
//! `target/doralens-bench/`. `serve` runs in this process on 127.0.0.1; the
//! requests are the ones the page sends, six at a time as a browser does:
//!
//! - warm-up: `/metrics` (opens the engine, computes attribution if needed);
//! - first page load: the filter lists, the tiles (with the previous
//!   period), the trend, the team table and the three lists, for the last
//!   90 days of the organisation (nothing cached yet);
//! - filter changes: the same requests for each of the first teams, then
//!   an interval change, then a range change (each a new answer);
//! - a repeated view: the first page load again (the answer cache).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

mod common;

use common::{END, organisation};
use doralens::base::production::ProductionPattern;
use doralens::base::time::Span;
use doralens::store::warehouse::Warehouse;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One GET; (seconds, body). Panics on anything but 200.
fn get(addr: &str, target: &str) -> (f64, String) {
    let t = Instant::now();
    let mut s = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{target}: {}",
        &response[..response.len().min(400)]
    );
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (t.elapsed().as_secs_f64(), body)
}

/// The page's requests for one view, sent six at a time; the wall time
/// until the last answer.
fn view(addr: &str, query: &str, interval: &str) -> f64 {
    let targets = [
        format!("/api/v1/metrics?{query}&compare=previous"),
        format!("/api/v1/metrics?{query}&interval={interval}"),
        format!("/api/v1/metrics?{query}&by=team"),
        format!("/api/v1/deployments?{query}&limit=100"),
        format!("/api/v1/incidents?{query}&limit=100"),
        format!("/api/v1/changes/slowest?{query}&limit=20"),
    ];
    let t = Instant::now();
    std::thread::scope(|s| {
        for target in &targets {
            s.spawn(move || get(addr, target));
        }
    });
    t.elapsed().as_secs_f64()
}

fn main() {
    let teams = arg("--teams", 50.0) as usize;
    let scale = arg("--scale", 53.0);
    let defaults = doralens::serve::Limits::default();
    let memory_mb = arg("--query-memory-mb", (defaults.query_memory >> 20) as f64) as usize;
    eprintln!("query memory: {memory_mb} MiB per query");
    let (dir, counts) = organisation(teams, scale, 8.0);
    eprintln!("organisation: {counts}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = doralens::serve::ServeOptions {
        addr: addr.parse().unwrap(),
        window_days: 90,
        production: ProductionPattern::default(),
        bots: Default::default(),
        limits: doralens::serve::Limits {
            query_memory: memory_mb << 20,
            ..defaults
        },
        allow_anonymous: false,
        tls: None,
    };
    rt.spawn(doralens::serve::run(
        Warehouse::open(&dir).unwrap(),
        options,
    ));

    let (warm_up, _) = get(&addr, "/metrics");
    let from = (END - Span::days(90)).date();
    let to = END.date();
    let base = format!("from={from}&to={to}");
    // The page asks for the filter lists, then for the six panels at once.
    let t = Instant::now();
    let (_, filters) = get(&addr, "/api/v1/filters");
    view(&addr, &base, "week");
    let first = t.elapsed().as_secs_f64();
    let names: Vec<String> = serde_json::from_str::<serde_json::Value>(&filters).unwrap()["teams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    let mut changes = Vec::new();
    for team in names.iter().take(5) {
        changes.push((
            format!("team {team}"),
            view(&addr, &format!("{base}&team={team}"), "week"),
        ));
    }
    changes.push(("interval month".into(), view(&addr, &base, "month")));
    let from30 = (END - Span::days(30)).date();
    changes.push((
        "range 30 days".into(),
        view(&addr, &format!("from={from30}&to={to}"), "week"),
    ));
    let repeat = view(&addr, &base, "week");

    println!("| step | seconds |\n|---|---|");
    println!("| warm-up: `/metrics`, engine opened (attribution) | {warm_up:.3} |");
    println!("| first page load (filters + 6 panels, last 90 days) | {first:.3} |");
    for (name, s) in &changes {
        println!("| filter change: {name} | {s:.3} |");
    }
    println!("| repeated view (answer cache) | {repeat:.4} |");
    let mut sorted: Vec<f64> = changes.iter().map(|c| c.1).collect();
    sorted.sort_by(f64::total_cmp);
    println!(
        "\nfilter changes: median {:.3} s, max {:.3} s",
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
}
