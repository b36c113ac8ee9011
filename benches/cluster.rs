//! The cluster path's cost on one machine (feature `cluster`):
//!
//! `cargo bench --locked --features cluster --bench cluster [-- --teams 10 --scale 10 --runs 3]`
//! (`--incident-rate 8` for issue #24's reference organisation's shape)
//!
//! Generates an organisation into a `file://` object-store warehouse
//! (cached under `target/doralens-bench/cluster-…`), starts a
//! `doralens cluster scheduler` and executors as separate processes on
//! 127.0.0.1, and times the same commands (median of `--runs`):
//!
//! - `metrics --by team --interval week` over the last year, and
//! - `sql "SELECT count(*) FROM deployments"` (a trivial query: the fixed
//!   cost of a query's trip through the scheduler),
//!
//! here (no cluster), on one executor, and on two. Every run reads the
//! same committed warehouse through a working copy, so the differences are
//! the cluster's: planning on the scheduler, shipping tasks and shuffles.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The processes, the scheduler's URL, and the executors' shuffle
/// directory: a killed executor leaves its shuffle files behind (9.5 GB
/// after one failed run at 19 M commits), so they go under one directory
/// removed with the cluster.
struct Cluster(Vec<Child>, String, PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.2);
    }
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_doralens"))
}

fn cluster(executors: usize, cores_each: usize, shuffles: &Path) -> Cluster {
    std::fs::create_dir_all(shuffles).unwrap();
    let port = free_port();
    let mut children = vec![
        Command::new(binary())
            .args([
                "cluster",
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ];
    wait_for_port(port);
    for _ in 0..executors {
        let (p, g) = (free_port(), free_port());
        children.push(
            Command::new(binary())
                .args([
                    "cluster",
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{port}"),
                ])
                .args([
                    "--bind",
                    &format!("127.0.0.1:{p}"),
                    "--grpc-port",
                    &g.to_string(),
                ])
                .args(["--concurrency", &cores_each.to_string()])
                .arg("--work-dir")
                .arg(shuffles)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for_port(p);
    }
    // Executors register with the scheduler after they listen.
    std::thread::sleep(Duration::from_secs(2));
    Cluster(
        children,
        format!("df://127.0.0.1:{port}"),
        shuffles.to_path_buf(),
    )
}

/// Median wall time of `runs` runs of `doralens ARGS` (asserting success);
/// also the output of the last.
fn time(
    warehouse: &str,
    cache: &Path,
    cluster: Option<&str>,
    args: &[&str],
    runs: usize,
) -> (f64, String) {
    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..runs {
        let mut cmd = Command::new(binary());
        cmd.env("DORALENS_CACHE", cache)
            .env_remove("DORALENS_CLUSTER")
            .arg("--warehouse")
            .arg(warehouse)
            .args(args);
        if let Some(c) = cluster {
            cmd.arg("--cluster").arg(c);
        }
        let started = Instant::now();
        let out = cmd.output().unwrap();
        times.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        last = String::from_utf8(out.stdout).unwrap();
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let teams = arg("--teams", 10.0) as usize;
    let scale = arg("--scale", 10.0);
    let runs = arg("--runs", 3.0) as usize;
    let incident_rate = arg("--incident-rate", 1.0);
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let root = std::fs::canonicalize(&target)
        .unwrap()
        .join("doralens-bench")
        .join(if incident_rate == 1.0 {
            format!("cluster-t{teams}-s{scale}")
        } else {
            format!("cluster-t{teams}-s{scale}-i{incident_rate}")
        });
    let store = root.join("store");
    let cache = root.join("cache");
    let warehouse = format!("file://{}", store.display());
    if !store.join("_log").is_dir() {
        std::fs::create_dir_all(&store).unwrap();
        eprintln!("generating {teams} teams at scale {scale} into {warehouse}");
        let out = Command::new(binary())
            .env("DORALENS_CACHE", &cache)
            .args([
                "--warehouse",
                &warehouse,
                "generate",
                "--teams",
                &teams.to_string(),
            ])
            .args(["--scale", &scale.to_string(), "--end", "2026-01-01"])
            .args(["--incident-rate", &incident_rate.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let metrics = [
        "metrics",
        "--by",
        "team",
        "--interval",
        "week",
        "--from",
        "2025-01-01",
        "--to",
        "2026-01-01",
        "--format",
        "csv",
    ];
    let trivial = [
        "sql",
        "SELECT count(*) AS n FROM deployments",
        "--format",
        "csv",
    ];
    // Attribution once, committed, so no timed run computes it.
    let (_, counts) = time(
        &warehouse,
        &cache,
        None,
        &[
            "sql",
            "SELECT (SELECT count(*) FROM commits) AS commits, (SELECT count(*) FROM deployments) AS deployments",
            "--format",
            "csv",
        ],
        1,
    );
    eprintln!("organisation: {}", counts.lines().nth(1).unwrap_or(""));
    let (local_metrics, want) = time(&warehouse, &cache, None, &metrics, runs);
    let (local_trivial, _) = time(&warehouse, &cache, None, &trivial, runs);
    println!(
        "here (no cluster):  metrics {local_metrics:.2} s, trivial query {local_trivial:.2} s"
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for executors in [1, 2] {
        // The machine's cores, shared out: the same hardware either way.
        let each = (cores / executors).max(1);
        let c = cluster(executors, each, &root.join("shuffles"));
        let (m, got) = time(&warehouse, &cache, Some(&c.1), &metrics, runs);
        assert_eq!(
            got, want,
            "the cluster's metrics differ from local execution"
        );
        let (t, _) = time(&warehouse, &cache, Some(&c.1), &trivial, runs);
        println!(
            "{executors} executor(s) x {each} task slots: metrics {m:.2} s ({:+.2} s), trivial query {t:.2} s ({:+.2} s)",
            m - local_metrics,
            t - local_trivial
        );
    }
}
