-- Grouping --by service.
-- Inputs:  production_deployments_unbucketed, incidents, flags
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--          flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping".
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, d.service AS grp FROM production_deployments_unbucketed d;

CREATE VIEW incident_groups AS
SELECT i.id AS incident_id, i.service AS grp FROM incidents i WHERE i.service IS NOT NULL;

CREATE VIEW flag_groups AS
SELECT f.project, f.key AS flag_key, f.service AS grp FROM flags f WHERE f.service IS NOT NULL;
