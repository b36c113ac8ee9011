//! A mock Flagsmith Admin API on 127.0.0.1 (`fixtures/flagsmith/`, see its
//! README for the pages): `GET /api/v1/projects/:id/features/`,
//! `GET /api/v1/projects/:id/audit/` (newest first; `is_system_event`
//! given at all keeps only system events, as Flagsmith does) and
//! `GET /api/v1/projects/:id/audit/:audit_id/` (the detail), the lists
//! paged as Django REST framework pages (`page`, `page_size` capped at the
//! maximum, `{count, next, previous, results}` with absolute `next` links).
//! `Authorization: Api-Key <key>`. Faults: a 429 with `Retry-After` on the
//! next request whose path ends with a suffix; a `count` that lies.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::mock_api::Recorded;

pub const TOKEN: &str = "ser.flagsmith-test-key-0123456789";

#[derive(Default)]
struct State {
    url: String,
    features: Vec<Value>,
    audit: Vec<Value>,
    details: Vec<Value>,
    max_page: usize,
    retry_after: Vec<(String, u32)>,
    extra_count: Option<(String, usize)>,
    requests: Vec<Recorded>,
}

pub struct MockFlagsmith {
    url: String,
    state: Arc<Mutex<State>>,
}

fn fixture(name: &str) -> Value {
    let path = crate::util::repo_root()
        .join("fixtures/flagsmith")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl MockFlagsmith {
    pub fn start() -> MockFlagsmith {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            url: url.clone(),
            features: fixture("features.json")["results"]
                .as_array()
                .unwrap()
                .clone(),
            audit: fixture("audit.json")["results"].as_array().unwrap().clone(),
            details: fixture("audit-details.json").as_array().unwrap().clone(),
            max_page: 999,
            ..Default::default()
        }));
        let shared = state.clone();
        crate::util::serve_on(listener, move |stream| {
            let _ = serve(stream, &shared);
        });
        MockFlagsmith { url, state }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The largest page (`max_page_size`; Flagsmith's is 999).
    pub fn set_max_page(&self, max: usize) {
        self.state.lock().unwrap().max_page = max;
    }

    pub fn retry_after(&self, path_suffix: &str, times: u32) {
        self.state
            .lock()
            .unwrap()
            .retry_after
            .push((path_suffix.into(), times));
    }

    /// Makes `count` claim `extra` more items than the lists whose path
    /// ends with `path_suffix` hold.
    pub fn lie_about_count(&self, path_suffix: &str, extra: usize) {
        self.state.lock().unwrap().extra_count = Some((path_suffix.into(), extra));
    }

    /// Adds an audit entry (newest first) and its detail.
    pub fn add_entry(&self, entry: Value, change_details: Value, change_type: &str) {
        let mut s = self.state.lock().unwrap();
        let mut detail = entry.clone();
        detail["change_details"] = change_details;
        detail["change_type"] = json!(change_type);
        s.audit.insert(0, entry);
        s.details.push(detail);
    }

    /// An audit log with nothing visible (a plan without audit logs).
    pub fn clear_audit(&self) {
        self.state.lock().unwrap().audit.clear();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

use crate::util::query_param as param;

/// One page of `items` as Django REST framework's PageNumberPagination.
fn page(state: &State, path: &str, query: &[(String, String)], items: Vec<Value>) -> (u16, Value) {
    let number: usize = param(query, "page").map_or(1, |v| v.parse().unwrap());
    let size: usize = param(query, "page_size")
        .map_or(state.max_page, |v| v.parse().unwrap())
        .min(state.max_page);
    let extra = match &state.extra_count {
        Some((suffix, n)) if path.ends_with(suffix.as_str()) => *n,
        _ => 0,
    };
    let count = items.len() + extra;
    let pages = items.len().div_ceil(size).max(1);
    if number > pages {
        return (404, json!({"detail": "Invalid page."}));
    }
    let link = |n: usize| json!(format!("{}{path}?page={n}&page_size={size}", state.url));
    let results: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    (
        200,
        json!({
            "count": count,
            "next": if number < pages { link(number + 1) } else { Value::Null },
            "previous": if number > 1 { link(number - 1) } else { Value::Null },
            "results": results,
        }),
    )
}

fn answer(state: &State, path: &str, query: &[(String, String)]) -> (u16, Value) {
    let not_found = (404, json!({"detail": "Not found."}));
    let Some(rest) = path.strip_prefix("/api/v1/projects/") else {
        return not_found;
    };
    let Some((project, rest)) = rest.split_once('/') else {
        return not_found;
    };
    let in_project = |v: &Value| v["project"] == project.parse::<i64>().unwrap_or(-1);
    let entry_in_project = |v: &Value| v["project"]["id"] == project.parse::<i64>().unwrap_or(-1);
    if rest == "features/" {
        let items = state
            .features
            .iter()
            .filter(|f| in_project(f))
            .cloned()
            .collect();
        return page(state, path, query, items);
    }
    if rest == "audit/" {
        let system_only = param(query, "is_system_event").is_some();
        let items = state
            .audit
            .iter()
            .filter(|e| entry_in_project(e) && (!system_only || e["is_system_event"] == true))
            .cloned()
            .collect();
        return page(state, path, query, items);
    }
    if let Some(id) = rest
        .strip_prefix("audit/")
        .and_then(|r| r.strip_suffix('/'))
        && let Some(detail) = state.details.iter().find(|d| {
            Some(&d["id"]) == id.parse::<i64>().ok().map(Value::from).as_ref()
                && entry_in_project(d)
        })
    {
        return (200, detail.clone());
    }
    not_found
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
        if headers.get("authorization").map(String::as_str) != Some(&format!("Api-Key {TOKEN}")) {
            (
                401,
                json!({"detail": "Authentication credentials were not provided."}),
                String::new(),
            )
        } else if retry {
            (
                429,
                json!({"detail": "Request was throttled. Expected available in 1 second."}),
                "Retry-After: 1\r\n".to_string(),
            )
        } else {
            let (s, b) = answer(&state, path, &query);
            (s, b, String::new())
        }
    };
    crate::util::write_json(stream, status, &extra, &serde_json::to_vec(&body).unwrap())
}
