//! The mapping rules both forges share: incident body links, severity
//! labels, bots, times and `Link` headers, and the deployment, release and
//! incident rows.

use std::sync::OnceLock;

use datafusion::arrow::array::RecordBatch;
use regex::Regex;

use super::*;
use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;

/// `root cause: <sha>` and `deployment: <id>` lines of an incident body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BodyLinks {
    pub sha: Option<String>,
    pub deployment: Option<String>,
}

pub fn body_links(body: &str) -> BodyLinks {
    static ROOT_CAUSE: OnceLock<Regex> = OnceLock::new();
    static DEPLOYMENT: OnceLock<Regex> = OnceLock::new();
    let root = ROOT_CAUSE.get_or_init(|| {
        Regex::new(r"(?im)^[\s>*_-]*root[ _-]?cause\s*:?\**\s*:?\s*`?([0-9a-f]{7,40})\b")
            .expect("valid")
    });
    let deployment = DEPLOYMENT.get_or_init(|| {
        Regex::new(r"(?im)^[\s>*_-]*deployment\s*:?\**\s*:?\s*`?([A-Za-z0-9_./@#:-]+?)`?\s*$")
            .expect("valid")
    });
    BodyLinks {
        sha: root.captures(body).map(|c| c[1].to_ascii_lowercase()),
        deployment: deployment.captures(body).map(|c| c[1].to_string()),
    }
}

/// A severity-looking label (`sev1`, `SEV-2`, `severity::high`, `P1`).
pub fn severity_label<'s>(labels: impl IntoIterator<Item = &'s str>) -> Option<&'s str> {
    static SEVERITY: OnceLock<Regex> = OnceLock::new();
    let re = SEVERITY.get_or_init(|| Regex::new(r"(?i)^(sev|severity|p[0-4]$)").expect("valid"));
    labels.into_iter().find(|l| re.is_match(l))
}

/// RFC 3339 (UTC, seconds) for API parameters.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Bot accounts do not count as reviewers (CI comments would make every
/// change look reviewed at once).
pub fn is_bot(login: &str, kind: Option<&str>) -> bool {
    kind == Some("Bot") || login.ends_with("[bot]") || login.ends_with("-bot")
}

/// Checks a repository name before any request: `owner/repo` on GitHub,
/// `group/[subgroup/]project` on GitLab.
pub fn check_repo_name(forge: &str, repo: &str) -> Result<()> {
    let parts: Vec<&str> = repo.split('/').collect();
    let github = forge == "github";
    if parts.len() >= 2 && parts.iter().all(|p| !p.is_empty()) && (!github || parts.len() == 2) {
        return Ok(());
    }
    Err(Error::usage(
        "REPO",
        if github {
            format!("`{repo}` is not owner/repo (e.g. rust-lang/cargo)")
        } else {
            format!("`{repo}` is not a project path (group/project, e.g. gitlab-org/gitlab)")
        },
    ))
}

/// `max` of two optional marks.
pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// `<url>; rel="next"` from a Link header.
pub fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// A finished deployment of this repository (shared by both forges'
/// deployments and releases).
#[allow(clippy::too_many_arguments)]
pub fn push_deployment(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    id: &str,
    environment: &str,
    sha: &str,
    status: &str,
    started_at: Option<i64>,
    finished_at: i64,
    triggered_by: Option<&str>,
) {
    crate::store::rows::DeploymentRow {
        id: id.to_string(),
        repo: sync.repo.clone(),
        service: sync.service.clone(),
        environment: environment.to_string(),
        sha: sha.to_string(),
        status: status.to_string(),
        started_at: started_at.map(crate::base::time::Timestamp::from_micros),
        finished_at: crate::base::time::Timestamp::from_micros(finished_at),
        triggered_by: triggered_by.map(str::to_string),
    }
    .push(out);
}

/// A published release as a successful production deployment of its commit.
pub fn push_release(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    tag: &str,
    sha: &str,
    published: i64,
) {
    let id = format!("{}/releases/{tag}", sync.repo);
    push_deployment(
        out,
        sync,
        &id,
        "production",
        sha,
        "success",
        None,
        published,
        None,
    );
}

/// Pushes an incident row (shared column order for both forges). Returns
/// the explicit deployment link, if the body has one, for
/// [`RepoSync::warn_unknown_deployments`].
#[allow(clippy::too_many_arguments)]
pub fn push_incident(
    out: &mut TableBuffer,
    sync: &RepoSync<'_>,
    number: i64,
    title: Option<&str>,
    severity: Option<&str>,
    created_at: i64,
    resolved_at: Option<i64>,
    body: Option<&str>,
    deployment_prefix: &str,
) -> Option<(String, String)> {
    let id = format!("{}#{number}", sync.repo);
    let links = body.map(body_links).unwrap_or_default();
    let sha = links.sha.map(|s| sync.resolve_sha(&s));
    let deployment = links.deployment.map(|d| {
        let number = d.trim_start_matches('#');
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            format!("{deployment_prefix}{number}")
        } else {
            d
        }
    });
    crate::store::rows::IncidentRow {
        id: id.clone(),
        service: Some(sync.service.clone()),
        title: title.map(str::to_string),
        severity: severity.map(str::to_string),
        created_at: crate::base::time::Timestamp::from_micros(created_at),
        resolved_at: resolved_at.map(crate::base::time::Timestamp::from_micros),
        deployment_id: deployment.clone(),
        sha,
        recovery_flag: None,
    }
    .push(out);
    deployment.map(|d| (id, d))
}

/// The batch a buffer would write, for tests and benchmarks.
pub fn rows(buffer: &mut TableBuffer) -> Result<RecordBatch> {
    buffer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_bodies_link_by_line() {
        let body = "Checkout is down.\n\nRoot cause: 0a1b2c3d\ndeployment: 4242\n";
        assert_eq!(
            body_links(body),
            BodyLinks {
                sha: Some("0a1b2c3d".into()),
                deployment: Some("4242".into())
            }
        );
        let markdown = "**Root cause:** `ABCDEF1234567`\n> deployment: acme/api/deployments/7";
        let links = body_links(markdown);
        assert_eq!(links.sha.as_deref(), Some("abcdef1234567"));
        assert_eq!(links.deployment.as_deref(), Some("acme/api/deployments/7"));
        // Mentions in running text are not links.
        assert_eq!(
            body_links("we think the root cause was 0a1b2c3d"),
            BodyLinks::default()
        );
    }

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            next_link(Some(link)).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        assert_eq!(next_link(Some(r#"<https://x/?page=1>; rel="prev""#)), None);
        assert_eq!(next_link(None), None);
    }

    #[test]
    fn ancestry_is_strict() {
        let mut g = HashMap::new();
        g.insert("c".to_string(), vec!["b".to_string()]);
        g.insert("b".to_string(), vec!["a".to_string(), "x".to_string()]);
        assert!(is_strict_ancestor(&g, "a", "c"));
        assert!(is_strict_ancestor(&g, "x", "c"));
        assert!(!is_strict_ancestor(&g, "c", "c"));
        assert!(!is_strict_ancestor(&g, "c", "a"));
    }

    #[test]
    fn severity_labels() {
        assert_eq!(severity_label(["bug", "SEV-2"]), Some("SEV-2"));
        assert_eq!(severity_label(["p1"]), Some("p1"));
        assert_eq!(severity_label(["prod", "perf"]), None);
    }
}
