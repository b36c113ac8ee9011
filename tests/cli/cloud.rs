//! The warehouse on object storage (feature `cloud`), against a real
//! S3-compatible server: moto's server (PyPI `moto[server]`, installed by
//! .ci/setup) on 127.0.0.1, reached through object_store's S3 client with
//! conditional puts (`If-None-Match: *`), as AWS S3 itself is.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::reliability::kill_after;
use crate::scenarios::{check_golden_scenarios, load_scenario};
use crate::util::{
    SMALL_ORG, TEAM_MONTHS, Workspace, free_port, output_ok, repo_root, wait_for_port,
};

const KEY_ID: &str = "doralens-test-key";
const SECRET: &str = "s3cr3t-d0ralens-never-printed";

/// A moto S3 server on a free port of 127.0.0.1, stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("DORALENS_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let tools = std::env::var_os("DORALENS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/doralens-tools")
        });
    let path = tools.join("venv/bin/moto_server");
    assert!(
        path.exists(),
        "{} is missing: run `bash .ci/setup` (it installs moto's S3 server), or set DORALENS_MOTO_SERVER",
        path.display()
    );
    path
}

impl S3Server {
    /// `auth_after`: with Some(n), moto checks credentials after its first
    /// n requests (it knows none of ours, so every later request is refused).
    pub fn start(auth_after: Option<u32>) -> S3Server {
        let port = free_port();
        let mut cmd = Command::new(moto_server());
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = auth_after {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().expect("moto_server starts");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        wait_for_port(port);
        server
    }

    /// Creates a bucket (moto accepts an unsigned PUT).
    pub fn bucket(&self, name: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "bucket {name}: {response}"
        );
    }

    /// A workspace whose `doralens` runs on `s3://<bucket>/<prefix>`.
    pub fn workspace(&self, bucket: &str, prefix: &str) -> Workspace {
        let mut ws = Workspace::new();
        ws.location = Some(format!("s3://{bucket}/{prefix}"));
        ws.env = vec![
            ("AWS_ACCESS_KEY_ID".into(), KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT".into(), self.endpoint.clone()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
            (
                "DORALENS_CACHE".into(),
                ws.path("cache").display().to_string(),
            ),
        ];
        ws
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `doralens ARGS` on the workspace's location as a plain process (to kill).
fn process(ws: &Workspace, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("doralens"));
    cmd.current_dir(ws.dir.path())
        .env_remove("DORALENS_WAREHOUSE")
        .envs(ws.env.iter().map(|(k, v)| (k, v)))
        .arg("--warehouse")
        .arg(ws.location.as_deref().unwrap())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// `doralens sql QUERY --format csv` on the workspace's location.
fn sql(ws: &Workspace, query: &str) -> String {
    stdout(&output_ok(ws.doralens(&["sql", query, "--format", "csv"])))
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn golden_scenarios_on_s3_give_the_hand_checked_numbers() {
    let server = S3Server::start(None);
    server.bucket("golden");
    let next = std::cell::Cell::new(0);
    let cases = check_golden_scenarios(|| {
        next.set(next.get() + 1);
        server.workspace("golden", &format!("scenario-{}", next.get()))
    });
    assert!(cases >= 15, "only {cases} golden cases ran");
}

#[test]
fn an_s3_warehouse_and_a_directory_agree_on_a_generated_organisation() {
    let server = S3Server::start(None);
    server.bucket("org");
    let s3 = server.workspace("org", "acme/warehouse");
    let local = Workspace::new();
    let generate = SMALL_ORG;
    output_ok(local.doralens(&generate));
    let first = output_ok(s3.doralens(&generate));
    assert!(stderr(&first).contains("committed version 1 of s3://org/acme/warehouse"));

    let metrics = TEAM_MONTHS;
    let want = stdout(&output_ok(local.doralens(&metrics)));
    assert!(want.lines().count() > 3, "{want}");
    // The first read computes attribution and commits it for everyone.
    let computed = output_ok(s3.doralens(&metrics));
    assert_eq!(stdout(&computed), want);
    assert!(
        stderr(&computed).contains("committed version 2"),
        "{}",
        stderr(&computed)
    );
    // A reader with an empty cache finds it there: nothing to commit.
    let mut fresh = server.workspace("org", "acme/warehouse");
    fresh.env.retain(|(k, _)| k != "DORALENS_CACHE");
    fresh.env.push((
        "DORALENS_CACHE".into(),
        s3.path("cache2").display().to_string(),
    ));
    let reused = output_ok(fresh.doralens(&metrics));
    assert_eq!(stdout(&reused), want);
    assert!(
        !stderr(&reused).contains("committed"),
        "{}",
        stderr(&reused)
    );

    let sql = [
        "sql",
        "SELECT team, count(*) AS n FROM deployments d JOIN teams t ON d.service = t.service GROUP BY team ORDER BY team",
        "--format",
        "csv",
    ];
    assert_eq!(
        stdout(&output_ok(s3.doralens(&sql))),
        stdout(&output_ok(local.doralens(&sql)))
    );
    // The report reads the same numbers.
    for (ws, dir) in [(&local, "report-local"), (&s3, "report-s3")] {
        let out = ws.path(dir);
        output_ok(ws.doralens(&[
            "report",
            "--week",
            "2026-W43",
            "--out",
            out.to_str().unwrap(),
        ]));
    }
    let read = |ws: &Workspace, dir: &str| {
        std::fs::read_to_string(ws.path(dir).join("report.md")).unwrap()
    };
    assert_eq!(read(&s3, "report-s3"), read(&local, "report-local"));
}

#[test]
fn concurrent_writers_on_s3_lose_nothing() {
    let server = S3Server::start(None);
    server.bucket("race");
    let ws = server.workspace("race", "w");
    let writers = 4;
    let per_writer = 3;
    let mut files = Vec::new();
    for w in 0..writers {
        for round in 0..per_writer {
            let mut csv = String::from("id,repo,service,environment,sha,status,finished_at\n");
            for i in 0..50 {
                csv.push_str(&format!(
                    "w{w}-r{round}-{i},acme/api,api,production,{:040x},success,2026-10-{:02}T10:00:00Z\n",
                    i + 1,
                    1 + i % 27
                ));
            }
            files.push((w, ws.write(&format!("w{w}-{round}.csv"), &csv)));
        }
    }
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let mine: Vec<PathBuf> = files
                .iter()
                .filter(|(o, _)| *o == w)
                .map(|(_, f)| f.clone())
                .collect();
            let mut cmds = Vec::new();
            for file in mine {
                let mut cmd = ws.doralens(&["import", "deployments"]);
                cmd.arg(file);
                cmds.push(cmd);
            }
            std::thread::spawn(move || {
                let mut retried = 0;
                for mut cmd in cmds {
                    let out = cmd.output().unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    retried += String::from_utf8_lossy(&out.stderr)
                        .matches("running again")
                        .count();
                }
                retried
            })
        })
        .collect();
    let retried: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let got = sql(
        &ws,
        "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM deployments",
    );
    let n = writers * per_writer * 50;
    assert_eq!(got, format!("n,ids\n{n},{n}\n"));
    eprintln!(
        "cloud: {writers} writers x {per_writer} imports: {retried} re-runs after a lost commit, 0 rows lost"
    );
}

#[test]
fn a_writer_killed_mid_upsert_on_s3_leaves_the_last_commit() {
    let server = S3Server::start(None);
    server.bucket("kill");
    let ws = server.workspace("kill", "w");
    let rows = 40_000;
    let csv = |status: &str| {
        let mut out = String::from("id,repo,service,environment,sha,status,finished_at\n");
        for i in 0..rows {
            out.push_str(&format!(
                "d{i},acme/api,api,production,{:040x},{status},2026-10-{:02}T{:02}:00:00Z\n",
                i + 1,
                1 + i % 27,
                i % 24
            ));
        }
        out
    };
    ws.write("a.csv", &csv("success"));
    ws.write("b.csv", &csv("failure"));
    output_ok(ws.doralens(&["import", "deployments", "a.csv"]));
    let query = "SELECT count(*) AS n, count(DISTINCT status) AS s FROM deployments";
    let (mut killed, mut committed) = (0, 0);
    for trial in 0..10u64 {
        let file = if trial % 2 == 0 { "b.csv" } else { "a.csv" };
        let delay = Duration::from_millis(100 + trial * 120);
        if kill_after(process(&ws, &["import", "deployments", file]), delay) {
            killed += 1;
        } else {
            committed += 1;
        }
        // Readable, complete, one import's rows only.
        let got = sql(&ws, query);
        assert_eq!(got, format!("n,s\n{rows},1\n"), "trial {trial}");
    }
    output_ok(ws.doralens(&["import", "deployments", "b.csv"]));
    assert_eq!(
        sql(
            &ws,
            "SELECT count(*) AS n FROM deployments WHERE status = 'failure'"
        ),
        format!("n\n{rows}\n")
    );
    // Vacuum keeps the young objects a running writer could still commit.
    let out = output_ok(ws.doralens(&["vacuum"]));
    assert!(
        stderr(&out).contains("removed 0 objects"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sql(&ws, query), format!("n,s\n{rows},1\n"));
    eprintln!(
        "cloud: kill -9 during an S3 import: 10 trials ({killed} killed, {committed} finished), 0 wrong"
    );
}

#[test]
fn refused_credentials_exit_2_and_are_never_printed() {
    // moto checks credentials after the bucket's creation; it knows none.
    let server = S3Server::start(Some(1));
    server.bucket("locked");
    let ws = server.workspace("locked", "w");
    load_scenario_expecting_refusal(&ws);
}

fn load_scenario_expecting_refusal(ws: &Workspace) {
    let file = repo_root().join("fixtures/scenarios/incident_links/deployments.csv");
    for args in [
        vec!["import", "deployments", file.to_str().unwrap()],
        vec!["metrics"],
    ] {
        let out = ws.doralens(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
        assert!(!text.contains(SECRET), "the secret was printed: {text}");
    }
}

#[test]
fn an_empty_location_is_an_error_for_readers() {
    let server = S3Server::start(None);
    server.bucket("empty");
    let ws = server.workspace("empty", "nothing-here");
    let out = ws.doralens(&["metrics"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds no warehouse yet"),
        "{}",
        stderr(&out)
    );
    // And a golden scenario loads into it like into a directory.
    load_scenario(&ws, &repo_root().join("fixtures/scenarios/incident_links"));
    output_ok(ws.doralens(&["metrics"]));
}
