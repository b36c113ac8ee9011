//! What a server's answer says, apart from how it is fetched: whether it
//! is a rate limit and for how long, what the `errors` of a GraphQL answer
//! mean, the one-line message of an error body, and that message with any
//! credentials it quotes removed.

use std::time::Duration;

use http::StatusCode;

use super::http::Fetched;

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

pub(super) fn header_u64(fetched: &Fetched, names: &[&str]) -> Option<u64> {
    names
        .iter()
        .find_map(|n| fetched.header(n))
        .and_then(|v| v.trim().parse().ok())
}

/// Time until the rate-limit window resets (`x-ratelimit-reset` on GitHub,
/// `RateLimit-Reset` on GitLab: epoch seconds), plus a second of margin.
/// At most an hour: the windows reset hourly (GitHub) or faster (GitLab),
/// so a longer wait is a skewed clock, ours or theirs.
pub(super) fn reset_delay(fetched: &Fetched) -> Option<Duration> {
    let reset = header_u64(fetched, &["x-ratelimit-reset", "ratelimit-reset"])?;
    let now = u64::try_from(crate::base::time::Timestamp::now().micros() / 1_000_000).unwrap_or(0);
    Some(Duration::from_secs(reset.saturating_sub(now).min(3600) + 1))
}

/// How long a rate-limited answer asks us to wait, and why; None when the
/// answer is not a rate limit.
pub(super) fn rate_limit_wait(fetched: &Fetched) -> Option<(Duration, String)> {
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
pub(super) fn api_message(body: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;

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
}
