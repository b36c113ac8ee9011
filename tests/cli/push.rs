//! `serve`'s push endpoint: `POST /api/v1/deployments|incidents` with the
//! ingest token.

use serde_json::Value;

use crate::dashboards::{encode, get, request, request_with, serve, serve_with_env};
use crate::util::{Workspace, output_ok};

const TOKEN: &str = "push-secret-4242";
const AUTH: &str = "Authorization: Bearer push-secret-4242";

fn empty_warehouse() -> Workspace {
    let ws = Workspace::new();
    let file = ws.write("teams.csv", "team,service\npayments,api\n");
    output_ok(ws.doralens(&["import", "teams", file.to_str().unwrap()]));
    ws
}

fn count(addr: &str, table: &str) -> u64 {
    let (status, _, body) = get(
        addr,
        &format!(
            "/api/v1/sql?q={}",
            encode(&format!("SELECT count(*) AS n FROM {table}"))
        ),
    );
    assert_eq!(status, 200, "{body}");
    let rows: Value = serde_json::from_str(&body).unwrap();
    rows["rows"][0]["n"]
        .as_u64()
        .or_else(|| rows[0]["n"].as_u64())
        .unwrap_or_else(|| panic!("{body}"))
}

fn deployment(id: &str, status: &str) -> String {
    format!(
        r#"{{"id":"{id}","repo":"acme/api","service":"api","environment":"production","sha":"abc123","status":"{status}","finished_at":"2026-11-10T10:00:00Z"}}"#
    )
}

#[test]
fn push_endpoint_does_not_exist_without_the_token() {
    let ws = empty_warehouse();
    let served = serve(&ws, &[]);
    let (status, _, _) = request(
        &served.addr,
        "POST",
        "/api/v1/deployments",
        &deployment("d1", "success"),
    );
    assert_eq!(status, 404);
}

#[test]
fn pushed_rows_are_validated_upserted_and_read_at_once() {
    let ws = empty_warehouse();
    let served = serve_with_env(
        &ws,
        &["--max-body", "4096"],
        &[("DORALENS_INGEST_TOKEN", TOKEN)],
    );
    let addr = &served.addr;
    let two = format!(
        "[{},{}]",
        deployment("d1", "success"),
        deployment("d2", "failure")
    );
    // No token, a wrong one: 401, and the answer never echoes a token.
    let (status, _, body) = request(addr, "POST", "/api/v1/deployments", &two);
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = request_with(
        addr,
        "POST",
        "/api/v1/deployments",
        &["Authorization: Bearer wrong-guess"],
        &two,
    );
    assert_eq!(status, 401);
    assert!(
        !body.contains("wrong-guess") && !body.contains(TOKEN),
        "{body}"
    );

    let (status, _, body) = request_with(addr, "POST", "/api/v1/deployments", &[AUTH], &two);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["written"].as_u64(), answer["total"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(count(addr, "deployments"), 2);
    // A retried POST changes nothing.
    let (_, _, body) = request_with(addr, "POST", "/api/v1/deployments", &[AUTH], &two);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["replaced"].as_u64(), answer["total"].as_u64()),
        (Some(2), Some(2))
    );

    // The second item is wrong: 400 naming it, nothing written.
    let bad = format!(
        "[{},{}]",
        deployment("d3", "success"),
        deployment("d4", "shipped")
    );
    let (status, _, body) = request_with(addr, "POST", "/api/v1/deployments", &[AUTH], &bad);
    assert_eq!(status, 400, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["item"], 2, "{body}");
    assert_eq!(answer["field"], "status", "{body}");
    assert!(
        answer["message"].as_str().unwrap().contains("success"),
        "{body}"
    );
    assert_eq!(count(addr, "deployments"), 2);
    // Not JSON, a missing required field.
    let (status, _, body) = request_with(addr, "POST", "/api/v1/incidents", &[AUTH], "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = request_with(
        addr,
        "POST",
        "/api/v1/incidents",
        &[AUTH],
        r#"{"id":"INC-1","service":"api"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("created_at"), "{body}");

    // One object (not an array) is one row.
    let (status, _, body) = request_with(
        addr,
        "POST",
        "/api/v1/incidents",
        &[AUTH],
        r#"{"id":"INC-1","service":"api","created_at":"2026-11-10T10:30:00Z","resolved_at":"2026-11-10T11:00:00Z","deployment_id":"d1"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(count(addr, "incidents"), 1);

    // Larger than --max-body: 413.
    let big = format!("[{}]", vec![deployment("dx", "success"); 40].join(","));
    let (status, _, _) = request_with(addr, "POST", "/api/v1/deployments", &[AUTH], &big);
    assert_eq!(status, 413);
    drop(served);
    // What the server wrote is an ordinary, consistent warehouse.
    assert_eq!(
        ws.sql_csv("SELECT id, status FROM deployments ORDER BY id"),
        "id,status\nd1,success\nd2,failure\n"
    );
    // Provenance: each accepted push is one `syncs` run, each row names
    // its item; rejected bodies wrote nothing, not even a run.
    assert_eq!(
        ws.sql_csv("SELECT id, _source, _origin FROM deployments ORDER BY id"),
        "id,_source,_origin\nd1,push,POST /api/v1/deployments item 1\n\
         d2,push,POST /api/v1/deployments item 2\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT source, \"rows\", outcome FROM syncs ORDER BY id"),
        "source,rows,outcome\nimport,1,ok\npush,2,ok\npush,2,ok\npush,1,ok\n"
    );
}

#[test]
fn concurrent_pushes_and_reads_keep_the_warehouse_whole() {
    let ws = empty_warehouse();
    let served = serve_with_env(&ws, &[], &[("DORALENS_INGEST_TOKEN", TOKEN)]);
    let addr = served.addr.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let addr = addr.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let n = count(&addr, "deployments");
                assert!(n >= last, "the count went back from {last} to {n}");
                assert_eq!(n % 5, 0, "a push of 5 rows was seen half-written: {n}");
                last = n;
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for batch in 0..4 {
                    let rows: Vec<String> = (0..5)
                        .map(|i| deployment(&format!("w{w}-b{batch}-{i}"), "success"))
                        .collect();
                    let (status, _, body) = request_with(
                        &addr,
                        "POST",
                        "/api/v1/deployments",
                        &[AUTH],
                        &format!("[{}]", rows.join(",")),
                    );
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(count(&addr, "deployments"), 120);
}
