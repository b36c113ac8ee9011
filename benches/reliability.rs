//! A longer soak than `tests/cli/reliability.rs`: readers against replacing
//! imports, and kill -9 at many moments of an import, on one warehouse;
//! every answer is checked against the known truth. Prints the trials and
//! the wrong answers (which must be 0).
//!
//! `cargo bench --bench reliability` (`DORALENS_SOAK_WRITES`, default 200,
//! and `DORALENS_SOAK_KILLS`, default 60, set the sizes).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ROWS: usize = 20_000;

fn doralens(warehouse: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doralens"));
    cmd.env_remove("DORALENS_WAREHOUSE")
        .arg("--warehouse")
        .arg(warehouse)
        .stderr(Stdio::null());
    cmd
}

fn deployments_csv(path: &Path, status: &str) {
    let mut out = String::from("id,repo,service,environment,sha,status,finished_at\n");
    for i in 0..ROWS {
        out.push_str(&format!(
            "d{i},acme/api,api,production,{:040x},{status},2026-10-{:02}T{:02}:00:00Z\n",
            i + 1,
            1 + i % 27,
            i % 24
        ));
    }
    std::fs::write(path, out).unwrap();
}

fn import(warehouse: &Path, file: &Path) {
    let status = doralens(warehouse)
        .args(["import", "deployments"])
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn answer(warehouse: &Path) -> Option<String> {
    let out = doralens(warehouse)
        .args([
            "sql",
            "SELECT count(*) AS n, count(DISTINCT status) AS s FROM deployments",
            "--format",
            "csv",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let dir: PathBuf = std::env::temp_dir().join(format!("doralens-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b, wh) = (dir.join("a.csv"), dir.join("b.csv"), dir.join("warehouse"));
    deployments_csv(&a, "success");
    deployments_csv(&b, "failure");
    import(&wh, &a);
    let truth = format!("n,s\n{ROWS},1\n");

    // Readers against replacing imports.
    let writes = count("DORALENS_SOAK_WRITES", 200);
    let done = AtomicBool::new(false);
    let (answers, wrong) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..writes {
                import(&wh, if i % 2 == 0 { &b } else { &a });
            }
            done.store(true, Ordering::SeqCst);
        });
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    answers.fetch_add(1, Ordering::SeqCst);
                    if answer(&wh).as_deref() != Some(truth.as_str()) {
                        wrong.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    println!(
        "soak readers: {writes} replacing imports of {ROWS} rows, {} answers checked, {} wrong ({:.0} s)",
        answers.load(Ordering::SeqCst),
        wrong.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );

    // kill -9 at spread-out moments of an import.
    let kills = count("DORALENS_SOAK_KILLS", 60);
    let (mut killed, mut bad) = (0, 0);
    for trial in 0..kills {
        let mut child = doralens(&wh)
            .args(["import", "deployments"])
            .arg(if trial % 2 == 0 { &b } else { &a })
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(5 + (trial as u64 * 37) % 400);
        let t = Instant::now();
        while t.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        if answer(&wh).as_deref() != Some(truth.as_str()) {
            bad += 1;
        }
    }
    println!("soak kill -9 during import: {kills} trials ({killed} killed mid-run), {bad} wrong");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(wrong.load(Ordering::SeqCst) + bad, 0, "wrong answers");
}
