//! Test helpers: a temp workspace with its own warehouse, and the binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// `--warehouse` for [`Workspace::doralens`] when not `<ws>/warehouse`
    /// (an object-store URL), and the environment its commands get.
    pub location: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
            location: None,
            env: Vec::new(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn warehouse(&self) -> PathBuf {
        self.path("warehouse")
    }

    /// `doralens --warehouse <ws>/warehouse ARGS...` (or the workspace's
    /// object-store location, with its environment)
    pub fn doralens(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.location {
            Some(url) => self.doralens_in(Path::new(url), args),
            None => self.doralens_in(&self.warehouse(), args),
        };
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `doralens --warehouse WAREHOUSE ARGS...`, run inside the workspace.
    pub fn doralens_in(&self, warehouse: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("doralens").expect("binary");
        cmd.current_dir(self.dir.path())
            .env_remove("DORALENS_WAREHOUSE")
            .env_remove("DORALENS_CLUSTER")
            .arg("--warehouse")
            .arg(warehouse)
            .args(args);
        cmd
    }

    /// `doralens sql QUERY --format csv EXTRA...` on `warehouse`; asserts success.
    pub fn sql_csv_in(&self, warehouse: &Path, query: &str, extra: &[&str]) -> String {
        let mut args = vec!["sql", query, "--format", "csv"];
        args.extend(extra);
        let out = self.doralens_in(warehouse, &args).output().expect("runs");
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `sql_csv_in` on the workspace's own warehouse.
    pub fn sql_csv(&self, query: &str) -> String {
        self.sql_csv_in(&self.warehouse(), query, &[])
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }
}

/// Runs a command, asserts it succeeded (showing its stderr if not), and
/// returns its output.
pub fn output_ok(mut cmd: Command) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `generate` of a small deterministic organisation (3 teams, 120 days).
pub const SMALL_ORG: [&str; 9] = [
    "generate",
    "--teams",
    "3",
    "--days",
    "120",
    "--scale",
    "0.3",
    "--end",
    "2026-11-01",
];

/// `metrics` by team and month over the small organisation's last four
/// months, as CSV (a fixed window: the default one moves with the clock).
pub const TEAM_MONTHS: [&str; 11] = [
    "metrics",
    "--by",
    "team",
    "--interval",
    "month",
    "--from",
    "2026-07-01",
    "--to",
    "2026-11-01",
    "--format",
    "csv",
];

/// A port of 127.0.0.1 nothing listens on (for a server the test starts).
#[cfg(feature = "cloud")]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to a minute) until something listens on 127.0.0.1:`port`.
#[cfg(feature = "cloud")]
pub fn wait_for_port(port: u16) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One HTTP/1.1 request as the mock servers read it: its target (path and
/// query), lower-cased headers and body.
pub struct MockRequest {
    pub target: String,
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

/// Reads a request's line, headers and `Content-Length` body.
pub fn read_request(stream: &std::net::TcpStream) -> std::io::Result<MockRequest> {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body = vec![0; len];
        reader.read_exact(&mut body)?;
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    Ok(MockRequest {
        target,
        headers,
        body,
    })
}

/// Serves a mock on a new port of 127.0.0.1, each connection on its own
/// thread by `serve`; returns its base URL.
pub fn serve_mock(serve: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    serve_on(listener, serve);
    url
}

/// [`serve_mock`] on a listener already bound (a mock whose answers need
/// its own URL).
pub fn serve_on(
    listener: std::net::TcpListener,
    serve: impl Fn(std::net::TcpStream) + Send + Sync + 'static,
) {
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
}

impl MockRequest {
    /// The target's path and its decoded query pairs.
    pub fn path_and_query(&self) -> (String, Vec<(String, String)>) {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        let query = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        (path.to_string(), query)
    }
}

/// The first value of a query parameter.
pub fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Writes a JSON answer and closes: the status line, `extra` header lines
/// (each ending in CRLF), then `body`.
pub fn write_json(
    mut stream: std::net::TcpStream,
    status: u16,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Connection: close\r\n\r\n"
    )?;
    stream.write_all(body)?;
    stream.flush()
}
