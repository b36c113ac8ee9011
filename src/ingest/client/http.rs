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

pub use super::answers::{GraphQlErrors, redact_secrets};
use super::answers::{api_message, header_u64, rate_limit_wait, reset_delay};
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
                    Verdict::Done => {
                        let (method, what) = match expect {
                            Expect::Rest => ("GET", what.to_string()),
                            Expect::GraphQl => ("POST", format!("/graphql ({what})")),
                        };
                        super::requests::note(self.forge, repo, method, &what);
                        return Ok(fetched);
                    }
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
