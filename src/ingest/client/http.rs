//! What every forge request goes through: timeouts, retries with backoff,
//! and rate limits. GitHub requests are sent by octocrab and GitLab requests
//! by a hyper client; both hand each attempt to [`Http::send`], so the two
//! forges behave the same way when the network or the API misbehaves:
//!
//! - **5xx, timeouts, resets and truncated bodies** are retried with
//!   exponential backoff (`retries` times, starting at `base_delay`);
//! - **rate limits** (429, or 403 with `Retry-After`, an exhausted
//!   `x-ratelimit-remaining`/`RateLimit-Remaining` or GitHub's "secondary
//!   rate limit" message) wait as long as the server says, with a message on
//!   stderr, and do not count as failures;
//! - **an exhausted primary limit on a successful answer** closes a gate
//!   that every concurrent request of this forge waits at until the reset,
//!   so several repositories sync concurrently without overrunning it;
//! - **401** is a token problem and is not retried; other 4xx are final;
//! - **GraphQL answers** ([`Http::send_graphql`]) are judged by their
//!   `errors` too, because GitHub answers them with HTTP 200: a primary
//!   rate limit (`type` `RATE_LIMITED` or `RATE_LIMIT`, `code`
//!   `graphql_rate_limit`) waits until `x-ratelimit-reset` like a REST
//!   limit; an answer carrying partial `data` beside `errors` is retried
//!   like a 5xx (never kept); a timeout or resource-limit error is handed
//!   back to the caller ([`GraphQlErrors::too_big`]), which asks again for
//!   a smaller page.
//!
//! Nothing here sees the token: it is added to the request by the forge
//! client, and messages carry only the URL path.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::{Error, Result};

/// One HTTP answer, body read completely.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first one for failures (not for rate limits).
    pub retries: u32,
    pub base_delay: Duration,
    /// Whole request including its body.
    pub timeout: Duration,
    /// Rate-limit waits in a row before giving up (a server that never
    /// lets us through).
    pub max_rate_limit_waits: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // DORALENS_HTTP_BACKOFF_MS / DORALENS_HTTP_TIMEOUT_S tune the policy
        // (tests shorten the backoff; slow self-hosted forges lengthen the
        // timeout).
        let ms = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        RetryPolicy {
            retries: 5,
            base_delay: Duration::from_millis(ms("DORALENS_HTTP_BACKOFF_MS", 1000)),
            timeout: Duration::from_secs(ms("DORALENS_HTTP_TIMEOUT_S", 60)),
            max_rate_limit_waits: 20,
        }
    }
}

/// Where visible messages (rate-limit waits, retries) go: stderr, above the
/// progress bars.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Http {
    forge: &'static str,
    token_env: &'static str,
    policy: RetryPolicy,
    /// Requests wait here until the primary rate limit resets.
    gate: Mutex<Option<Instant>>,
    notify: Notify,
}

/// What kind of answer a request expects: REST judges the status alone,
/// GraphQL also the `errors` of a 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Rest,
    GraphQl,
}

enum Verdict {
    Done,
    Wait(Duration, String),
    Retry(String),
    Final(Error),
}

impl Http {
    pub fn new(
        forge: &'static str,
        token_env: &'static str,
        policy: RetryPolicy,
        notify: Notify,
    ) -> Self {
        Http {
            forge,
            token_env,
            policy,
            gate: Mutex::new(None),
            notify,
        }
    }

    pub fn forge(&self) -> &'static str {
        self.forge
    }

    pub fn notify(&self, message: &str) {
        (self.notify)(message)
    }

    /// Runs `attempt` until it gives a 2xx answer or a final error. `what`
    /// names the request in messages (a URL path, never with credentials);
    /// `repo` is the repository it is for.
    pub async fn send<F, Fut>(&self, repo: &str, what: &str, attempt: F) -> Result<Fetched>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<Fetched, String>>,
    {
        self.send_as(Expect::Rest, repo, what, attempt).await
    }

    /// [`Http::send`] for a GraphQL request: rate limits and partial
    /// answers sent with HTTP 200 are waited out or retried here; what
    /// comes back is a whole answer, or one whose `errors` the caller
    /// reads ([`GraphQlErrors`]).
    pub async fn send_graphql<F, Fut>(&self, repo: &str, what: &str, attempt: F) -> Result<Fetched>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<Fetched, String>>,
    {
        self.send_as(Expect::GraphQl, repo, what, attempt).await
    }

    async fn send_as<F, Fut>(
        &self,
        expect: Expect,
        repo: &str,
        what: &str,
        mut attempt: F,
    ) -> Result<Fetched>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<Fetched, String>>,
    {
        let mut failures = 0u32;
        let mut waits = 0u32;
        loop {
            self.wait_at_gate(what).await;
            let outcome = tokio::time::timeout(self.policy.timeout, attempt()).await;
            let verdict = match outcome {
                Err(_) => Verdict::Retry(format!(
                    "no complete answer within {} s",
                    self.policy.timeout.as_secs()
                )),
                Ok(Err(transport)) => Verdict::Retry(transport),
                Ok(Ok(fetched)) => match self.judge(expect, repo, what, &fetched, waits) {
                    Verdict::Done => return Ok(fetched),
                    other => other,
                },
            };
            match verdict {
                Verdict::Done => unreachable!("returned above"),
                Verdict::Wait(delay, why) => {
                    waits += 1;
                    self.notify(&format!(
                        "{} {what}: {why}; waiting {} s",
                        self.forge,
                        delay.as_secs_f64().ceil() as u64
                    ));
                    tokio::time::sleep(delay).await;
                }
                Verdict::Retry(problem) => {
                    failures += 1;
                    if failures > self.policy.retries {
                        return Err(Error::Forge {
                            forge: self.forge,
                            repo: repo.to_string(),
                            message: format!(
                                "{what}: {problem} (gave up after {} attempts)",
                                failures
                            ),
                        });
                    }
                    let delay = self.policy.base_delay * 2u32.pow(failures - 1);
                    self.notify(&format!(
                        "{} {what}: {problem}; retry {failures}/{} in {:.1} s",
                        self.forge,
                        self.policy.retries,
                        delay.as_secs_f64()
                    ));
                    tokio::time::sleep(delay).await;
                }
                Verdict::Final(e) => return Err(e),
            }
        }
    }

    fn judge(
        &self,
        expect: Expect,
        repo: &str,
        what: &str,
        fetched: &Fetched,
        waits: u32,
    ) -> Verdict {
        let status = fetched.status;
        let still_limited = || {
            Verdict::Final(Error::Forge {
                forge: self.forge,
                repo: repo.to_string(),
                message: format!("{what}: still rate limited after {waits} waits"),
            })
        };
        if status.is_success() {
            self.note_primary_limit(fetched);
            if expect == Expect::GraphQl {
                let errors = GraphQlErrors::of(&fetched.body);
                if errors.rate_limited {
                    if waits >= self.policy.max_rate_limit_waits {
                        return still_limited();
                    }
                    // GitHub: wait until x-ratelimit-reset; without it, a
                    // minute (as for a secondary limit).
                    let delay = reset_delay(fetched).unwrap_or(Duration::from_secs(60));
                    return Verdict::Wait(delay, "GraphQL rate limit used up".into());
                }
                if errors.partial {
                    return Verdict::Retry(format!(
                        "partial answer ({})",
                        redact_secrets(&errors.first_message, self.token_env)
                    ));
                }
            }
            // A body cut off without the connection saying so (no
            // Content-Length, closed early) is not valid JSON: retry it.
            let looks_json = fetched
                .header("content-type")
                .is_none_or(|t| t.contains("json"));
            if looks_json
                && !fetched.body.is_empty()
                && serde_json::from_slice::<serde::de::IgnoredAny>(&fetched.body).is_err()
            {
                return Verdict::Retry("the answer is not complete JSON (cut off?)".into());
            }
            return Verdict::Done;
        }
        if let Some((delay, why)) = rate_limit_wait(fetched) {
            if waits >= self.policy.max_rate_limit_waits {
                return still_limited();
            }
            return Verdict::Wait(delay, why);
        }
        let message = redact_secrets(&api_message(&fetched.body), self.token_env);
        if status == StatusCode::UNAUTHORIZED {
            return Verdict::Final(Error::Token {
                forge: self.forge,
                message: format!(
                    "the server rejected the token in {} (HTTP 401: {message}); it may have \
                     expired or been revoked: create a new one and export it as {}",
                    self.token_env, self.token_env
                ),
            });
        }
        if status.is_server_error() {
            return Verdict::Retry(format!("HTTP {}: {message}", status.as_u16()));
        }
        let hint = match status {
            StatusCode::NOT_FOUND => {
                "; check the name (owner/repo or group/project), the --api-url, and that the token can read it"
            }
            StatusCode::FORBIDDEN => "; the token may lack a scope (repo, read_api)",
            _ => "",
        };
        Verdict::Final(Error::Forge {
            forge: self.forge,
            repo: repo.to_string(),
            message: format!("{what}: HTTP {}: {message}{hint}", status.as_u16()),
        })
    }

    /// Closes the gate until the reset when a successful answer says the
    /// primary limit is used up.
    fn note_primary_limit(&self, fetched: &Fetched) {
        let remaining = header_u64(fetched, &["x-ratelimit-remaining", "ratelimit-remaining"]);
        if remaining == Some(0)
            && let Some(reset) = reset_delay(fetched)
        {
            let until = Instant::now() + reset;
            let mut gate = self.gate.lock().expect("gate poisoned");
            if gate.is_none_or(|g| g < until) {
                *gate = Some(until);
            }
        }
    }

    async fn wait_at_gate(&self, what: &str) {
        let until = *self.gate.lock().expect("gate poisoned");
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                let delay = until - now;
                self.notify(&format!(
                    "{} {what}: rate limit used up; waiting {} s for the reset",
                    self.forge,
                    delay.as_secs_f64().ceil() as u64
                ));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// What the `errors` of a GraphQL answer say
/// (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GraphQlErrors {
    /// The primary rate limit is used up: `type` `RATE_LIMITED` (newer
    /// `RATE_LIMIT`) or `code` `graphql_rate_limit`.
    pub rate_limited: bool,
    /// `errors` beside non-null `data`: some of the answer is missing.
    pub partial: bool,
    /// A timeout or resource limit: the same query with a smaller page may
    /// pass. Holds the server's message.
    pub too_big: Option<String>,
    /// The first error's message ("" without errors).
    pub first_message: String,
}

impl GraphQlErrors {
    pub fn of(body: &[u8]) -> GraphQlErrors {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            data: Option<serde::de::IgnoredAny>,
            #[serde(default)]
            errors: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            #[serde(default)]
            message: String,
            #[serde(default, rename = "type")]
            kind: Option<String>,
            #[serde(default)]
            code: Option<String>,
            #[serde(default)]
            extensions: Option<Extensions>,
        }
        #[derive(serde::Deserialize)]
        struct Extensions {
            #[serde(default)]
            code: Option<String>,
        }
        let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
            return GraphQlErrors::default();
        };
        let mut out = GraphQlErrors {
            partial: answer.data.is_some() && !answer.errors.is_empty(),
            first_message: answer
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        for e in &answer.errors {
            let kind = e.kind.as_deref().unwrap_or("");
            let code = e
                .code
                .as_deref()
                .or(e.extensions.as_ref().and_then(|x| x.code.as_deref()))
                .unwrap_or("");
            if matches!(kind, "RATE_LIMITED" | "RATE_LIMIT") || code == "graphql_rate_limit" {
                out.rate_limited = true;
            }
            let message = e.message.to_ascii_lowercase();
            if matches!(kind, "MAX_NODE_LIMIT_EXCEEDED" | "RESOURCE_LIMITS_EXCEEDED")
                || message.contains("timeout")
                || message.contains("timed out")
                || message.contains("resource limits")
                || message.contains("couldn't respond to your request in time")
            {
                out.too_big.get_or_insert_with(|| e.message.clone());
            }
        }
        // A rate limit or an oversized query is not a partial answer to
        // retry as it is.
        if out.rate_limited || out.too_big.is_some() {
            out.partial = false;
        }
        out
    }
}

fn header_u64(fetched: &Fetched, names: &[&str]) -> Option<u64> {
    names
        .iter()
        .find_map(|n| fetched.header(n))
        .and_then(|v| v.trim().parse().ok())
}

/// Time until the rate-limit window resets (`x-ratelimit-reset` on GitHub,
/// `RateLimit-Reset` on GitLab: epoch seconds), plus a second of margin.
/// At most an hour: the windows reset hourly (GitHub) or faster (GitLab),
/// so a longer wait is a skewed clock, ours or theirs.
fn reset_delay(fetched: &Fetched) -> Option<Duration> {
    let reset = header_u64(fetched, &["x-ratelimit-reset", "ratelimit-reset"])?;
    let now = u64::try_from(crate::base::time::Timestamp::now().micros() / 1_000_000).unwrap_or(0);
    Some(Duration::from_secs(reset.saturating_sub(now).min(3600) + 1))
}

/// How long a rate-limited answer asks us to wait, and why; None when the
/// answer is not a rate limit.
fn rate_limit_wait(fetched: &Fetched) -> Option<(Duration, String)> {
    let status = fetched.status;
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::FORBIDDEN {
        return None;
    }
    if let Some(secs) = header_u64(fetched, &["retry-after"]) {
        return Some((
            Duration::from_secs(secs),
            format!(
                "HTTP {}, rate limited (Retry-After: {secs})",
                status.as_u16()
            ),
        ));
    }
    let remaining = header_u64(fetched, &["x-ratelimit-remaining", "ratelimit-remaining"]);
    if remaining == Some(0)
        && let Some(delay) = reset_delay(fetched)
    {
        return Some((delay, "primary rate limit used up".into()));
    }
    let body = String::from_utf8_lossy(&fetched.body).to_ascii_lowercase();
    if status == StatusCode::TOO_MANY_REQUESTS || body.contains("rate limit") {
        // GitHub: "wait at least one minute" when no header says how long.
        return Some((Duration::from_secs(60), "secondary rate limit".into()));
    }
    None
}

/// The `message` (GitHub) or `message`/`error` (GitLab) of an error body,
/// else its first 200 characters.
/// What an error answer says, in one line: the JSON `message` (or
/// `error`) when there is one, else the first line of text with any HTML
/// tags removed (an HTML error page's title), at most 200 characters.
fn api_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "error_description"] {
            if let Some(s) = v.get(key).and_then(|m| m.as_str()) {
                return one_line(s);
            }
        }
        // PagerDuty: {"error": {"message": ..., "errors": [...]}}; Jira:
        // {"errorMessages": [...]}.
        if let Some(s) = v.pointer("/error/message").and_then(|m| m.as_str()) {
            return one_line(s);
        }
        if let Some(s) = v.pointer("/errorMessages/0").and_then(|m| m.as_str()) {
            return one_line(s);
        }
        // incident.io: {"errors": [{"message": ...}]}.
        if let Some(s) = v.pointer("/errors/0/message").and_then(|m| m.as_str()) {
            return one_line(s);
        }
    }
    let text = String::from_utf8_lossy(body);
    let title = text
        .find("<title>")
        .and_then(|start| {
            let rest = &text[start + 7..];
            rest.find("</title>").map(|end| &rest[..end])
        })
        .filter(|t| !t.trim().is_empty());
    let text = match title {
        Some(t) => t.to_string(),
        None => strip_tags(&text),
    };
    let line = one_line(&text);
    if line.is_empty() {
        "empty body".into()
    } else {
        line
    }
}

fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The first non-blank line, whitespace collapsed, cut to 200 characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(200).collect();
    if collapsed.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Removes credentials from text a server sent back (an error body may
/// quote the request's token): the value of `token_env` wherever it
/// appears, and anything shaped like a GitHub or GitLab token or following
/// `Bearer`/`token`.
pub fn redact_secrets(text: &str, token_env: &str) -> String {
    let mut out = text.to_string();
    if let Ok(token) = std::env::var(token_env) {
        let token = token.trim();
        if token.len() >= 4 {
            out = out.replace(token, "[redacted]");
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut hide_next = false;
    for word in out.split(' ') {
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-');
        let shaped = [
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "glpat-",
        ]
        .iter()
        .any(|p| bare.starts_with(p) && bare.len() > p.len() + 8);
        if (hide_next && !bare.is_empty()) || shaped {
            words.push("[redacted]".into());
        } else {
            words.push(word.to_string());
        }
        hide_next = hide_next && bare.is_empty()
            || matches!(bare.to_ascii_lowercase().as_str(), "bearer" | "token");
    }
    words.join(" ")
}

/// The token in `env`, trimmed; `None` when unset or blank. A token with a
/// line break, space or control character inside cannot be sent as a
/// header: that is the user's to fix (exit 2), said without the token.
pub fn token_from_env(forge: &'static str, env: &str) -> Result<Option<String>> {
    let Ok(raw) = std::env::var(env) else {
        return Ok(None);
    };
    let token = raw.trim();
    if token.is_empty() {
        return Ok(None);
    }
    if token.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::Token {
            forge,
            message: format!(
                "{env} contains a line break, space or control character; export the token again \
                 without them (e.g. export {env}=\"$(cat token.txt | tr -d '[:space:]')\")"
            ),
        });
    }
    Ok(Some(token.to_string()))
}

/// A response with its body read to the end (see [`collect_body`]).
pub async fn fetched<B>(response: http::Response<B>) -> std::result::Result<Fetched, String>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    let (parts, body) = response.into_parts();
    Ok(Fetched {
        status: parts.status,
        headers: parts.headers,
        body: collect_body(body).await?,
    })
}

/// Reads a body to the end; a connection closed early (a truncated body) is
/// an error the caller retries.
pub async fn collect_body<B>(body: B) -> std::result::Result<Bytes, String>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    use http_body_util::BodyExt;
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("reading the answer failed ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Fetched {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Fetched {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn rate_limits_are_recognised_by_header_or_message() {
        let retry_after = answer(403, &[("retry-after", "7")], "{}");
        assert_eq!(rate_limit_wait(&retry_after).unwrap().0.as_secs(), 7);
        let secondary = answer(
            403,
            &[],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert_eq!(rate_limit_wait(&secondary).unwrap().0.as_secs(), 60);
        let forbidden = answer(403, &[], r#"{"message":"Resource not accessible"}"#);
        assert!(rate_limit_wait(&forbidden).is_none());
        assert!(rate_limit_wait(&answer(500, &[("retry-after", "1")], "")).is_none());
    }

    #[test]
    fn graphql_errors_are_classified() {
        let limited = GraphQlErrors::of(
            br#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit already exceeded for user ID 1."}]}"#,
        );
        assert!(limited.rate_limited && !limited.partial && limited.too_big.is_none());
        let newer = GraphQlErrors::of(
            br#"{"data":null,"errors":[{"type":"RATE_LIMIT","code":"graphql_rate_limit","message":"x"}]}"#,
        );
        assert!(newer.rate_limited);
        let partial = GraphQlErrors::of(
            br#"{"data":{"nodes":[null]},"errors":[{"type":"NOT_FOUND","message":"Could not resolve to a node"}]}"#,
        );
        assert!(partial.partial && !partial.rate_limited);
        assert_eq!(partial.first_message, "Could not resolve to a node");
        let timeout = GraphQlErrors::of(
            br#"{"data":null,"errors":[{"message":"Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug."}]}"#,
        );
        assert!(timeout.too_big.is_some() && !timeout.partial);
        let nodes = GraphQlErrors::of(
            br#"{"errors":[{"type":"MAX_NODE_LIMIT_EXCEEDED","message":"exceeds the maximum limit of 500,000"}]}"#,
        );
        assert!(nodes.too_big.is_some());
        let fine = GraphQlErrors::of(br#"{"data":{"repository":null}}"#);
        assert_eq!(fine, GraphQlErrors::default());
    }

    #[test]
    fn error_messages_come_from_the_json_body() {
        assert_eq!(
            api_message(br#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(
            api_message(br#"{"error":"invalid_token"}"#),
            "invalid_token"
        );
        assert_eq!(
            api_message(b"<html><head><title>502 Bad Gateway</title></head><body>\n<h1>nginx</h1></body></html>"),
            "502 Bad Gateway"
        );
        assert_eq!(
            api_message(b"\n<h1>Service down</h1>\n<p>try later</p>"),
            "Service down"
        );
        assert_eq!(api_message(b"<html>bad gateway</html>"), "bad gateway");
    }

    #[test]
    fn regression_a_token_quoted_by_the_server_is_redacted() {
        let env = "DORALENS_TEST_TOKEN_REDACTION";
        // SAFETY: this test alone reads or writes this variable.
        unsafe { std::env::set_var(env, "s3cr3t-value-123") };
        let said = redact_secrets("token Bearer s3cr3t-value-123 is not valid", env);
        assert!(!said.contains("s3cr3t"), "{said}");
        let shaped = redact_secrets(
            "bad credentials: ghp_abcdefghijklmnopqrstuvwxyz0123 or glpat-abcdefghijklmn",
            "DORALENS_TEST_UNSET_VARIABLE",
        );
        assert!(
            !shaped.contains("ghp_abc") && !shaped.contains("glpat-abc"),
            "{shaped}"
        );
        let bearer = redact_secrets(
            "header was Bearer xyz123abc",
            "DORALENS_TEST_UNSET_VARIABLE",
        );
        assert_eq!(bearer, "header was Bearer [redacted]");
        unsafe { std::env::remove_var(env) };
    }

    #[test]
    fn regression_a_token_with_a_line_break_is_refused_not_a_panic() {
        let env = "DORALENS_TEST_TOKEN_NEWLINE";
        unsafe { std::env::set_var(env, "abc\ndef") };
        let err = token_from_env("github", env).unwrap_err();
        assert!(err.is_user_error());
        assert!(!err.to_string().contains("abc"), "{err}");
        unsafe { std::env::set_var(env, "  abcdef \n") };
        assert_eq!(
            token_from_env("github", env).unwrap().as_deref(),
            Some("abcdef")
        );
        unsafe { std::env::remove_var(env) };
    }
}
