-- Scope: --team, --service, --repo and a read token's teams
-- (src/metrics/scope.rs). Run only when a filter is given, after a
-- groups/*.sql file whose views were renamed deployment_groups_all,
-- incident_groups_all and flag_groups_all; narrows them to the rows the
-- filter keeps.
-- Inputs:     deployment_groups_all, incident_groups_all, flag_groups_all,
--             production_deployments_unbucketed, incidents, teams, flags
-- Parameters: deployment_scope (a condition over d, a production
--             deployment), incident_scope (over i, an incident),
--             group_scope (over g.grp: with --by team, only the
--             filter's teams)
-- Outputs:    deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--             flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping" (the filter keeps a row or drops
-- it; it never changes what a deployment's links or lead times are).
CREATE VIEW deployment_groups AS
SELECT g.deployment_id, g.grp
FROM deployment_groups_all g
JOIN production_deployments_unbucketed d ON d.id = g.deployment_id
WHERE {{deployment_scope}} AND {{group_scope}};

CREATE VIEW incident_groups AS
SELECT g.incident_id, g.grp
FROM incident_groups_all g
JOIN incidents i ON i.id = g.incident_id
WHERE {{incident_scope}} AND {{group_scope}};

CREATE VIEW flag_groups AS
SELECT g.project, g.flag_key, g.grp
FROM flag_groups_all g
LEFT JOIN flags f ON f.project = g.project AND f.key = g.flag_key
WHERE {{flag_scope}} AND {{group_scope}};
