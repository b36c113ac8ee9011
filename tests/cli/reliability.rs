//! Reliability: what users saw go wrong (issue #10), reproduced and held.
//!
//! - readers racing writers: every answer is checked against the known
//!   truth (`sql`, `metrics` and `serve` while imports replace rows);
//! - kill -9 at spread-out moments of import, git ingest, a forge sync and
//!   attribution: the warehouse stays readable with the old or the new
//!   state, and the next run converges to the truth and leaves no temp files;
//! - missing or damaged segments are errors naming the file (exit 1);
//! - concurrent attribution, read-only warehouses;
//! - hostile `serve` requests: the server answers each with a clear status
//!   and keeps answering correctly.
//!
//! Each test prints a `reliability:` line with its trial and answer counts
//! (run with `--nocapture` to see them; README's reliability section).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::dashboards::{encode, get, request, scenario_workspace, serve};
use crate::util::{Workspace, output_ok};

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("doralens")
}

/// `doralens --warehouse WH ARGS` as a plain process (to spawn and kill).
fn process(warehouse: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_remove("DORALENS_WAREHOUSE")
        .arg("--warehouse")
        .arg(warehouse)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// `deployments.csv` with `n` rows, all `status`.
fn deployments_csv(n: usize, status: &str) -> String {
    let mut out = String::from("id,repo,service,environment,sha,status,finished_at\n");
    for i in 0..n {
        let day = 1 + i % 27;
        let hour = i % 24;
        out.push_str(&format!(
            "d{i},acme/api,api,production,{:040x},{status},2026-10-{day:02}T{hour:02}:00:00Z\n",
            i + 1
        ));
    }
    out
}

fn count(ws: &Workspace, warehouse: &Path, query: &str) -> std::result::Result<String, String> {
    let out = ws
        .doralens_in(warehouse, &["sql", query, "--format", "csv"])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Files or directories whose name contains `.tmp-` anywhere below `dir`.
fn temp_leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().contains(".tmp-") {
                found.push(path.clone());
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

#[test]
fn regression_readers_see_every_row_while_imports_replace_them() {
    let ws = Workspace::new();
    let rows = 3_000;
    ws.write("a.csv", &deployments_csv(rows, "success"));
    ws.write("b.csv", &deployments_csv(rows, "failure"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let truth = format!("n\n{rows}\n");
    let done = AtomicBool::new(false);
    let (answers, wrong) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let writes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Every import replaces every row: each retires all segments.
            // At least 16 imports, and until the readers answered 60 times.
            let mut i = 0;
            while i < 16 || answers.load(Ordering::SeqCst) < 60 {
                let file = if i % 2 == 0 { "b.csv" } else { "a.csv" };
                output_ok(ws.doralens(&["import", "deployments", file]));
                i += 1;
            }
            writes.store(i, Ordering::SeqCst);
            done.store(true, Ordering::SeqCst);
        });
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let got = count(
                        &ws,
                        &ws.warehouse(),
                        "SELECT count(*) AS n FROM deployments",
                    );
                    answers.fetch_add(1, Ordering::SeqCst);
                    if got.as_deref() != Ok(truth.as_str()) {
                        wrong.fetch_add(1, Ordering::SeqCst);
                        eprintln!("wrong answer: {got:?}");
                    }
                    // All or nothing: one import's rows, never a mixture.
                    let statuses = count(
                        &ws,
                        &ws.warehouse(),
                        "SELECT count(DISTINCT status) AS n FROM deployments",
                    );
                    answers.fetch_add(1, Ordering::SeqCst);
                    if statuses.as_deref() != Ok("n\n1\n") {
                        wrong.fetch_add(1, Ordering::SeqCst);
                        eprintln!("mixed snapshot: {statuses:?}");
                    }
                }
            });
        }
    });
    let (answers, wrong, writes) = (
        answers.into_inner(),
        wrong.into_inner(),
        writes.into_inner(),
    );
    eprintln!(
        "reliability: readers during {writes} replacing imports: {answers} answers checked, {wrong} wrong"
    );
    assert!(answers >= 60, "the readers ran");
    assert_eq!(wrong, 0);
}

#[test]
fn regression_metrics_during_imports_and_concurrent_attribution_agree() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&[
        "generate",
        "--seed",
        "7",
        "--teams",
        "2",
        "--days",
        "60",
        "--end",
        "2026-11-01",
    ]));
    let metrics_args = [
        "metrics",
        "--by",
        "team",
        "--from",
        "2026-09-01",
        "--to",
        "2026-11-01",
        "--format",
        "csv",
    ];
    let truth = String::from_utf8(output_ok(ws.doralens(&metrics_args)).stdout).unwrap();
    // Re-importing the deployments as they are changes no number but
    // replaces segments and invalidates attribution each time.
    let export = ws.path("deployments.csv");
    output_ok(ws.doralens(&[
        "sql",
        "SELECT id, repo, service, environment, sha, status, started_at, finished_at, triggered_by FROM deployments",
        "--format",
        "csv",
        "--output",
        export.to_str().unwrap(),
    ]));
    let done = AtomicBool::new(false);
    let (answers, wrong) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while i < 6 || answers.load(Ordering::SeqCst) < 15 {
                output_ok(ws.doralens(&["import", "deployments", export.to_str().unwrap()]));
                i += 1;
            }
            done.store(true, Ordering::SeqCst);
        });
        // Three readers at once: each may need attribution rebuilt.
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let out = ws.doralens(&metrics_args).output().unwrap();
                    answers.fetch_add(1, Ordering::SeqCst);
                    if !out.status.success() || String::from_utf8_lossy(&out.stdout) != truth {
                        wrong.fetch_add(1, Ordering::SeqCst);
                        eprintln!("wrong: {}", String::from_utf8_lossy(&out.stderr));
                    }
                }
            });
        }
    });
    let (answers, wrong) = (answers.into_inner(), wrong.into_inner());
    eprintln!(
        "reliability: metrics during imports, 3 readers: {answers} answers checked, {wrong} wrong"
    );
    assert!(answers >= 15);
    assert_eq!(wrong, 0);
    assert!(temp_leftovers(&ws.warehouse()).is_empty());
}

#[test]
fn regression_a_missing_or_damaged_segment_is_an_error_naming_it() {
    let ws = Workspace::new();
    ws.write("a.csv", &deployments_csv(10, "success"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let segment = ws.warehouse().join("deployments/seg-000001.parquet");
    let original = std::fs::read(&segment).unwrap();
    for (damage, expect) in [
        ("missing", "missing"),
        ("empty", "damaged"),
        ("cut", "damaged"),
    ] {
        match damage {
            "missing" => std::fs::remove_file(&segment).unwrap(),
            "empty" => std::fs::write(&segment, b"").unwrap(),
            _ => std::fs::write(&segment, &original[..original.len() / 2]).unwrap(),
        }
        for args in [
            vec!["sql", "SELECT count(*) FROM deployments"],
            vec!["metrics"],
        ] {
            let out = ws.doralens(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{damage} {args:?}: {err}");
            assert!(
                err.contains("seg-000001.parquet") && err.contains(expect),
                "{err}"
            );
            assert!(err.contains("backup") || err.contains("re-import"), "{err}");
        }
        std::fs::write(&segment, &original).unwrap();
    }
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments"),
        "n\n10\n"
    );
}

#[test]
fn superseded_segments_wait_for_readers_and_vacuum_removes_them() {
    let ws = Workspace::new();
    ws.write("a.csv", &deployments_csv(10, "success"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let segment = ws.warehouse().join("deployments/seg-000001.parquet");
    // A reader holds the readers lock (a long query, a serving dashboard).
    let wh = doralens::store::warehouse::Warehouse::open(ws.warehouse()).unwrap();
    let guard = wh.read_guard().unwrap();
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    assert!(segment.exists(), "retired while a reader may read it");
    // A vacuum while the reader reads (a running `serve`) waits only so
    // long, then keeps what the reader may still need.
    let report = wh
        .vacuum(Duration::ZERO, Duration::from_millis(300))
        .unwrap();
    assert!(report.readers_present);
    assert!(segment.exists(), "vacuum deleted a file a reader may read");
    drop(guard);
    output_ok(ws.doralens(&["vacuum"]));
    assert!(!segment.exists(), "vacuum removes what no reader needs");
    // Without readers, a write removes what it supersedes at once.
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let files = std::fs::read_dir(ws.warehouse().join("deployments"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".parquet")
        })
        .count();
    assert_eq!(files, 1);
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments"),
        "n\n10\n"
    );
}

/// Spawns `cmd`, kills it with SIGKILL after `delay` (unless it finished).
pub fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
    true
}

#[test]
fn kill_9_during_import_leaves_the_old_or_the_new_table() {
    let ws = Workspace::new();
    let rows = 60_000;
    ws.write("a.csv", &deployments_csv(rows, "success"));
    ws.write("b.csv", &deployments_csv(rows, "failure"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let (mut killed, mut checked) = (0, 0);
    for trial in 0..12u64 {
        let file = if trial % 2 == 0 { "b.csv" } else { "a.csv" };
        let delay = Duration::from_millis(20 + trial * 45);
        let mut cmd = process(&ws.warehouse(), &["import", "deployments"]);
        cmd.arg(ws.path(file));
        killed += usize::from(kill_after(cmd, delay));
        // Readable, complete, one import's rows only.
        let got = count(
            &ws,
            &ws.warehouse(),
            "SELECT count(*) AS n, count(DISTINCT status) AS s FROM deployments",
        );
        assert_eq!(got, Ok(format!("n,s\n{rows},1\n")), "trial {trial}");
        checked += 1;
    }
    output_ok(ws.doralens(&["import", "deployments", "b.csv"]));
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments WHERE status = 'failure'"),
        format!("n\n{rows}\n")
    );
    // The next write cleaned every killed write's files.
    assert!(temp_leftovers(&ws.warehouse()).is_empty());
    eprintln!(
        "reliability: kill -9 during import: {checked} trials ({killed} killed mid-run), 0 wrong"
    );
}

#[test]
fn kill_9_during_attribution_then_the_next_run_is_right() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&[
        "generate",
        "--seed",
        "3",
        "--teams",
        "3",
        "--days",
        "120",
        "--end",
        "2026-11-01",
    ]));
    let args = [
        "metrics",
        "--from",
        "2026-08-01",
        "--to",
        "2026-11-01",
        "--format",
        "csv",
    ];
    let truth = String::from_utf8(output_ok(ws.doralens(&args)).stdout).unwrap();
    let mut killed = 0;
    let trials = 10u64;
    for trial in 0..trials {
        // A fresh attribution each time: the derived tables are a cache.
        std::fs::remove_dir_all(ws.warehouse().join("_derived")).unwrap();
        killed += usize::from(kill_after(
            process(&ws.warehouse(), &args),
            Duration::from_millis(10 + trial * 40),
        ));
        let again = String::from_utf8(output_ok(ws.doralens(&args)).stdout).unwrap();
        assert_eq!(again, truth, "trial {trial}");
        assert!(
            temp_leftovers(&ws.warehouse()).is_empty(),
            "{:?}",
            temp_leftovers(&ws.warehouse())
        );
    }
    eprintln!(
        "reliability: kill -9 during attribution: {trials} trials ({killed} killed mid-run), 0 wrong"
    );
}

#[test]
fn kill_9_during_git_ingest_then_the_next_run_equals_a_clean_one() {
    use crate::git::{git_at, new_repo};
    let ws = Workspace::new();
    let dir = new_repo(&ws, "svc");
    // 4000 commits with a tag every 400, written in one fast-import stream.
    let mut stream = String::new();
    for i in 0..4000 {
        let when = 1_767_225_600 + i * 3_600;
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter Dev <dev@example.com> {when} +0000\ndata <<EOF\nchange {i}\nEOF\nM 644 inline f{}\ndata <<EOF\n{i}\nEOF\n\n",
            i + 1,
            i % 7
        ));
        if i % 400 == 399 {
            stream.push_str(&format!("reset refs/tags/v{i}\nfrom :{}\n\n", i + 1));
        }
    }
    let mut fi = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    fi.stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(fi.wait().unwrap().success());
    git_at(
        &dir,
        "2026-03-01T00:00:00Z",
        &["reset", "-q", "--hard", "main"],
    );
    let args = [
        "ingest",
        "git",
        dir.to_str().unwrap(),
        "--deploy-tags",
        "v*",
    ];
    let clean = ws.path("clean");
    output_ok(ws.doralens_in(&clean, &args));
    let dump = |wh: &Path| {
        // Provenance names each run: left out of the comparison.
        let rows = "* EXCLUDE (_fetched_at, _sync)";
        ws.sql_csv_in(wh, &format!("SELECT {rows} FROM commits ORDER BY sha"), &[])
            + &ws.sql_csv_in(
                wh,
                &format!("SELECT {rows} FROM deployments ORDER BY id"),
                &[],
            )
    };
    let truth = dump(&clean);
    let trials = 8u64;
    let mut killed = 0;
    for trial in 0..trials {
        let wh = ws.path(&format!("trial-{trial}"));
        killed += usize::from(kill_after(
            process(&wh, &args),
            Duration::from_millis(5 + trial * 30),
        ));
        output_ok(ws.doralens_in(&wh, &args));
        assert_eq!(dump(&wh), truth, "trial {trial}");
        assert!(temp_leftovers(&wh).is_empty(), "{:?}", temp_leftovers(&wh));
    }
    eprintln!(
        "reliability: kill -9 during git ingest: {trials} trials ({killed} killed mid-run), 0 wrong"
    );
}

#[test]
fn kill_9_during_a_forge_sync_then_the_next_run_equals_a_clean_one() {
    use crate::forges::{dump, github};
    use crate::mock_forge::{Flavour, MockForge};
    let gh = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    let repos = ["acme/api", "acme/web", "--releases-as-deployments"];
    let clean = ws.path("clean");
    let mut cmd = github(&ws, &gh, &repos);
    cmd.arg("--warehouse").arg(&clean);
    output_ok(cmd);
    let truth = dump(&ws, &clean);
    gh.set_delay_ms(15);
    let trials = 8u64;
    let mut killed = 0;
    for trial in 0..trials {
        let wh = ws.path(&format!("trial-{trial}"));
        let mut cmd = process(&wh, &["ingest", "github"]);
        cmd.args(repos)
            .env("GITHUB_TOKEN", crate::forges::GH_TOKEN)
            .env("DORALENS_HTTP_BACKOFF_MS", "20")
            .arg("--api-url")
            .arg(gh.api_url());
        killed += usize::from(kill_after(cmd, Duration::from_millis(30 + trial * 60)));
        let mut again = github(&ws, &gh, &repos);
        again.arg("--warehouse").arg(&wh);
        output_ok(again);
        assert_eq!(dump(&ws, &wh), truth, "trial {trial}");
        assert!(temp_leftovers(&wh).is_empty(), "{:?}", temp_leftovers(&wh));
    }
    eprintln!(
        "reliability: kill -9 during a GitHub sync: {trials} trials ({killed} killed mid-run), 0 wrong"
    );
}

#[test]
fn a_read_only_warehouse_is_readable_and_nothing_is_left_behind() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&[
        "generate",
        "--seed",
        "5",
        "--teams",
        "2",
        "--days",
        "40",
        "--end",
        "2026-11-01",
    ]));
    let args = [
        "metrics",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-01",
        "--format",
        "csv",
    ];
    let truth = String::from_utf8(output_ok(ws.doralens(&args)).stdout).unwrap();
    std::fs::remove_dir_all(ws.warehouse().join("_derived")).unwrap();
    std::fs::remove_file(ws.warehouse().join(".readers")).ok();
    // Another user's warehouse: root ignores permission bits, so the
    // reader drops to `nobody` (setpriv) when the tests run as root.
    let root = unsafe { libc_geteuid() } == 0;
    if root && Command::new("setpriv").arg("--help").output().is_err() {
        eprintln!("skipped: running as root without setpriv");
        return;
    }
    let bin = ws.path("doralens");
    std::fs::copy(binary(), &bin).unwrap();
    let tmp = ws.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    chmod_tree(ws.dir.path(), true);
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    cmd.env("TMPDIR", &tmp)
        .arg("--warehouse")
        .arg(ws.warehouse())
        .args(args);
    let out = cmd.output().unwrap();
    chmod_tree(ws.dir.path(), false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), truth);
    assert!(err.contains("read-only"), "{err}");
    assert!(!ws.warehouse().join("_derived").exists());
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temp files left"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Makes a tree readable by everyone and writable by nobody (or back).
fn chmod_tree(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mode = if read_only { 0o555 } else { 0o755 };
        if d != dir.join("tmp") {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = if read_only { 0o555 } else { 0o755 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

#[test]
fn serve_answers_correctly_while_imports_run() {
    let ws = scenario_workspace();
    let server = serve(&ws, &[]);
    let export = ws.path("deployments.csv");
    output_ok(ws.doralens(&[
        "sql",
        "SELECT id, repo, service, environment, sha, status, started_at, finished_at, triggered_by FROM deployments",
        "--format",
        "csv",
        "--output",
        export.to_str().unwrap(),
    ]));
    let sql = format!(
        "/api/v1/sql?q={}",
        encode("SELECT count(*) AS n FROM deployments")
    );
    let dora = "/api/v1/dora/metrics?metric=deployment_frequency&interval=all&start_date=2026-01-01&end_date=2026-12-31";
    let (_, _, truth_sql) = get(&server.addr, &sql);
    let (_, _, truth_dora) = get(&server.addr, dora);
    assert!(truth_sql.contains("\"n\":7"), "{truth_sql}");
    let done = AtomicBool::new(false);
    let (answers, wrong) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while i < 12 || answers.load(Ordering::SeqCst) < 80 {
                output_ok(ws.doralens(&["import", "deployments", export.to_str().unwrap()]));
                i += 1;
            }
            done.store(true, Ordering::SeqCst);
        });
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                for (target, truth) in [(&sql[..], &truth_sql), (dora, &truth_dora)] {
                    let (status, _, body) = get(&server.addr, target);
                    answers.fetch_add(1, Ordering::SeqCst);
                    if status != 200 || body != *truth {
                        wrong.fetch_add(1, Ordering::SeqCst);
                        eprintln!("wrong: {status} {body}");
                    }
                }
            }
        });
    });
    let (answers, wrong) = (answers.into_inner(), wrong.into_inner());
    eprintln!("reliability: serve during imports: {answers} answers checked, {wrong} wrong");
    assert!(answers >= 80);
    assert_eq!(wrong, 0);
}

/// Sends raw bytes and returns the status line's code (0 when the server
/// closed the connection without an answer).
fn raw_status(addr: &str, bytes: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let _ = stream.write_all(bytes);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn regression_hostile_requests_get_an_answer_and_serve_keeps_serving() {
    let ws = scenario_workspace();
    let server = serve(
        &ws,
        &[
            "--sql-timeout",
            "2",
            "--query-memory",
            "256",
            "--max-body",
            "65536",
        ],
    );
    let addr = server.addr.as_str();
    let healthy = |context: &str| {
        let (status, _, body) = get(
            addr,
            &format!(
                "/api/v1/sql?q={}",
                encode("SELECT count(*) AS n FROM deployments")
            ),
        );
        assert_eq!(
            (status, body.contains("\"n\":7")),
            (200, true),
            "after {context}: {body}"
        );
    };
    let sql = |q: &str| request(addr, "POST", "/api/v1/sql", q);
    let hostile = std::cell::Cell::new(0);
    let expect =
        |context: &str, (status, _, body): (u16, String, String), want: u16, says: &str| {
            let shown: String = body.chars().take(300).collect();
            assert_eq!(status, want, "{context}: {shown}");
            assert!(body.contains(says), "{context}: {shown}");
            healthy(context);
            hostile.set(hostile.get() + 1);
        };
    let sum = format!("SELECT {}", vec!["1"; 800].join("+"));
    expect("800-term sum", sql(&sum), 400, "--sql-max-depth");
    let ors = format!(
        "SELECT count(*) FROM deployments WHERE {}",
        (0..20_000)
            .map(|i| format!("id = 'd{i}'"))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    expect("20,000 ORs", sql(&ors), 413, "--max-body");
    let ors_short = format!(
        "SELECT count(*) FROM deployments WHERE {}",
        (0..3_000)
            .map(|i| format!("id='{i}'"))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    expect("3,000 ORs", sql(&ors_short), 400, "--sql-max-");
    expect(
        "repeat 2e9",
        sql("SELECT length(repeat('x', 2000000000))"),
        400,
        "--sql-max-value",
    );
    expect(
        "repeat per row",
        sql("SELECT repeat(sha, 1000000) FROM commits"),
        400,
        "--sql-max-value",
    );
    let started = Instant::now();
    expect(
        "cross join sorted by a concatenation",
        sql("SELECT CAST(a.v AS VARCHAR) || CAST(b.v AS VARCHAR) AS s \
             FROM generate_series(1, 100000) a(v), generate_series(1, 100000) b(v) ORDER BY s"),
        400,
        "--sql-timeout",
    );
    expect(
        "a cross join counted (no yield point: stopped by the plan's deadline)",
        sql(
            "SELECT count(*) FROM generate_series(1, 100000) a(v), generate_series(1, 100000) b(v)",
        ),
        400,
        "--sql-timeout",
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout or memory limit held"
    );
    expect(
        "a CPU-bound query past its timeout",
        sql("SELECT count(*) FROM generate_series(1, 20000000000) a"),
        400,
        "ran longer than 2 s",
    );
    // Bodies: declared too large, and streamed too large without a length.
    let big = vec![b'x'; 300_000];
    let mut declared = b"POST /api/v1/sql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 268435456\r\n\r\n".to_vec();
    declared.extend_from_slice(&big[..1000]);
    assert_eq!(raw_status(addr, &declared), 413);
    healthy("a 256 MiB Content-Length");
    let mut chunked = b"POST /api/v1/sql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..8 {
        chunked.extend_from_slice(format!("{:x}\r\n", big.len() / 8).as_bytes());
        chunked.extend_from_slice(&big[..big.len() / 8]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_status(addr, &chunked), 413);
    healthy("a chunked body past the limit");
    hostile.set(hostile.get() + 2);
    // The DORA API: a huge range, unknown names.
    expect(
        "DORA range 0001-9999",
        get(
            addr,
            "/api/v1/dora/metrics?metric=deployment_frequency&interval=daily&start_date=0001-01-01&end_date=9999-12-30",
        ),
        400,
        "--dora-max-days",
    );
    expect(
        "unknown team",
        get(
            addr,
            "/api/v1/dora/metrics?metric=deployment_frequency&team=nobody",
        ),
        400,
        "valid: platform",
    );
    expect(
        "unknown metric",
        get(addr, "/api/v1/dora/metrics?metric=uptime"),
        400,
        "valid: deployment_frequency",
    );
    expect(
        "unknown interval",
        get(
            addr,
            "/api/v1/dora/metrics?metric=deployment_frequency&interval=hourly",
        ),
        400,
        "valid: daily, monthly, all",
    );
    let hostile = hostile.get();
    eprintln!(
        "reliability: hostile serve requests: {hostile} kinds, each answered, server healthy after each"
    );
}

#[test]
fn regression_idle_connections_and_few_file_descriptors_do_not_stop_serve() {
    let ws = scenario_workspace();
    // `ulimit -n 64`: far fewer descriptors than the connections opened.
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" --warehouse "$1" serve --addr 127.0.0.1:0 --header-timeout 1"#)
        .arg(binary())
        .arg(ws.warehouse())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().trim_start_matches("http://").to_string();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(child);
    let idle: Vec<TcpStream> = (0..150)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.0.try_wait().unwrap().is_none(), "serve exited");
    drop(idle);
    // Idle ones time out; a real request is answered again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(
            &addr,
            "/api/v1/dora/metrics?metric=deployment_frequency&interval=all",
        );
        if status == 200 {
            assert!(body.starts_with('['), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer after the idle connections: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(child.0.try_wait().unwrap().is_none(), "serve exited");
    eprintln!(
        "reliability: 150 idle connections under ulimit -n 64: serve kept running and answered"
    );
}

#[test]
fn absurd_option_values_are_refused_with_exit_2() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&["generate", "--seed", "1", "--teams", "1", "--days", "5"]));
    for args in [
        vec!["serve", "--sql-timeout", "inf"],
        vec!["serve", "--sql-timeout", "NaN"],
        vec!["serve", "--sql-max-rows", "0"],
        vec!["generate", "--seed", "1", "--incident-rate", "NaN"],
        vec!["generate", "--seed", "1", "--scale", "1e300"],
        vec!["generate", "--seed", "1", "--scale", "inf"],
        vec!["generate", "--seed", "1", "--days", "10000000"],
        vec!["vacuum", "--retain", "forever"],
    ] {
        let out = ws
            .doralens(&args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn regression_keys_containing_the_old_separator_stay_distinct() {
    let ws = Workspace::new();
    // (repo, sha) = ("a\x1fb", "c") and ("a", "b\x1fc"): once joined alike.
    ws.write(
        "one.ndjson",
        "{\"repo\":\"a\\u001fb\",\"sha\":\"c\",\"parents\":[],\"authored_at\":\"2026-01-01T00:00:00Z\"}\n",
    );
    ws.write(
        "two.ndjson",
        "{\"repo\":\"a\",\"sha\":\"b\\u001fc\",\"parents\":[],\"authored_at\":\"2026-01-01T00:00:00Z\"}\n",
    );
    output_ok(ws.doralens(&["import", "commits", "one.ndjson"]));
    output_ok(ws.doralens(&["import", "commits", "two.ndjson"]));
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM commits"), "n\n2\n");
    // Both in one file are two keys, not a duplicate.
    let both = std::fs::read_to_string(ws.path("one.ndjson")).unwrap()
        + &std::fs::read_to_string(ws.path("two.ndjson")).unwrap();
    ws.write("both.ndjson", &both);
    output_ok(ws.doralens(&["import", "commits", "both.ndjson"]));
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM commits"), "n\n2\n");
}

#[test]
fn regression_a_huge_bad_cell_is_quoted_briefly() {
    let ws = Workspace::new();
    let huge = "x".repeat(10 << 20);
    ws.write(
        "deploys.csv",
        &format!("id,repo,service,environment,sha,status,finished_at\nd1,r,s,production,abc,success,{huge}\n"),
    );
    let out = ws
        .doralens(&["import", "deployments", "deploys.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.len() < 2_000, "{} bytes of error", err.len());
    assert!(
        err.contains("deploys.csv:2") && err.contains("finished_at"),
        "{err}"
    );
    assert!(err.contains("10485760 bytes"), "{err}");
}

/// The readable table was 20 machine-named columns, 300+ characters wide.
#[test]
fn regression_the_table_format_is_for_people_and_fits_100_columns() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&[
        "generate",
        "--seed",
        "2",
        "--teams",
        "3",
        "--days",
        "60",
        "--end",
        "2026-11-01",
    ]));
    let window = ["--from", "2026-09-01", "--to", "2026-11-01"];
    let run = |extra: &[&str]| {
        let mut args = vec!["metrics"];
        args.extend(window);
        args.extend(extra);
        String::from_utf8(output_ok(ws.doralens(&args)).stdout).unwrap()
    };
    let one = run(&[]);
    assert!(one.contains("Lead time for changes (median)"), "{one}");
    assert!(!one.contains("lead_time_p50_s"), "{one}");
    let many = run(&["--by", "team", "--interval", "week"]);
    assert!(
        many.contains("Deploys/day") && many.contains("Change fail"),
        "{many}"
    );
    let chosen = run(&["--by", "team", "--columns", "lead_time_p90_s,incidents"]);
    assert!(
        chosen.contains("Lead time p90") && chosen.contains("Incidents"),
        "{chosen}"
    );
    assert!(!chosen.contains("Deploys/day"), "{chosen}");
    for text in [&one, &many, &chosen] {
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 100, "{widest} characters wide:\n{text}");
    }
    let bad = ws
        .doralens(&["metrics", "--by", "team", "--columns", "speed"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("deploys_per_day"));
    // The machine formats are untouched: every column, raw numbers.
    let csv = run(&["--format", "csv"]);
    assert!(
        csv.starts_with("deployments,deploy_days,deploys_per_day,"),
        "{csv}"
    );
}

#[test]
fn delete_removes_exactly_the_named_keys_and_nothing_when_none_is_stored() {
    use doralens::store::schema::Table;
    let ws = Workspace::new();
    ws.write("a.csv", &deployments_csv(10, "success"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let wh = doralens::store::warehouse::Warehouse::open(ws.warehouse()).unwrap();
    let gone = wh
        .delete(Table::Deployments, &[vec!["d3".into()], vec!["d33".into()]])
        .unwrap();
    assert_eq!(gone, 1);
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n, sum(CASE WHEN id = 'd3' THEN 1 ELSE 0 END) AS d3 FROM deployments"),
        "n,d3\n9,0\n"
    );
    let version = wh.version(Table::Deployments).unwrap();
    assert_eq!(
        wh.delete(Table::Deployments, &[vec!["d3".into()]]).unwrap(),
        0
    );
    assert_eq!(
        wh.version(Table::Deployments).unwrap(),
        version,
        "no write when nothing goes"
    );
}

/// serve's own answers (the metrics, the lists) have a bound of their own,
/// `--answer-timeout`: at 10 M commits a new window's first answer took
/// 24 s, past `--sql-timeout`'s 10 s, which is for users' SQL.
#[test]
fn an_answer_past_its_timeout_is_a_503_naming_its_option_and_sql_keeps_its_own() {
    let ws = scenario_workspace();
    let server = serve(&ws, &["--answer-timeout", "0.001"]);
    let addr = server.addr.as_str();
    // SQL runs under --sql-timeout (300 s here), and opening the
    // warehouse under the longer of the two.
    let (status, _, body) = get(
        addr,
        &format!(
            "/api/v1/sql?q={}",
            encode("SELECT count(*) AS n FROM deployments")
        ),
    );
    assert_eq!((status, body.contains("\"n\":7")), (200, true), "{body}");
    let (status, _, body) = get(addr, "/api/v1/metrics?from=2026-01-01&to=2026-04-01");
    let shown: String = body.chars().take(400).collect();
    assert_eq!(status, 503, "{shown}");
    assert!(body.contains("(--answer-timeout)"), "{shown}");
    let (status, _, body) = get(addr, "/api/v1/deployments?from=2026-01-01&to=2026-04-01");
    assert_eq!(status, 503, "{body}");
    // The server goes on.
    let (status, _, body) = get(addr, "/");
    assert_eq!(status, 200, "{body}");
}

/// At 9.7 M commits the metrics outgrew serve's default --query-memory, and
/// the answer was a 500 whose text named DataFusion settings serve has no
/// option for.
#[test]
fn regression_a_metrics_answer_over_the_memory_limit_says_which_option_to_raise() {
    let ws = scenario_workspace();
    let server = serve(&ws, &["--query-memory", "1"]);
    let addr = server.addr.as_str();
    let (status, _, body) = get(addr, "/api/v1/metrics?from=2026-01-01&to=2026-04-01");
    let shown: String = body.chars().take(400).collect();
    assert_eq!(status, 503, "{shown}");
    assert!(
        body.contains("--query-memory allows (1 MiB per query)"),
        "{shown}"
    );
    assert!(!body.contains("datafusion."), "{shown}");
    // The server goes on.
    let (status, _, body) = get(addr, "/");
    assert_eq!(status, 200, "{body}");
}
