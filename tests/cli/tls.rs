//! `serve --tls-cert --tls-key`: HTTPS with a certificate made by openssl
//! (installed by `.ci/setup`), read by Python's TLS client trusting only it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::access::create_token;
use crate::dashboards::Served;
use crate::util::{SMALL_ORG, Workspace, output_ok};

fn certificate(ws: &Workspace) -> (String, String) {
    let cert = ws.path("cert.pem").display().to_string();
    let key = ws.path("key.pem").display().to_string();
    let run = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-keyout", &key, "-out", &cert])
        .output()
        .expect("openssl is missing: run the tests with `bash .ci/test` (it installs it)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (cert, key)
}

/// GET over HTTPS trusting only `cert`: (status, body), or the client's error.
fn https_get(url: &str, cert: &str, token: &str) -> String {
    let script = r#"
import ssl, sys, urllib.request, urllib.error
context = ssl.create_default_context(cafile=sys.argv[2])
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[3]})
try:
    with urllib.request.urlopen(request, context=context, timeout=60) as r:
        print(r.status, r.read().decode()[:100000])
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode()[:200])
except Exception as e:
    print("error", e)
"#;
    let out = Command::new("python3")
        .args(["-c", script, url, cert, token])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn serve_answers_over_https_with_the_given_certificate() {
    let ws = Workspace::new();
    output_ok(ws.doralens(&SMALL_ORG));
    let token = create_token(&ws, &["--role", "viewer", "--name", "tls"]);
    let (cert, key) = certificate(&ws);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("doralens"))
        .arg("--warehouse")
        .arg(ws.warehouse())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let served = Served {
        child,
        addr: line.trim().trim_start_matches("https://").to_string(),
    };
    assert!(line.starts_with("https://127.0.0.1:"), "{line}");
    let base = line.trim();
    let answer = https_get(
        &format!("{base}/api/v1/metrics?from=2026-08-01&to=2026-11-01"),
        &cert,
        &token,
    );
    assert!(
        answer.starts_with("200 {") && answer.contains("\"rows\":[{\""),
        "{answer}"
    );
    assert!(https_get(&format!("{base}/metrics"), &cert, "wrong").starts_with("401"));
    // Plain HTTP gets no answer from a TLS port.
    let plain = https_get(&format!("http://{}/metrics", served.addr), &cert, &token);
    assert!(plain.starts_with("error"), "{plain}");
    // A missing key file: exit 2, naming it.
    let out = ws
        .doralens(&[
            "serve",
            "--tls-cert",
            &cert,
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/key.pem"));
    // One without the other is refused by the argument parser.
    let out = ws
        .doralens(&["serve", "--tls-cert", &cert])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
