-- Grouping for the whole organisation (no --by).
-- Inputs:  production_deployments_unbucketed, incidents, flag_events, flags
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--          flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping": every deployment and incident counts
-- once, including incidents with no service, and so does every feature flag
-- with events (listed in `flags` or not) or listed in `flags` (flag debt
-- counts flags without events).
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, '' AS grp FROM production_deployments_unbucketed d;

CREATE VIEW incident_groups AS
SELECT i.id AS incident_id, '' AS grp FROM incidents i;

CREATE VIEW flag_groups AS
SELECT e.project, e.flag_key, '' AS grp FROM flag_events e
UNION
SELECT f.project, f.key AS flag_key, '' AS grp FROM flags f;
