//! The answer cache: a data route's answer, kept until the warehouse
//! changes. Keyed by the warehouse's snapshot stamp (every table's manifest
//! version and the derived sets') and the normalized request (path, sorted
//! parameters, the token's teams, the day), so an answer is never served
//! after a write, an import or a sync committed: the first request after it
//! finds a new stamp and empties the cache.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Response, StatusCode};

use super::routes::Rows;

/// At most this many answers are kept (the cache is emptied when full).
const MAX_ENTRIES: usize = 2_048;

#[derive(Clone)]
struct Kept {
    status: StatusCode,
    headers: HeaderMap,
    body: Full<Bytes>,
    rows: Option<Rows>,
}

#[derive(Default)]
pub struct Answers {
    inner: Mutex<(String, HashMap<String, Kept>)>,
}

impl Answers {
    pub fn get(&self, stamp: &str, key: &str) -> Option<Response<Full<Bytes>>> {
        if stamp.is_empty() {
            return None;
        }
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0 != stamp {
            return None;
        }
        let kept = inner.1.get(key)?.clone();
        let mut response = Response::new(kept.body);
        *response.status_mut() = kept.status;
        *response.headers_mut() = kept.headers;
        if let Some(rows) = kept.rows {
            response.extensions_mut().insert(rows);
        }
        Some(response)
    }

    /// Keeps an answer computed from the warehouse at `stamp` (taken before
    /// the answer was computed, so a write during it leaves a stale stamp
    /// that the next request replaces).
    pub fn put(&self, stamp: &str, key: String, response: &Response<Full<Bytes>>) {
        if stamp.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0 != stamp {
            inner.0 = stamp.to_string();
            inner.1.clear();
        }
        if inner.1.len() >= MAX_ENTRIES {
            inner.1.clear();
        }
        inner.1.insert(
            key,
            Kept {
                status: response.status(),
                headers: response.headers().clone(),
                body: response.body().clone(),
                rows: response.extensions().get::<Rows>().copied(),
            },
        );
    }
}
