//! A mock GitHub / GitLab API on 127.0.0.1 for the forge ingestor tests.
//!
//! Responses come from `fixtures/github/*.json` and `fixtures/gitlab/*.json`:
//! each file maps a URL path to the JSON body the real API returns there
//! (shapes from the APIs' documentation). The server behaves like the real
//! APIs where the ingestors depend on it:
//! - lists are paginated by `page` / `per_page` with a `Link` header (and
//!   GitLab's `x-next-page`/`x-total`); `max_per_page` lowers the page size
//!   the way a server's cap does;
//! - `since` (GitHub commits and issues, GitLab commits) and
//!   `updated_after` (GitLab) filter lists;
//! - `set_now(t)` shows the world as it was at `t`: later items hidden,
//!   later merges, closes and finishes undone (to test incremental sync);
//! - scripted faults: a status (502, 401), a rate limit with `Retry-After`,
//!   an exhausted primary limit, a body cut off mid-way.
//!
//! Every request is recorded (path, query and headers) for assertions.
//! Connections are closed after each answer (`Connection: close`).

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    GitHub,
    GitLab,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a JSON `message`.
    Status(u16, &'static str),
    /// 403 (GitHub) / 429 (GitLab) with `Retry-After: secs`.
    RetryAfter(u64),
    /// 200 with the primary limit used up, resetting in `secs`.
    LimitExhausted(u64),
    /// The real answer, cut off after half its body.
    Truncate,
    /// The real answer, after this many milliseconds.
    Stall(u64),
    /// GitHub GraphQL over its primary limit: HTTP 200 with an `errors`
    /// entry of type `RATE_LIMITED`, `x-ratelimit-remaining: 0` and the
    /// reset in `secs` (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api).
    GraphQlRateLimited(u64),
    /// GitHub GraphQL's answer to a query that ran too long: HTTP 200,
    /// `data: null` and the timeout message.
    GraphQlTimeout,
    /// GitHub GraphQL answering part of the data beside an error.
    GraphQlPartial,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Value>,
    /// (path suffix, fault, times left; u32::MAX = always)
    faults: Vec<(String, Fault, u32)>,
    requests: Vec<Recorded>,
    now: Option<chrono::DateTime<chrono::Utc>>,
    max_per_page: Option<usize>,
    /// Added to every answer (to observe concurrency).
    delay_ms: u64,
    /// Requests being answered, per repository, and the most repositories
    /// seen with a request in flight at once.
    in_flight: HashMap<String, usize>,
    max_repos_in_flight: usize,
    /// The page size (`first`) of every pull-request GraphQL query.
    graphql_pages: Vec<usize>,
}

pub struct MockForge {
    pub flavour: Flavour,
    pub url: String,
    /// Where the API lives on the host: "" for github.com-like hosts,
    /// "/api/v3" for GitHub Enterprise Server, "/gitlab" for a GitLab
    /// installed under a path.
    prefix: String,
    state: Arc<Mutex<State>>,
}

impl MockForge {
    /// Serves every fixture file of `fixtures/<github|gitlab>/`.
    pub fn start(flavour: Flavour) -> MockForge {
        Self::start_under(flavour, "")
    }

    /// [`MockForge::start`] with the API under a path prefix (a GitHub
    /// Enterprise Server's `/api/v3`, a self-managed GitLab's `/gitlab`):
    /// requests outside it are 404s, and links in answers keep it.
    pub fn start_under(flavour: Flavour, prefix: &str) -> MockForge {
        let dir = crate::util::repo_root()
            .join("fixtures")
            .join(match flavour {
                Flavour::GitHub => "github",
                Flavour::GitLab => "gitlab",
            });
        let mut routes = HashMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let file: HashMap<String, Value> =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                routes.extend(file);
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            routes,
            ..Default::default()
        }));
        let shared = state.clone();
        let base = url.clone();
        let under = prefix.to_string();
        crate::util::serve_on(listener, move |stream| {
            let _ = serve(stream, &shared, flavour, &base, &under);
        });
        MockForge {
            flavour,
            url,
            prefix: prefix.to_string(),
            state,
        }
    }

    /// The `--api-url` for this mock.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.url, self.prefix)
    }

    pub fn route(&self, path: &str, body: Value) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), body);
    }

    /// Injects `fault` into the next `times` requests whose path ends with
    /// `path_suffix` (`u32::MAX`: every one).
    pub fn fault(&self, path_suffix: &str, fault: Fault, times: u32) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((path_suffix.to_string(), fault, times));
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    pub fn set_now(&self, now: Option<&str>) {
        self.state.lock().unwrap().now = now.map(|s| s.parse().unwrap());
    }

    pub fn set_max_per_page(&self, n: Option<usize>) {
        self.state.lock().unwrap().max_per_page = n;
    }

    pub fn set_delay_ms(&self, ms: u64) {
        self.state.lock().unwrap().delay_ms = ms;
    }

    /// The most repositories that had a request in flight at the same time.
    pub fn max_repos_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_repos_in_flight
    }

    /// The page sizes the pull-request GraphQL queries asked for.
    pub fn graphql_page_sizes(&self) -> Vec<usize> {
        self.state.lock().unwrap().graphql_pages.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(
    stream: TcpStream,
    state: &Mutex<State>,
    flavour: Flavour,
    base: &str,
    prefix: &str,
) -> std::io::Result<()> {
    let crate::util::MockRequest {
        target,
        headers,
        body: request_body,
    } = crate::util::read_request(&stream)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    // GitHub's GraphQL endpoint: `/graphql` on github.com, `/api/graphql`
    // beside a GitHub Enterprise Server's `/api/v3`.
    let graphql_path = match prefix.strip_suffix("/v3") {
        Some(api) => format!("{api}/graphql"),
        None => format!("{prefix}/graphql"),
    };
    let path = if flavour == Flavour::GitHub && path == graphql_path {
        "/graphql"
    } else {
        path
    };
    // Under a prefix, only paths inside it exist (and are routed without it).
    let path = match path.strip_prefix(prefix) {
        _ if path == "/graphql" => path,
        Some(inside) if inside.starts_with('/') || prefix.is_empty() => inside,
        _ => "/outside-the-api-prefix",
    };
    let (path, query) = (path.to_string(), query.to_string());
    let base = format!("{base}{prefix}");
    let base = base.as_str();
    // "/repos/acme/api/..." and "/api/v4/projects/acme%2Fbilling/...".
    let repo: String = path
        .trim_start_matches("/repos/")
        .trim_start_matches("/api/v4/projects/")
        .split('/')
        .take(if flavour == Flavour::GitHub { 2 } else { 1 })
        .collect::<Vec<_>>()
        .join("/");
    let (answer, delay) = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            path: path.clone(),
            query: query.clone(),
            headers: headers.clone(),
        });
        *state.in_flight.entry(repo.clone()).or_default() += 1;
        let busy = state.in_flight.values().filter(|n| **n > 0).count();
        state.max_repos_in_flight = state.max_repos_in_flight.max(busy);
        if path == "/graphql" {
            let body = graphql_body(&mut state, &request_body);
            state.routes.insert(path.clone(), body);
        }
        (
            answer(&mut state, flavour, base, &path, &query),
            state.delay_ms,
        )
    };
    std::thread::sleep(std::time::Duration::from_millis(delay + answer.stall));
    // Out of flight before the answer leaves: the client's next request
    // (perhaps for the next repository) cannot overlap this one unless
    // the syncs really run at once (regression: counting after the write
    // saw two repositories "in flight" at --concurrency 1 on a busy machine).
    *state.lock().unwrap().in_flight.entry(repo).or_default() -= 1;
    write_answer(stream, answer)
}

struct Answer {
    /// Milliseconds to wait before answering.
    stall: u64,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    truncate: bool,
}

fn json_answer(status: u16, body: String) -> Answer {
    Answer {
        stall: 0,
        status,
        headers: vec![],
        body,
        truncate: false,
    }
}

fn answer(state: &mut State, flavour: Flavour, base: &str, path: &str, query: &str) -> Answer {
    let fault = state
        .faults
        .iter_mut()
        .find(|(suffix, _, left)| path.ends_with(suffix.as_str()) && *left > 0)
        .map(|(_, fault, left)| {
            if *left != u32::MAX {
                *left -= 1;
            }
            fault.clone()
        });
    let mut truncate = false;
    let mut exhausted = None;
    let mut stall = 0;
    match fault {
        Some(Fault::Status(code, message)) => {
            return json_answer(code, serde_json::json!({ "message": message }).to_string());
        }
        Some(Fault::RetryAfter(secs)) => {
            let (status, message) = match flavour {
                Flavour::GitHub => (
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                ),
                Flavour::GitLab => (429, "Retry later"),
            };
            let mut a = json_answer(
                status,
                serde_json::json!({ "message": message }).to_string(),
            );
            a.headers.push(("retry-after".into(), secs.to_string()));
            return a;
        }
        Some(Fault::LimitExhausted(secs)) => exhausted = Some(secs),
        Some(Fault::GraphQlRateLimited(secs)) => {
            let mut a = json_answer(
                200,
                serde_json::json!({ "errors": [{
                    "type": "RATE_LIMITED",
                    "message": "API rate limit already exceeded for user ID 1."
                }]})
                .to_string(),
            );
            let reset = chrono::Utc::now().timestamp() as u64 + secs;
            a.headers.push(("x-ratelimit-limit".into(), "5000".into()));
            a.headers.push(("x-ratelimit-remaining".into(), "0".into()));
            a.headers
                .push(("x-ratelimit-reset".into(), reset.to_string()));
            return a;
        }
        Some(Fault::GraphQlTimeout) => {
            return json_answer(
                200,
                serde_json::json!({ "data": null, "errors": [{
                    "message": "Something went wrong while executing your query. This may be the \
                                result of a timeout, or it could be a GitHub bug. Please include \
                                `0400:1:2:3` when reporting this issue."
                }]})
                .to_string(),
            );
        }
        Some(Fault::GraphQlPartial) => {
            return json_answer(
                200,
                serde_json::json!({ "data": { "repository": null }, "errors": [{
                    "type": "SERVICE_UNAVAILABLE",
                    "path": ["repository"],
                    "message": "Something is temporarily unavailable."
                }]})
                .to_string(),
            );
        }
        Some(Fault::Truncate) => truncate = true,
        Some(Fault::Stall(ms)) => stall = ms,
        None => {}
    }
    let Some(route) = state.routes.get(path).cloned() else {
        return json_answer(404, r#"{"message":"Not Found"}"#.into());
    };
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut body = route;
    if let Some(now) = state.now {
        body = as_of(body, now);
    }
    let mut headers = Vec::new();
    // GitHub's workflow runs come wrapped (`{total_count, workflow_runs}`),
    // newest first, filtered by `branch` and `created` (the search syntax's
    // `>=T`, `>T`, `<=T`, `<T` and `A..B`) and paged inside. A filtered
    // listing reaches only its first 1,000 runs; `total_count` says how many
    // match ("This API will return up to 1,000 results for each search when
    // using the following parameters: actor, branch, check_suite_id,
    // created, event, head_sha, status").
    let mut wrapper = None;
    let mut reachable = usize::MAX;
    if let Value::Object(object) = &mut body
        && let Some(Value::Array(runs)) = object.remove("workflow_runs")
    {
        let mut runs: Vec<Value> = runs
            .into_iter()
            .filter(|r| {
                params
                    .get("branch")
                    .is_none_or(|b| r["head_branch"] == b.as_str())
            })
            .filter(|r| {
                let created = time_of(r, &["/created_at"]);
                params
                    .get("created")
                    .is_none_or(|c| created.is_some_and(|t| search_range_holds(c, t)))
            })
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(time_of(r, &["/created_at"])));
        let filtered = [
            "actor",
            "branch",
            "check_suite_id",
            "created",
            "event",
            "head_sha",
            "status",
        ]
        .iter()
        .any(|k| params.contains_key(*k));
        if filtered {
            reachable = 1000;
        }
        object.insert("total_count".into(), Value::from(runs.len()));
        wrapper = Some(object.clone());
        body = Value::Array(runs);
    }
    if let Value::Array(items) = body {
        let items = filter_since(items, &params, flavour);
        let items = history_from(items, &params, path);
        let items = filter_kind(items, &params);
        // GitLab jobs: `scope[]` repeated, one status each.
        let scopes: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "scope[]")
            .map(|(_, v)| v.into_owned())
            .collect();
        let items: Vec<Value> = if scopes.is_empty() {
            items
        } else {
            items
                .into_iter()
                .filter(|i| {
                    i["status"]
                        .as_str()
                        .is_some_and(|s| scopes.iter().any(|x| x == s))
                })
                .collect()
        };
        let items = sorted(items, &params);
        let per_page: usize = params
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(30)
            .min(state.max_per_page.unwrap_or(usize::MAX));
        let page: usize = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let items: Vec<Value> = items.into_iter().take(reachable).collect();
        let total = items.len();
        let last = total.div_ceil(per_page).max(1);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let link = |p: usize| {
            let mut q: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k.as_str() != "page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("page".into(), p.to_string()));
            let qs: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(q)
                .finish();
            format!("{base}{path}?{qs}")
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("<{}>; rel=\"next\"", link(page + 1)));
            links.push(format!("<{}>; rel=\"last\"", link(last)));
            if flavour == Flavour::GitLab {
                headers.push(("x-next-page".into(), (page + 1).to_string()));
            }
        }
        if page > 1 {
            links.push(format!("<{}>; rel=\"prev\"", link(page - 1)));
        }
        if !links.is_empty() {
            headers.push(("link".into(), links.join(", ")));
        }
        if flavour == Flavour::GitLab {
            headers.push(("x-total".into(), total.to_string()));
            headers.push(("x-page".into(), page.to_string()));
            headers.push(("x-per-page".into(), per_page.to_string()));
        }
        body = Value::Array(slice);
    }
    if let Some(mut object) = wrapper {
        object.insert("workflow_runs".into(), body);
        body = Value::Object(object);
    }
    let (remaining, reset_in) = match exhausted {
        Some(secs) => (0, secs),
        None => (4999, 3600),
    };
    let reset = chrono::Utc::now().timestamp() as u64 + reset_in;
    match flavour {
        Flavour::GitHub => {
            headers.push(("x-ratelimit-limit".into(), "5000".into()));
            headers.push(("x-ratelimit-remaining".into(), remaining.to_string()));
            headers.push(("x-ratelimit-reset".into(), reset.to_string()));
        }
        Flavour::GitLab => {
            headers.push(("ratelimit-limit".into(), "2000".into()));
            headers.push(("ratelimit-remaining".into(), remaining.to_string()));
            headers.push(("ratelimit-reset".into(), reset.to_string()));
        }
    }
    Answer {
        stall,
        status: 200,
        headers,
        body: body.to_string(),
        truncate,
    }
}

fn write_answer(mut stream: TcpStream, a: Answer) -> std::io::Result<()> {
    let reason = match a.status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        a.status,
        a.body.len()
    );
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if a.truncate {
        // Promise the whole body, send half, hang up.
        stream.write_all(&a.body.as_bytes()[..a.body.len() / 2])?;
        stream.flush()?;
        return stream.shutdown(std::net::Shutdown::Both);
    }
    stream.write_all(a.body.as_bytes())?;
    stream.flush()
}

fn time_of(v: &Value, pointers: &[&str]) -> Option<chrono::DateTime<chrono::Utc>> {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(|t| t.as_str()))
        .and_then(|t| t.parse().ok())
}

/// `since` / `updated_after` the way the APIs apply them.
/// GitHub GraphQL (https://docs.github.com/en/graphql/reference), answered
/// from the REST fixtures so both paths serve the same organisation: the
/// `pullRequests` connection (objects `PullRequest`, `Commit`,
/// `PullRequestReview`, `IssueComment`, `Label`, with the fields those
/// reference pages list for what the query asks) and `nodes(ids:)` on
/// `Deployment` with its `statuses`. Served through [`answer`] as the
/// route `/graphql`, so faults on that path apply.
fn graphql_body(state: &mut State, body: &[u8]) -> Value {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let query = request["query"].as_str().unwrap_or("");
    let vars = &request["variables"];
    let route = |state: &State, path: &str| -> Vec<Value> {
        let v = state
            .routes
            .get(path)
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        let v = match state.now {
            Some(now) => as_of(v, now),
            None => v,
        };
        v.as_array().cloned().unwrap_or_default()
    };
    let actor = |user: &Value| -> Value {
        if user.is_null() {
            return Value::Null;
        }
        let bot = user["type"] == "Bot";
        let login = user["login"].as_str().unwrap_or("");
        serde_json::json!({
            "login": if bot { login.trim_end_matches("[bot]") } else { login },
            "__typename": if bot { "Bot" } else { "User" },
        })
    };
    let data = if query.contains("pullRequests(") {
        let repo = format!(
            "{}/{}",
            vars["owner"].as_str().unwrap_or(""),
            vars["name"].as_str().unwrap_or("")
        );
        // `first` as a literal in the query or as the `$first` variable.
        let first = query
            .split("pullRequests(first: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok())
            .or_else(|| vars["first"].as_u64().map(|n| n as usize))
            .unwrap_or(30);
        state.graphql_pages.push(first);
        let mut pulls = route(state, &format!("/repos/{repo}/pulls"));
        pulls.sort_by_key(|p| time_of(p, &["/updated_at"]));
        pulls.reverse();
        let offset: usize = vars["cursor"]
            .as_str()
            .and_then(|c| c.strip_prefix("cursor:"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = pulls.iter().skip(offset).take(first).cloned().collect();
        let has_next = offset + page.len() < pulls.len();
        let nodes: Vec<Value> = page
            .iter()
            .map(|p| {
                let n = p["number"].as_i64().unwrap_or(0);
                let commits = route(state, &format!("/repos/{repo}/pulls/{n}/commits"));
                let reviews = route(state, &format!("/repos/{repo}/pulls/{n}/reviews"));
                let comments = route(state, &format!("/repos/{repo}/issues/{n}/comments"));
                let merged = !p["merged_at"].is_null();
                serde_json::json!({
                    "number": n,
                    "title": p["title"],
                    "createdAt": p["created_at"],
                    "updatedAt": p["updated_at"],
                    "mergedAt": p["merged_at"],
                    "baseRefName": p["base"]["ref"],
                    "author": actor(&p["user"]),
                    "mergeCommit": if merged { serde_json::json!({ "oid": p["merge_commit_sha"] }) } else { Value::Null },
                    "labels": { "nodes": p["labels"].as_array().cloned().unwrap_or_default()
                        .iter().map(|l| serde_json::json!({ "name": l["name"] })).collect::<Vec<_>>() },
                    "commits": {
                        "totalCount": commits.len(),
                        "nodes": commits.iter().map(|c| serde_json::json!({ "commit": {
                            "oid": c["sha"],
                            "message": c["commit"]["message"],
                            "authoredDate": c["commit"]["author"]["date"],
                            "committedDate": c["commit"]["committer"]["date"],
                            "author": {
                                "name": c["commit"]["author"]["name"],
                                "user": if c["author"].is_null() { Value::Null } else { serde_json::json!({ "login": c["author"]["login"] }) },
                            },
                            "parents": {
                                "totalCount": c["parents"].as_array().map_or(0, |p| p.len()),
                                "nodes": c["parents"].as_array().cloned().unwrap_or_default()
                                .iter().take(5).map(|p| serde_json::json!({ "oid": p["sha"] })).collect::<Vec<_>>() },
                        }})).collect::<Vec<_>>(),
                    },
                    // `reviews(first: 100)` and `comments(first: 100)`: at
                    // most 100 nodes, `hasNextPage` when there are more.
                    "reviews": {
                        "pageInfo": { "hasNextPage": reviews.len() > 100, "endCursor": "cursor:100" },
                        "nodes": reviews.iter().take(100).map(|r| serde_json::json!({
                            "author": actor(&r["user"]), "state": r["state"],
                            "submittedAt": r["submitted_at"],
                        })).collect::<Vec<_>>(),
                    },
                    "comments": {
                        "pageInfo": { "hasNextPage": comments.len() > 100, "endCursor": "cursor:100" },
                        "nodes": comments.iter().take(100).map(|c| serde_json::json!({
                            "author": actor(&c["user"]), "createdAt": c["created_at"],
                        })).collect::<Vec<_>>(),
                    },
                })
            })
            .collect();
        let repository = if state.routes.contains_key(&format!("/repos/{repo}")) {
            serde_json::json!({ "pullRequests": {
                "pageInfo": {
                    "hasNextPage": has_next,
                    "endCursor": format!("cursor:{}", offset + page.len()),
                },
                "nodes": nodes,
            }})
        } else {
            Value::Null
        };
        serde_json::json!({ "repository": repository })
    } else if query.contains("nodes(ids:") {
        let ids: Vec<String> = vars["ids"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let deployment_routes: Vec<String> = state
            .routes
            .keys()
            .filter(|k| k.ends_with("/deployments"))
            .cloned()
            .collect();
        let mut nodes = Vec::new();
        for id in &ids {
            let found = deployment_routes.iter().find_map(|r| {
                route(state, r)
                    .into_iter()
                    .find(|d| d["node_id"] == id.as_str())
                    .map(|d| (r.clone(), d))
            });
            nodes.push(match found {
                Some((r, d)) => {
                    let statuses = route(state, &format!("{r}/{}/statuses", d["id"]));
                    serde_json::json!({
                        "databaseId": d["id"],
                        "statuses": { "nodes": statuses.iter().map(|s| serde_json::json!({
                            "state": s["state"].as_str().unwrap_or("").to_ascii_uppercase(),
                            "createdAt": s["created_at"],
                        })).collect::<Vec<_>>() },
                    })
                }
                None => Value::Null,
            });
        }
        serde_json::json!({ "nodes": nodes })
    } else {
        return serde_json::json!({
            "errors": [{ "message": "the mock answers pullRequests and nodes(ids:) only" }]
        });
    };
    serde_json::json!({ "data": data })
}

/// A commit list asked for from a commit (GitHub `sha=`, GitLab
/// `ref_name=` naming a sha rather than a branch) holds that commit and its
/// ancestors only, as the real APIs answer.
fn history_from(items: Vec<Value>, params: &HashMap<String, String>, path: &str) -> Vec<Value> {
    let start = params.get("sha").or_else(|| params.get("ref_name"));
    let Some(start) = start.filter(|s| s.len() == 40 && path.ends_with("/commits")) else {
        return items;
    };
    let sha_of = |c: &Value| {
        c.get("sha")
            .or_else(|| c.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let parents_of = |c: &Value| -> Vec<String> {
        match c.get("parents") {
            Some(Value::Array(ps)) => ps
                .iter()
                .filter_map(|p| p.get("sha").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => c
                .get("parent_ids")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    let by_sha: HashMap<String, &Value> = items.iter().map(|c| (sha_of(c), c)).collect();
    let mut keep = std::collections::HashSet::new();
    let mut stack = vec![start.clone()];
    while let Some(sha) = stack.pop() {
        if let Some(c) = by_sha.get(&sha)
            && keep.insert(sha)
        {
            stack.extend(parents_of(c));
        }
    }
    items
        .into_iter()
        .filter(|c| keep.contains(&sha_of(c)))
        .collect()
}

/// The filters the APIs apply to issue lists: GitHub `labels=` (every
/// named label, any case), GitLab `issue_type=`.
fn filter_kind(items: Vec<Value>, params: &HashMap<String, String>) -> Vec<Value> {
    let labels: Vec<String> = params
        .get("labels")
        .map(|l| l.split(',').map(|s| s.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let issue_type = params.get("issue_type");
    items
        .into_iter()
        .filter(|item| {
            let names: Vec<String> = item["labels"]
                .as_array()
                .map(|ls| {
                    ls.iter()
                        .map(|l| {
                            l["name"]
                                .as_str()
                                .or(l.as_str())
                                .unwrap_or("")
                                .to_ascii_lowercase()
                        })
                        .collect()
                })
                .unwrap_or_default();
            labels.iter().all(|l| names.contains(l))
                && issue_type.is_none_or(|t| item["issue_type"].as_str() == Some(t.as_str()))
        })
        .collect()
}

/// Whether `t` is inside a search-syntax date range (`>=T`, `>T`, `<=T`,
/// `<T`, `A..B` with `*` for an open end, or one day `YYYY-MM-DD`), as
/// https://docs.github.com/en/search-github/getting-started-with-searching-on-github/understanding-the-search-syntax#query-for-dates
/// describes.
fn search_range_holds(range: &str, t: chrono::DateTime<chrono::Utc>) -> bool {
    let at = |s: &str| -> Option<chrono::DateTime<chrono::Utc>> {
        if let Ok(d) = s.parse::<chrono::DateTime<chrono::Utc>>() {
            return Some(d);
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc())
    };
    if let Some((a, b)) = range.split_once("..") {
        let lo_ok = a == "*" || at(a).is_some_and(|a| t >= a);
        let hi_ok = b == "*" || at(b).is_some_and(|b| t <= b);
        return lo_ok && hi_ok;
    }
    for (prefix, holds) in [
        (
            ">=",
            (|o| o != std::cmp::Ordering::Less) as fn(std::cmp::Ordering) -> bool,
        ),
        ("<=", |o| o != std::cmp::Ordering::Greater),
        (">", |o| o == std::cmp::Ordering::Greater),
        ("<", |o| o == std::cmp::Ordering::Less),
    ] {
        if let Some(rest) = range.strip_prefix(prefix) {
            return at(rest).is_some_and(|b| holds(t.cmp(&b)));
        }
    }
    at(range).is_some_and(|d| t >= d && t < d + chrono::Duration::days(1))
}

/// Lists asked for in update order are in update order, as the real APIs
/// answer (GitHub `sort=updated&direction=`, GitLab
/// `order_by=updated_at&sort=`); others keep the fixture's order.
fn sorted(mut items: Vec<Value>, params: &HashMap<String, String>) -> Vec<Value> {
    let by_update = params.get("sort").is_some_and(|s| s == "updated")
        || params.get("order_by").is_some_and(|s| s == "updated_at");
    if !by_update {
        return items;
    }
    let descending = params.get("direction").is_some_and(|d| d == "desc")
        || params.get("sort").is_some_and(|d| d == "desc");
    items.sort_by_key(|item| time_of(item, &["/updated_at"]));
    if descending {
        items.reverse();
    }
    items
}

fn filter_since(
    items: Vec<Value>,
    params: &HashMap<String, String>,
    flavour: Flavour,
) -> Vec<Value> {
    let since: Option<chrono::DateTime<chrono::Utc>> =
        params.get("since").and_then(|s| s.parse().ok());
    let updated_after: Option<chrono::DateTime<chrono::Utc>> =
        params.get("updated_after").and_then(|s| s.parse().ok());
    items
        .into_iter()
        .filter(|item| {
            let since_ok = since.is_none_or(|s| {
                // Commits filter by commit date, issues by update time.
                time_of(
                    item,
                    &["/commit/committer/date", "/committed_date", "/updated_at"],
                )
                .is_none_or(|t| t >= s)
            });
            let after_ok = flavour == Flavour::GitHub
                || updated_after
                    .is_none_or(|s| time_of(item, &["/updated_at"]).is_none_or(|t| t > s));
            since_ok && after_ok
        })
        .collect()
}

/// The world as of `now`: items created later disappear; merges, closes,
/// finishes and status changes after `now` are undone; update times are
/// capped at `now`.
fn as_of(v: Value, now: chrono::DateTime<chrono::Utc>) -> Value {
    let later = |v: &Value, p: &str| time_of(v, &[p]).is_some_and(|t| t > now);
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|item| {
                    ![
                        "/created_at",
                        "/commit/committer/date",
                        "/committed_date",
                        "/submitted_at",
                        "/published_at",
                        "/released_at",
                    ]
                    .iter()
                    .any(|p| later(item, p))
                })
                .map(|item| as_of(item, now))
                .collect(),
        ),
        Value::Object(mut map) => {
            let stamp = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let obj = Value::Object(map.clone());
            if later(&obj, "/merged_at") {
                map.insert("merged_at".into(), Value::Null);
                map.insert("state".into(), "opened".into());
                if map.contains_key("squash_commit_sha") {
                    // GitLab: no merge commit before the merge.
                    map.insert("merge_commit_sha".into(), Value::Null);
                }
            }
            if later(&obj, "/closed_at") {
                map.insert("closed_at".into(), Value::Null);
                map.insert("state".into(), "open".into());
            }
            if later(&obj, "/finished_at") {
                map.insert("finished_at".into(), Value::Null);
                map.insert("status".into(), "running".into());
            }
            if later(&obj, "/updated_at") {
                map.insert("updated_at".into(), Value::String(stamp));
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// The fixture directory for a forge (for tests reading the files).
#[allow(dead_code)]
pub fn fixture(flavour: Flavour, name: &str) -> std::path::PathBuf {
    let dir = match flavour {
        Flavour::GitHub => "github",
        Flavour::GitLab => "gitlab",
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
        .join(name)
}
