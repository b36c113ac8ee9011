//! A mock JSON API on 127.0.0.1 for the tracker ingestor tests.
//!
//! Jira Cloud (`fixtures/jira/`): `GET /rest/api/3/search/jql` with the JQL
//! doralens writes (`project = "K"`, `issuetype = "T"`, `created >= "d t"`,
//! `updated >= "d t"`, in the user's time zone, here UTC), ordered by
//! `updated`, paged by `maxResults` and `nextPageToken` with `isLast`;
//! Basic auth with `JIRA_EMAIL:TOKEN`.
//!
//! incident.io (`fixtures/incident-io/`): `GET /v2/incidents`, newest first,
//! paged by `page_size` and `after` (`pagination_meta.after`), bearer auth.
//!
//! PagerDuty's REST API v2 from `fixtures/pagerduty/` (see its
//! README): `GET /incidents` filtered by `since`/`until` (creation time),
//! `service_ids[]` and `urgencies[]`, paged by `limit` (capped by
//! `max_limit`, as a server's cap) and `offset` with `more`; and
//! `GET /incidents/{id}/related_change_events`. Requests without
//! `Authorization: Token token=<TOKEN>` get PagerDuty's 401 error body.
//!
//! Scripted faults (a status, a 429 with `Retry-After`, a body cut off
//! mid-way) apply to the next requests whose path ends with a suffix.
//! Every request is recorded. Connections close after each answer.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const TOKEN: &str = "pd-test-token-0123456789";
pub const JIRA_EMAIL: &str = "ops@acme.example";

#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    RetryAfter(u64),
    Truncate,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HashMap<String, String>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    incidents: Vec<Value>,
    jira: Vec<Value>,
    incident_io: Vec<Value>,
    change_events: HashMap<String, Value>,
    max_limit: usize,
    faults: Vec<(String, Fault, u32)>,
    requests: Vec<Recorded>,
}

pub struct MockPagerDuty {
    url: String,
    state: Arc<Mutex<State>>,
}

fn fixture(name: &str) -> Value {
    fixture_in("pagerduty", name)
}

fn fixture_in(dir: &str, name: &str) -> Value {
    let path = crate::util::repo_root()
        .join("fixtures")
        .join(dir)
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl MockPagerDuty {
    pub fn start() -> MockPagerDuty {
        let incidents = fixture("incidents.json")["incidents"]
            .as_array()
            .unwrap()
            .clone();
        let change_events = fixture("related_change_events.json")["related_change_events"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let jira = fixture_in("jira", "issues.json")["issues"]
            .as_array()
            .unwrap()
            .clone();
        let state = Arc::new(Mutex::new(State {
            incidents,
            jira,
            change_events,
            incident_io: fixture_in("incident-io", "incidents.json")["incidents"]
                .as_array()
                .unwrap()
                .clone(),
            max_limit: 100,
            ..Default::default()
        }));
        let shared = state.clone();
        let url = crate::util::serve_mock(move |stream| {
            let _ = serve(stream, &shared);
        });
        MockPagerDuty { url, state }
    }

    pub fn api_url(&self) -> String {
        self.url.clone()
    }

    pub fn set_max_limit(&self, n: usize) {
        self.state.lock().unwrap().max_limit = n;
    }

    /// Changes the incident with this number (the world moves on).
    pub fn edit(&self, number: u64, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let incident = state
            .incidents
            .iter_mut()
            .find(|i| i["incident_number"] == number)
            .expect("incident exists");
        change(incident);
    }

    /// Adds an incident shaped like the fixture's first one.
    pub fn add(&self, number: u64, created_at: &str) {
        let mut state = self.state.lock().unwrap();
        let mut incident = state.incidents[0].clone();
        incident["id"] = json!(format!("QNEW{number}"));
        incident["incident_number"] = json!(number);
        incident["created_at"] = json!(created_at);
        incident["status"] = json!("triggered");
        incident["resolved_at"] = Value::Null;
        state.incidents.push(incident);
    }

    /// Changes the incident.io incident with this reference.
    pub fn edit_incident_io(&self, reference: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let incident = state
            .incident_io
            .iter_mut()
            .find(|i| i["reference"] == reference)
            .expect("incident exists");
        change(incident);
    }

    /// Changes the related change events of the PagerDuty incident `id`.
    pub fn edit_change_events(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        change(
            state
                .change_events
                .entry(id.to_string())
                .or_insert(json!([])),
        );
    }

    /// Changes the Jira issue with this key.
    pub fn edit_jira(&self, key: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let issue = state
            .jira
            .iter_mut()
            .find(|i| i["key"] == key)
            .expect("issue exists");
        change(issue);
    }

    pub fn fault(&self, path_suffix: &str, fault: Fault, times: u32) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((path_suffix.to_string(), fault, times));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

fn time(v: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v).unwrap()
}

/// `2026-11-10T10:00:00.000+0100`-style Jira times.
fn jira_time(v: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap()
}

fn search_jql(state: &State, query: &[(String, String)]) -> (u16, Value) {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let jql = param("jql").unwrap_or_default();
    let clause = |pattern: &str| {
        regex::Regex::new(pattern)
            .unwrap()
            .captures(&jql)
            .map(|c| c[1].to_string())
    };
    let project = clause(r#"project = "([^"]+)""#);
    let kind = clause(r#"issuetype = "([^"]+)""#);
    let at = |field: &str| {
        clause(&format!(r#"{field} >= "([^"]+)""#)).map(|t| {
            chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M")
                .unwrap()
                .and_utc()
        })
    };
    let (created, updated) = (at("created"), at("updated"));
    let mut matching: Vec<&Value> = state
        .jira
        .iter()
        .filter(|i| {
            let f = &i["fields"];
            project
                .as_ref()
                .is_none_or(|p| i["key"].as_str().unwrap().starts_with(&format!("{p}-")))
                && kind
                    .as_ref()
                    .is_none_or(|k| f["issuetype"]["name"] == k.as_str())
                && created.is_none_or(|c| jira_time(f["created"].as_str().unwrap()) >= c)
                && updated.is_none_or(|u| jira_time(f["updated"].as_str().unwrap()) >= u)
        })
        .collect();
    matching.sort_by_key(|i| jira_time(i["fields"]["updated"].as_str().unwrap()));
    let limit = param("maxResults")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .min(state.max_limit);
    let offset = param("nextPageToken")
        .and_then(|t| t.strip_prefix("page-").and_then(|o| o.parse().ok()))
        .unwrap_or(0);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let last = offset + limit >= matching.len();
    let mut body = json!({ "issues": page, "isLast": last });
    if !last {
        body["nextPageToken"] = json!(format!("page-{}", offset + limit));
    }
    (200, body)
}

fn incident_io_page(state: &State, query: &[(String, String)]) -> (u16, Value) {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let size = param("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(25)
        .min(state.max_limit);
    let start = match param("after") {
        Some(after) => match state
            .incident_io
            .iter()
            .position(|i| i["id"] == after.as_str())
        {
            Some(p) => p + 1,
            None => return (422, json!({"type": "validation_error", "status": 422})),
        },
        None => 0,
    };
    let page: Vec<Value> = state
        .incident_io
        .iter()
        .skip(start)
        .take(size)
        .cloned()
        .collect();
    let more = start + size < state.incident_io.len();
    let mut meta = json!({ "page_size": size, "total_record_count": state.incident_io.len() });
    if more && let Some(last) = page.last() {
        meta["after"] = last["id"].clone();
    }
    (200, json!({ "incidents": page, "pagination_meta": meta }))
}

fn answer(state: &State, path: &str, query: &[(String, String)]) -> (u16, Value) {
    if path == "/rest/api/3/search/jql" {
        return search_jql(state, query);
    }
    if path == "/v2/incidents" {
        return incident_io_page(state, query);
    }
    let all = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |name: &str| all(name).first().map(|s| s.to_string());
    if path == "/incidents" {
        let since = one("since").map(|s| time(&s));
        let until = one("until").map(|s| time(&s));
        if let (Some(s), Some(u)) = (since, until)
            && u - s > chrono::Duration::days(183)
        {
            return (
                400,
                json!({"error": {"message": "Invalid Input Provided", "code": 2001,
                       "errors": ["Date range cannot exceed 6 months"]}}),
            );
        }
        let services = all("service_ids[]");
        let urgencies = all("urgencies[]");
        let statuses = all("statuses[]");
        let matching: Vec<&Value> = state
            .incidents
            .iter()
            .filter(|i| {
                let created = time(i["created_at"].as_str().unwrap());
                since.is_none_or(|s| created >= s)
                    && until.is_none_or(|u| created < u)
                    && (services.is_empty()
                        || services.contains(&i["service"]["id"].as_str().unwrap()))
                    && (urgencies.is_empty() || urgencies.contains(&i["urgency"].as_str().unwrap()))
                    && (statuses.is_empty() || statuses.contains(&i["status"].as_str().unwrap()))
            })
            .collect();
        let limit: usize = one("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(25)
            .min(state.max_limit);
        let offset: usize = one("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|v| (*v).clone())
            .collect();
        return (
            200,
            json!({
                "incidents": page,
                "limit": limit,
                "offset": offset,
                "more": offset + limit < matching.len(),
                "total": null
            }),
        );
    }
    if let Some(id) = path
        .strip_prefix("/incidents/")
        .and_then(|p| p.strip_suffix("/related_change_events"))
    {
        return match state.change_events.get(id) {
            Some(events) => (200, json!({ "change_events": events })),
            None if state.incidents.iter().any(|i| i["id"] == id) => {
                (200, json!({ "change_events": [] }))
            }
            None => (
                404,
                json!({"error": {"message": "Not Found", "code": 2100}}),
            ),
        };
    }
    (
        404,
        json!({"error": {"message": "Not Found", "code": 2100}}),
    )
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let request = crate::util::read_request(&stream)?;
    let (path, query) = request.path_and_query();
    let (path, headers) = (path.as_str(), &request.headers);
    let (status, body, extra, truncate) = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            path: path.to_string(),
            query: query.clone(),
            headers: headers.clone(),
        });
        let fault = state
            .faults
            .iter_mut()
            .find(|(suffix, _, left)| *left > 0 && path.ends_with(suffix.as_str()))
            .map(|(_, fault, left)| {
                *left -= 1;
                fault.clone()
            });
        let expected = if path.starts_with("/v2/") {
            format!("Bearer {TOKEN}")
        } else if path.starts_with("/rest/") {
            use base64_encode as b64;
            format!("Basic {}", b64(&format!("{JIRA_EMAIL}:{TOKEN}")))
        } else {
            format!("Token token={TOKEN}")
        };
        let authorised = headers.get("authorization") == Some(&expected);
        match fault {
            _ if !authorised && path.starts_with("/rest/") => (
                401,
                json!({"errorMessages": ["You are not authorized to perform this operation. Please log in."], "errors": {}}),
                String::new(),
                false,
            ),
            _ if !authorised && path.starts_with("/v2/") => (
                401,
                json!({"type": "authentication_error", "status": 401, "request_id": "5b2f0a4c",
                       "errors": [{"code": "unauthorized", "message": "The API key provided is not valid"}]}),
                String::new(),
                false,
            ),
            _ if !authorised => (
                401,
                json!({"error": {"message": "Unauthorized", "code": 2006}}),
                String::new(),
                false,
            ),
            Some(Fault::Status(s)) => (
                s,
                json!({"error": {"message": "Internal Server Error", "code": 2000}}),
                String::new(),
                false,
            ),
            Some(Fault::RetryAfter(secs)) => (
                429,
                json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}}),
                format!("Retry-After: {secs}\r\n"),
                false,
            ),
            Some(Fault::Truncate) => {
                let (s, b) = answer(&state, path, &query);
                (s, b, String::new(), true)
            }
            None => {
                let (s, b) = answer(&state, path, &query);
                (s, b, String::new(), false)
            }
        }
    };
    let body = serde_json::to_vec(&body).unwrap();
    let shown = if truncate {
        &body[..body.len() / 2]
    } else {
        &body[..]
    };
    crate::util::write_json(stream, status, &extra, shown)
}

/// Standard padded base64, for the expected Basic header.
fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}
