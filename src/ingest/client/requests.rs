//! The requests each scope's rows were read with, for their `_origin`
//! (provenance, `store::provenance`). [`Http`](super::http::Http) notes
//! every answered request (method and path, never the query string, where
//! filters and cursors live, nor a credential, which never reaches it); a
//! sink takes a scope's list when it writes, so each write's rows name the
//! requests made for that scope since its previous write.
//!
//! The finest level recorded is the write (a forge resource of one
//! repository, one tracker page's incidents), not the single row: a row
//! built from a listing page and a detail request names both.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Distinct requests shown per write; the rest are counted.
const SHOWN: usize = 12;

type Log = BTreeMap<String, Vec<(String, u32)>>;

fn log() -> std::sync::MutexGuard<'static, Log> {
    static LOG: Mutex<Log> = Mutex::new(BTreeMap::new());
    LOG.lock().unwrap_or_else(|p| p.into_inner())
}

fn key(source: &str, scope: &str) -> String {
    format!("{source}\u{1f}{scope}")
}

/// Notes an answered request of `source` for `scope`: `what` is the path
/// (any query string is dropped), `method` GET or POST.
pub fn note(source: &str, scope: &str, method: &str, what: &str) {
    let path = what.split('?').next().unwrap_or(what);
    let line = format!("{method} {path}");
    let mut log = log();
    let list = log.entry(key(source, scope)).or_default();
    match list.iter_mut().find(|(l, _)| *l == line) {
        Some((_, n)) => *n += 1,
        None => list.push((line, 1)),
    }
}

/// The requests noted for `scope` since the last take, as one line:
/// `GET /repos/acme/api/pulls (3 requests); POST /graphql (pull requests)`.
pub fn take(source: &str, scope: &str) -> Option<String> {
    let list = log().remove(&key(source, scope))?;
    Some(describe(list))
}

/// [`take`] for every scope of `source` (a tracker, whose scopes sync
/// one after another, names its requests by service or project).
pub fn take_all(source: &str) -> Option<String> {
    let prefix = key(source, "");
    let mut log = log();
    let keys: Vec<String> = log
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    let mut all: Vec<(String, u32)> = Vec::new();
    for k in keys {
        for (line, n) in log.remove(&k).unwrap_or_default() {
            match all.iter_mut().find(|(l, _)| *l == line) {
                Some((_, m)) => *m += n,
                None => all.push((line, n)),
            }
        }
    }
    (!all.is_empty()).then(|| describe(all))
}

fn describe(list: Vec<(String, u32)>) -> String {
    let more = list.len().saturating_sub(SHOWN);
    let mut parts: Vec<String> = list
        .into_iter()
        .take(SHOWN)
        .map(|(line, n)| match n {
            1 => line,
            n => format!("{line} ({n} requests)"),
        })
        .collect();
    if more > 0 {
        parts.push(format!("and {more} more"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_without_their_query_and_taken_once() {
        note(
            "t-forge",
            "acme/api",
            "GET",
            "/repos/acme/api/pulls?page=1&since=x",
        );
        note("t-forge", "acme/api", "GET", "/repos/acme/api/pulls?page=2");
        note("t-forge", "acme/api", "POST", "/graphql (pull requests)");
        note("t-forge", "acme/web", "GET", "/repos/acme/web/pulls");
        assert_eq!(
            take("t-forge", "acme/api").as_deref(),
            Some("GET /repos/acme/api/pulls (2 requests); POST /graphql (pull requests)")
        );
        assert_eq!(take("t-forge", "acme/api"), None);
        assert_eq!(
            take_all("t-forge").as_deref(),
            Some("GET /repos/acme/web/pulls")
        );
        assert_eq!(take_all("t-forge"), None);
    }
}
