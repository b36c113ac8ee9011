//! `doralens ingest git` against `git log --format='%H %P %at %ct'` on the
//! same large history (issue #3's target: within 1.5x of git log's time).
//!
//! `cargo bench --bench git_ingest [-- --commits N]` builds a bare repository
//! with `git fast-import` (N commits, default 300 000; a feature branch merged
//! every 10 commits, a tag every 1 000), cached under
//! `target/doralens-bench/`. Each side runs 3 times; the best wall time and
//! the peak memory (VmHWM for doralens, `/usr/bin/time`-free: children's
//! max RSS from getrusage) are reported.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn commits_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--commits")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000)
}

fn bench_root() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("doralens-bench")
}

/// A fast-import stream: main gets a commit per step; every 10th step a
/// two-commit feature branch is merged with --no-ff semantics.
fn build_repo(dir: &Path, n: usize) {
    let _ = std::fs::remove_dir_all(dir);
    let status = Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
    let mut mark = 0usize;
    let mut main_tip = 0usize;
    let mut t = 1_700_000_000u64;
    let mut written = 0usize;
    let mut commit =
        |w: &mut dyn Write, branch: &str, parents: &[usize], msg: &str, t: u64| -> usize {
            mark += 1;
            writeln!(w, "commit refs/heads/{branch}").unwrap();
            writeln!(w, "mark :{mark}").unwrap();
            writeln!(w, "author Dev <dev@example.com> {t} +0000").unwrap();
            writeln!(w, "committer Dev <dev@example.com> {t} +0000").unwrap();
            writeln!(w, "data {}\n{msg}", msg.len()).unwrap();
            if let Some(first) = parents.first() {
                writeln!(w, "from :{first}").unwrap();
            }
            for p in parents.iter().skip(1) {
                writeln!(w, "merge :{p}").unwrap();
            }
            let content = format!("{mark}\n");
            writeln!(
                w,
                "M 644 inline f{}.txt\ndata {}\n{content}",
                mark % 97,
                content.len()
            )
            .unwrap();
            mark
        };
    while written < n {
        t += 600;
        if written % 10 == 9 && main_tip > 0 {
            let a = commit(&mut w, "feature", &[main_tip], "Feature part 1", t);
            let b = commit(&mut w, "feature", &[a], "Feature part 2", t + 60);
            main_tip = commit(
                &mut w,
                "main",
                &[main_tip, b],
                "Merge branch 'feature'",
                t + 120,
            );
            written += 3;
        } else {
            let parents: Vec<usize> = if main_tip > 0 { vec![main_tip] } else { vec![] };
            main_tip = commit(&mut w, "main", &parents, "Change something", t);
            written += 1;
        }
        if written % 1000 < 3 {
            writeln!(w, "reset refs/tags/v{}\nfrom :{main_tip}\n", written / 1000).unwrap();
        }
    }
    drop(w);
    assert!(child.wait().unwrap().success());
    // Packed and with a commit-graph, as a real clone is after `git gc`.
    assert!(
        Command::new("git")
            .args(["gc", "-q"])
            .current_dir(dir)
            .status()
            .unwrap()
            .success()
    );
}

fn max_child_rss_mib() -> f64 {
    // SAFETY: getrusage with a valid pointer to zeroed memory.
    let mut usage: libc_rusage = unsafe { std::mem::zeroed() };
    unsafe { getrusage(-1, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

#[repr(C)]
struct libc_rusage {
    ru_utime: [i64; 2],
    ru_stime: [i64; 2],
    ru_maxrss: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn getrusage(who: i32, usage: *mut libc_rusage) -> i32;
}

fn main() {
    if std::env::var("DORALENS_BENCH_TASK").as_deref() == Ok("ingest") {
        let repo = PathBuf::from(std::env::var("DORALENS_BENCH_REPO").unwrap());
        let wh_dir = PathBuf::from(std::env::var("DORALENS_BENCH_WH").unwrap());
        let _ = std::fs::remove_dir_all(&wh_dir);
        let wh = doralens::store::warehouse::Warehouse::open(&wh_dir).unwrap();
        let opts = doralens::ingest::git::GitOptions {
            deploy_tags: Some("v*".into()),
            full: true,
            ..Default::default()
        };
        let report =
            doralens::ingest::git::ingest(&wh, &repo, &opts, &indicatif::ProgressBar::hidden())
                .unwrap();
        println!(
            "{} commits, {} deployments",
            report.commits, report.deployments
        );
        return;
    }
    let n = commits_arg();
    let root = bench_root().join(format!("git-{n}"));
    let repo = root.join("repo.git");
    if !root.join(".complete").exists() {
        let started = Instant::now();
        build_repo(&repo, n);
        std::fs::write(root.join(".complete"), b"ok").unwrap();
        eprintln!(
            "built a {n}-commit repository in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    let time = |mut cmd: Command| -> f64 {
        let started = Instant::now();
        let out = cmd.stdout(Stdio::null()).status().unwrap();
        assert!(out.success());
        started.elapsed().as_secs_f64()
    };
    let git_log = || {
        let mut c = Command::new("git");
        c.args(["log", "--all", "--format=%H %P %at %ct"])
            .current_dir(&repo);
        c
    };
    let best_git = (0..3)
        .map(|_| time(git_log()))
        .fold(f64::INFINITY, f64::min);
    let git_rss = max_child_rss_mib();
    let exe = std::env::current_exe().unwrap();
    let ingest = || {
        let mut c = Command::new(&exe);
        c.env("DORALENS_BENCH_TASK", "ingest")
            .env("DORALENS_BENCH_REPO", &repo)
            .env("DORALENS_BENCH_WH", root.join("warehouse"));
        c
    };
    let best_ingest = (0..3).map(|_| time(ingest())).fold(f64::INFINITY, f64::min);
    let max_rss = max_child_rss_mib();
    println!("| {n} commits | best of 3 (s) | peak RSS MiB |\n|---|---|---|");
    println!("| git log --all --format='%H %P %at %ct' | {best_git:.2} | {git_rss:.0} |");
    println!(
        "| doralens ingest git (commits + tags → Parquet) | {best_ingest:.2} | {max_rss:.0} (max of all children) |"
    );
    println!("ratio: {:.2}x git log", best_ingest / best_git);
}
