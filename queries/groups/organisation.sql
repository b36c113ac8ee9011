-- Grouping for the whole organisation (no --by).
-- Inputs:  production_deployments, incidents, flag_events
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--          flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping": every deployment and incident counts
-- once, including incidents with no service, and so does every feature flag
-- with events (listed in `flags` or not).
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, '' AS grp FROM production_deployments d;

CREATE VIEW incident_groups AS
SELECT i.id AS incident_id, '' AS grp FROM incidents i;

CREATE VIEW flag_groups AS
SELECT DISTINCT e.project, e.flag_key, '' AS grp FROM flag_events e;
