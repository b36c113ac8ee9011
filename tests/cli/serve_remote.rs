//! `serve` over a `file://` object-store warehouse (feature `cloud`): it
//! follows commits made by other processes and keeps its last snapshot
//! when the location goes away.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::dashboards::{Served, encode, get, request_with};
use crate::util::{Workspace, output_ok};

fn count(addr: &str) -> String {
    let q = encode("SELECT count(*) AS n FROM deployments");
    let (status, _, body) = get(addr, &format!("/api/v1/sql?q={q}"));
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn serve_follows_a_file_url_warehouse_and_survives_losing_it() {
    let mut ws = Workspace::new();
    let store = ws.path("store");
    ws.location = Some(format!("file://{}", store.display()));
    ws.env = vec![(
        "DORALENS_CACHE".into(),
        ws.path("cache").display().to_string(),
    )];
    output_ok(ws.doralens(&["generate"]));
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("doralens"));
    cmd.envs(ws.env.iter().map(|(k, v)| (k, v)))
        .env_remove("DORALENS_WAREHOUSE")
        .args(["--warehouse", ws.location.as_deref().unwrap()])
        .env("DORALENS_INGEST_TOKEN", "push-token-1")
        .args(["serve", "--addr", "127.0.0.1:0", "--refresh", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("http://").unwrap().to_string();
    let server = Served { child, addr };
    let before = count(&server.addr);
    let sql = output_ok(ws.doralens(&[
        "sql",
        "SELECT count(*) AS n FROM deployments",
        "--format",
        "json",
    ]));
    let n: u64 = before
        .split("\"n\":")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(String::from_utf8_lossy(&sql.stdout).contains(&n.to_string()));

    let file = ws.write(
        "d.ndjson",
        "{\"id\":\"extra-1\",\"repo\":\"acme/x\",\"service\":\"x\",\"environment\":\"production\",\"sha\":\"abc\",\"status\":\"success\",\"started_at\":\"2026-11-01T00:00:00Z\",\"finished_at\":\"2026-11-01T00:01:00Z\"}\n",
    );
    output_ok(ws.doralens(&["import", "deployments", file.to_str().unwrap()]));
    let want = format!("\"n\":{}", n + 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !count(&server.addr).contains(&want) {
        assert!(Instant::now() < deadline, "serve never saw the import");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A push is committed to the object store (as one `syncs` run), so
    // another process reading the location sees it, and so does `serve`.
    let (status, _, answer) = request_with(
        &server.addr,
        "POST",
        "/api/v1/deployments",
        &["Authorization: Bearer push-token-1"],
        r#"[{"id":"pushed-1","repo":"acme/x","service":"x","environment":"production","sha":"abd","status":"success","finished_at":"2026-11-01T00:02:00Z"}]"#,
    );
    assert_eq!(status, 200, "{answer}");
    let want = format!("\"n\":{}", n + 2);
    assert!(count(&server.addr).contains(&want), "serve sees its push");
    let other = output_ok(ws.doralens(&[
        "sql",
        "SELECT (SELECT count(*) FROM deployments WHERE id = 'pushed-1') AS pushed, \
         (SELECT count(*) FROM syncs WHERE source = 'push' AND outcome = 'ok') AS runs",
        "--format",
        "csv",
    ]));
    assert_eq!(String::from_utf8_lossy(&other.stdout), "pushed,runs\n1,1\n");
    // The requests so far are in the audit log `audit` reads for the
    // location (kept in its cache: the working copy goes with the server).
    let audit = output_ok(ws.doralens(&["audit", "--since", "1d", "--format", "csv"]));
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains(",POST,/api/v1/deployments,"), "{audit}");
    assert!(audit.contains(",GET,/api/v1/sql,"), "{audit}");
    assert!(!audit.contains("push-token-1"), "{audit}");

    std::fs::rename(&store, ws.path("store.gone")).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        count(&server.addr).contains(&want),
        "the last snapshot is served"
    );
}
