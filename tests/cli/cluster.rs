//! The metric SQL on a Ballista cluster (feature `cluster`): the in-process
//! standalone cluster, and a scheduler with two executors as separate
//! `doralens cluster` processes on 127.0.0.1 reading an S3 warehouse
//! (moto), give the numbers local execution gives.

use std::process::{Child, Command, Stdio};

use crate::cloud::{S3Server, stderr, stdout};
use crate::scenarios::check_golden_scenarios;
use crate::util::{SMALL_ORG, TEAM_MONTHS, Workspace, free_port, output_ok, wait_for_port};

fn with_cluster(mut ws: Workspace, target: &str) -> Workspace {
    ws.env.push(("DORALENS_CLUSTER".into(), target.into()));
    ws
}

#[test]
fn the_standalone_cluster_gives_the_golden_numbers() {
    let cases = check_golden_scenarios(|| with_cluster(Workspace::new(), "standalone"));
    assert!(cases >= 15, "only {cases} golden cases ran");
}

#[test]
fn the_standalone_cluster_reads_an_s3_warehouse() {
    let server = S3Server::start(None);
    server.bucket("standalone");
    let next = std::cell::Cell::new(0);
    let cases = check_golden_scenarios(|| {
        next.set(next.get() + 1);
        with_cluster(
            server.workspace("standalone", &format!("s{}", next.get())),
            "standalone",
        )
    });
    assert!(cases >= 15, "only {cases} golden cases ran");
}

/// `doralens cluster ...` processes, killed when dropped.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_scheduler_and_two_executor_processes_agree_with_local_execution_and_the_golden_numbers() {
    let server = S3Server::start(None);
    server.bucket("cluster");
    let s3 = server.workspace("cluster", "org");
    let scheduler_port = free_port();
    let binary = assert_cmd::cargo::cargo_bin("doralens");
    let mut processes = Processes(Vec::new());
    processes.0.push(
        Command::new(&binary)
            .args(["cluster", "scheduler", "--bind"])
            .arg(format!("127.0.0.1:{scheduler_port}"))
            // The scheduler plans over the store's files: it reads them too.
            .envs(s3.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(scheduler_port);
    for _ in 0..2 {
        let (port, grpc) = (free_port(), free_port());
        processes.0.push(
            Command::new(&binary)
                .args(["cluster", "executor", "--concurrency", "2", "--scheduler"])
                .arg(format!("127.0.0.1:{scheduler_port}"))
                .arg("--bind")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--grpc-port")
                .arg(grpc.to_string())
                .envs(s3.env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for_port(port);
    }
    let generate = SMALL_ORG;
    output_ok(s3.doralens(&generate));
    let cluster = with_cluster(
        server.workspace("cluster", "org"),
        &format!("df://127.0.0.1:{scheduler_port}"),
    );
    for args in [
        TEAM_MONTHS.to_vec(),
        vec![
            "metrics",
            "--from",
            "2026-07-01",
            "--to",
            "2026-11-01",
            "--format",
            "csv",
        ],
        vec![
            "sql",
            "SELECT t.team, count(*) AS commits FROM deployment_commits dc \
             JOIN deployments d ON d.id = dc.deployment_id JOIN teams t ON t.service = d.service \
             GROUP BY t.team ORDER BY t.team",
            "--format",
            "csv",
        ],
    ] {
        let here = stdout(&output_ok(s3.doralens(&args)));
        let there = output_ok(cluster.doralens(&args));
        assert_eq!(stdout(&there), here, "{args:?}: {}", stderr(&there));
        assert!(here.lines().count() > 1, "{here}");
    }
    // And every golden scenario's hand-checked numbers, on the cluster.
    let next = std::cell::Cell::new(0);
    let cases = check_golden_scenarios(|| {
        next.set(next.get() + 1);
        with_cluster(
            server.workspace("cluster", &format!("golden-{}", next.get())),
            &format!("df://127.0.0.1:{scheduler_port}"),
        )
    });
    assert!(cases >= 15, "only {cases} golden cases ran");
}
