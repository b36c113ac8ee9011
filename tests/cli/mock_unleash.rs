//! A mock Unleash Admin API on 127.0.0.1 (`fixtures/unleash/`, see its
//! README for the pages): `GET /api/admin/search/features` (`project=IS:`,
//! `archived=IS:true` lists archived flags only and nothing else does),
//! `GET /api/admin/projects/:project/features/:name` (404 for archived or
//! unknown flags), `GET /api/admin/search/events` (`from=IS:yyyy-MM-dd`,
//! `project=IS:`), the searches paged by `offset` and `limit`, where a
//! limit over the maximum falls back to the default page, as Unleash does.
//! `Authorization: <token>` (no scheme). Faults: a 429 with `Retry-After`
//! on the next request whose path ends with a suffix; a `total` that lies.

use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::mock_api::Recorded;

pub const TOKEN: &str = "*:*.unleash-test-token-0123456789";

#[derive(Default)]
struct State {
    features: Vec<Value>,
    details: Vec<Value>,
    events: Vec<Value>,
    max_limit: usize,
    default_limit: usize,
    retry_after: Vec<(String, u32)>,
    extra_total: usize,
    requests: Vec<Recorded>,
}

pub struct MockUnleash {
    url: String,
    state: Arc<Mutex<State>>,
}

fn fixture(name: &str) -> Value {
    let path = crate::util::repo_root().join("fixtures/unleash").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl MockUnleash {
    pub fn start() -> MockUnleash {
        let state = Arc::new(Mutex::new(State {
            features: fixture("features.json")["features"]
                .as_array()
                .unwrap()
                .clone(),
            details: vec![
                fixture("feature-new-checkout.json"),
                fixture("feature-payments-off.json"),
            ],
            events: fixture("events.json")["events"].as_array().unwrap().clone(),
            max_limit: 1000,
            default_limit: 50,
            ..Default::default()
        }));
        let shared = state.clone();
        let url = crate::util::serve_mock(move |stream| {
            let _ = serve(stream, &shared);
        });
        MockUnleash { url, state }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Unleash's maximum page and the default a larger limit falls back to.
    pub fn set_limits(&self, max: usize, default: usize) {
        let mut s = self.state.lock().unwrap();
        s.max_limit = max;
        s.default_limit = default;
    }

    pub fn retry_after(&self, path_suffix: &str, times: u32) {
        self.state
            .lock()
            .unwrap()
            .retry_after
            .push((path_suffix.into(), times));
    }

    /// Makes `total` claim more items than the searches hold.
    pub fn lie_about_total(&self, extra: usize) {
        self.state.lock().unwrap().extra_total = extra;
    }

    /// Adds an event (newest first, as Unleash lists them).
    pub fn add_event(&self, event: Value) {
        self.state.lock().unwrap().events.insert(0, event);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

use crate::util::query_param as param;

/// One page of `items` as the search endpoints page.
fn page(state: &State, query: &[(String, String)], items: Vec<Value>) -> (Vec<Value>, usize) {
    let offset: usize = param(query, "offset").map_or(0, |v| v.parse().unwrap());
    let asked: usize = param(query, "limit").map_or(state.default_limit, |v| v.parse().unwrap());
    let limit = if asked > state.max_limit {
        state.default_limit
    } else {
        asked
    };
    let total = items.len() + state.extra_total;
    (items.into_iter().skip(offset).take(limit).collect(), total)
}

fn answer(state: &State, path: &str, query: &[(String, String)]) -> (u16, Value) {
    let project = param(query, "project").and_then(|p| p.strip_prefix("IS:"));
    let in_project = |v: &Value| project.is_none_or(|p| v["project"] == p);
    if path == "/api/admin/search/features" {
        let archived = param(query, "archived") == Some("IS:true");
        let items = state
            .features
            .iter()
            .filter(|f| in_project(f) && f["archivedAt"].is_null() != archived)
            .cloned()
            .collect();
        let (features, total) = page(state, query, items);
        return (200, json!({ "features": features, "total": total }));
    }
    if path == "/api/admin/search/events" {
        let from = param(query, "from")
            .and_then(|f| f.strip_prefix("IS:"))
            .unwrap_or("0000-00-00");
        let items = state
            .events
            .iter()
            .filter(|e| in_project(e) && e["createdAt"].as_str().unwrap()[..10] >= *from)
            .cloned()
            .collect();
        let (events, total) = page(state, query, items);
        return (200, json!({ "events": events, "total": total }));
    }
    if let Some(rest) = path.strip_prefix("/api/admin/projects/")
        && let Some((project, name)) = rest.split_once("/features/")
        && let Some(detail) = state
            .details
            .iter()
            .find(|d| d["project"] == project && d["name"] == name)
    {
        return (200, detail.clone());
    }
    (
        404,
        json!({"id": "3f5b7c1e", "name": "NotFoundError", "message": "Could not find the resource"}),
    )
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let request = crate::util::read_request(&stream)?;
    let (path, query) = request.path_and_query();
    let (path, headers) = (path.as_str(), &request.headers);
    let (status, body, extra) = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            path: path.to_string(),
            query: query.clone(),
            headers: headers.clone(),
        });
        let retry = state
            .retry_after
            .iter_mut()
            .find(|(suffix, left)| *left > 0 && path.ends_with(suffix.as_str()))
            .map(|(_, left)| *left -= 1)
            .is_some();
        if headers.get("authorization").map(String::as_str) != Some(TOKEN) {
            (
                401,
                json!({"id": "9a8b7c6d", "name": "AuthenticationRequired",
                       "message": "You must log in to use Unleash."}),
                String::new(),
            )
        } else if retry {
            (
                429,
                json!({"message": "Too many requests"}),
                "Retry-After: 1\r\n".to_string(),
            )
        } else {
            let (s, b) = answer(&state, path, &query);
            (s, b, String::new())
        }
    };
    crate::util::write_json(stream, status, &extra, &serde_json::to_vec(&body).unwrap())
}
