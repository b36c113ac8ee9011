//! The rollback rule, shared by every ingestor that sees a commit graph
//! (local git tags and the forges' deployments): among one environment's
//! successful deployments in finish order, a deployment whose sha is a
//! strict ancestor of the previous one's sha rolls that one back. Each
//! ingestor brings its own ancestry test (gix merge bases for local git,
//! the stored parents for the forges).

use crate::base::time::Timestamp;
use crate::store::rows::RollbackRow;

/// One successful deployment, as the rule needs it.
#[derive(Debug, Clone, Copy)]
pub struct Deployed<'a> {
    pub id: &'a str,
    pub sha: &'a str,
    pub finished_at: Timestamp,
}

/// The rollbacks among `sorted` (one environment's successful deployments
/// in finish order). `is_strict_ancestor(a, b)`: `a` is reachable from `b`
/// through parents and is not `b`. Ids are `<rolling-back id>#rollback`,
/// deterministic, so detecting again replaces them.
pub fn detect<E>(
    sorted: &[Deployed<'_>],
    mut is_strict_ancestor: impl FnMut(&str, &str) -> Result<bool, E>,
) -> Result<Vec<RollbackRow>, E> {
    let mut out = Vec::new();
    for pair in sorted.windows(2) {
        let (previous, current) = (&pair[0], &pair[1]);
        if previous.sha != current.sha && is_strict_ancestor(current.sha, previous.sha)? {
            out.push(RollbackRow {
                id: format!("{}#rollback", current.id),
                deployment_id: previous.id.to_string(),
                rollback_deployment_id: Some(current.id.to_string()),
                started_at: None,
                finished_at: current.finished_at,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn going_back_to_an_ancestor_rolls_the_previous_deployment_back() {
        // History a <- b <- c; deployments c, then a (back), then a again.
        let parents = |s: &str| match s {
            "c" => vec!["b"],
            "b" => vec!["a"],
            _ => vec![],
        };
        let ancestor = |a: &str, b: &str| -> Result<bool, ()> {
            let mut stack = parents(b);
            while let Some(s) = stack.pop() {
                if s == a {
                    return Ok(true);
                }
                stack.extend(parents(s));
            }
            Ok(false)
        };
        let t = |n| Timestamp::from_micros(n);
        let deployed = [
            Deployed {
                id: "d1",
                sha: "c",
                finished_at: t(1),
            },
            Deployed {
                id: "d2",
                sha: "a",
                finished_at: t(2),
            },
            Deployed {
                id: "d3",
                sha: "a",
                finished_at: t(3),
            },
            Deployed {
                id: "d4",
                sha: "c",
                finished_at: t(4),
            },
        ];
        let found = detect(&deployed, ancestor).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "d2#rollback");
        assert_eq!(found[0].deployment_id, "d1");
        assert_eq!(found[0].rollback_deployment_id.as_deref(), Some("d2"));
        assert_eq!(found[0].finished_at, t(2));
    }
}
