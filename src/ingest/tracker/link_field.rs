//! Explicit incident links from one tracker field that holds either kind
//! (`link_field`: a "Caused by" field with a deployment id or a commit).
//!
//! A value that names a stored deployment is a deployment link; else a
//! value shaped like a commit sha (7 to 40 hex digits) is a commit link;
//! else it is unresolved: the incident keeps no explicit link (the time
//! window may still link it) and the value is reported once per run.
//! Deployment ids are read once per run, so the forges and imports synced
//! before the tracker are known (plain `doralens ingest` syncs the forges
//! first).

/// What a `link_field` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Deployment(String),
    /// A commit sha, lower case.
    Commit(String),
    Unresolved,
}

/// A tracker's link settings: `deployment_field`, `commit_field` and
/// `link_field`. A deployment and a commit field naming the same field are
/// that field as the link field: one value is one kind, never both (it was
/// stored as both a deployment id and a commit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFields {
    pub deployment: Option<String>,
    pub commit: Option<String>,
    pub link: Option<String>,
}

impl LinkFields {
    pub fn new(deployment: Option<String>, commit: Option<String>, link: Option<String>) -> Self {
        match (deployment, commit) {
            (Some(d), Some(c)) if d == c && link.as_ref().is_none_or(|l| *l == d) => LinkFields {
                deployment: None,
                commit: None,
                link: Some(d),
            },
            (deployment, commit) => LinkFields {
                deployment,
                commit,
                link,
            },
        }
    }
}

/// A commit sha, full or abbreviated (7 to 40 hex digits).
pub fn is_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Resolves one value: a known deployment first, then a commit shape.
pub fn classify(value: &str, is_deployment: impl Fn(&str) -> bool) -> Link {
    let value = value.trim();
    if value.is_empty() {
        Link::Unresolved
    } else if is_deployment(value) {
        Link::Deployment(value.to_string())
    } else if is_sha(value) {
        Link::Commit(value.to_ascii_lowercase())
    } else {
        Link::Unresolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_one_field_as_deployment_and_commit_is_a_link_field() {
        let same = LinkFields::new(Some("cf_1".into()), Some("cf_1".into()), None);
        assert_eq!(
            same,
            LinkFields {
                deployment: None,
                commit: None,
                link: Some("cf_1".into())
            }
        );
        let apart = LinkFields::new(
            Some("cf_1".into()),
            Some("cf_2".into()),
            Some("cf_3".into()),
        );
        assert_eq!(apart.deployment.as_deref(), Some("cf_1"));
        assert_eq!(apart.link.as_deref(), Some("cf_3"));
    }

    #[test]
    fn a_known_deployment_wins_over_the_commit_shape() {
        let sha = "a4000000000000000000000000000000000000ff";
        let known = |id: &str| id == sha || id == "acme/api/deployments/103";
        assert_eq!(classify(sha, known), Link::Deployment(sha.into()));
        assert_eq!(
            classify(" acme/api/deployments/103 ", known),
            Link::Deployment("acme/api/deployments/103".into())
        );
        assert_eq!(
            classify("A5000000000000000000000000000000000000AB", known),
            Link::Commit("a5000000000000000000000000000000000000ab".into())
        );
        assert_eq!(classify("abc1234", known), Link::Commit("abc1234".into()));
        assert_eq!(classify("v1.2", known), Link::Unresolved);
        assert_eq!(classify("abc12", known), Link::Unresolved);
        assert_eq!(classify("", known), Link::Unresolved);
    }
}
