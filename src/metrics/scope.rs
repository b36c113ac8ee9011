//! `--team`, `--service`, `--repo` (and a read token's teams): which
//! deployments and incidents a metric row may count. A filter, not a
//! grouping: `metrics --team payments` is the organisation's columns
//! computed over the payments team's deployments and incidents only, and
//! `--by team` with a team filter has only those teams' rows.
//!
//! The filter narrows the grouping views (`queries/groups/scope.sql`), never
//! `production_deployments` itself: attribution, failure links and the
//! inferred incident links still see every deployment of a service, so a
//! deployment's numbers do not change with the filter; only which ones are
//! counted does.

use std::collections::HashMap;

use crate::engine::queries::string_literal;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Deployments and incidents of services these teams list.
    pub teams: Vec<String>,
    pub services: Vec<String>,
    /// Deployments from these repositories; incidents of the services
    /// they deploy.
    pub repos: Vec<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.teams.is_empty() && self.services.is_empty() && self.repos.is_empty()
    }

    /// Sorted, deduplicated, blanks dropped: equal filters compare equal
    /// (the answer cache's key).
    pub fn normalized(mut self) -> Scope {
        for list in [&mut self.teams, &mut self.services, &mut self.repos] {
            list.retain(|s| !s.trim().is_empty());
            for s in list.iter_mut() {
                *s = s.trim().to_string();
            }
            list.sort();
            list.dedup();
        }
        self
    }

    /// The parameters of `queries/groups/scope.sql`: SQL conditions over
    /// `d` (a production deployment), `i` (an incident), `f` (a flag) and
    /// `g` (the group row), built from string literals only.
    pub fn params(&self, grouped_by_team: bool) -> HashMap<&'static str, String> {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| string_literal(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut deployment = vec!["true".to_string()];
        let mut incident = vec!["true".to_string()];
        let mut flag = vec!["true".to_string()];
        let mut group = vec!["true".to_string()];
        if !self.teams.is_empty() {
            let teams = list(&self.teams);
            let services = format!("(SELECT t.service FROM teams t WHERE t.team IN ({teams}))");
            deployment.push(format!("d.service IN {services}"));
            incident.push(format!("i.service IN {services}"));
            flag.push(format!("f.service IN {services}"));
            if grouped_by_team {
                group.push(format!("g.grp IN ({teams})"));
            }
        }
        if !self.services.is_empty() {
            let services = list(&self.services);
            deployment.push(format!("d.service IN ({services})"));
            incident.push(format!("i.service IN ({services})"));
            flag.push(format!("f.service IN ({services})"));
        }
        if !self.repos.is_empty() {
            let repos = list(&self.repos);
            deployment.push(format!("d.repo IN ({repos})"));
            let services = format!(
                "(SELECT p.service FROM production_deployments_unbucketed p WHERE p.repo IN ({repos}))"
            );
            incident.push(format!("i.service IN {services}"));
            flag.push(format!("f.service IN {services}"));
        }
        HashMap::from([
            ("deployment_scope", deployment.join(" AND ")),
            ("incident_scope", incident.join(" AND ")),
            ("flag_scope", flag.join(" AND ")),
            ("group_scope", group.join(" AND ")),
        ])
    }
}

/// The grouping file's statements with its views renamed `*_all`, for
/// `scope.sql` to narrow.
pub fn rename_groups(statement: &str) -> String {
    statement
        .replacen(
            "VIEW deployment_groups AS",
            "VIEW deployment_groups_all AS",
            1,
        )
        .replacen("VIEW incident_groups AS", "VIEW incident_groups_all AS", 1)
        .replacen("VIEW flag_groups AS", "VIEW flag_groups_all AS", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_quote_every_name() {
        let scope = Scope {
            teams: vec!["o'brien".into()],
            services: vec![],
            repos: vec!["acme/api".into()],
        };
        let p = scope.params(true);
        assert!(p["deployment_scope"].contains("'o''brien'"));
        assert!(p["deployment_scope"].contains("d.repo IN ('acme/api')"));
        assert_eq!(p["group_scope"], "true AND g.grp IN ('o''brien')");
        assert_eq!(Scope::default().params(false)["incident_scope"], "true");
        let messy = Scope {
            teams: vec![" b".into(), "a".into(), "b".into(), "".into()],
            ..Scope::default()
        };
        assert_eq!(messy.normalized().teams, vec!["a", "b"]);
    }
}
