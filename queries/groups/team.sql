-- Grouping --by team.
-- Inputs:  production_deployments_unbucketed, incidents, teams, flags
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--          flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping": a deployment or incident belongs to
-- every team that lists its service; incidents without a service belong to
-- no team. So does a feature flag (its service is in `flags`).
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, t.team AS grp
FROM production_deployments_unbucketed d JOIN teams t ON t.service = d.service;

CREATE VIEW incident_groups AS
SELECT i.id AS incident_id, t.team AS grp
FROM incidents i JOIN teams t ON t.service = i.service;

CREATE VIEW flag_groups AS
SELECT f.project, f.key AS flag_key, t.team AS grp
FROM flags f JOIN teams t ON t.service = f.service;
