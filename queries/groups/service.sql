-- Grouping --by service.
-- Inputs:  production_deployments, incidents
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp)
-- docs/metrics.md: section 2, "Grouping".
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, d.service AS grp FROM production_deployments d;

CREATE VIEW incident_groups AS
SELECT i.id AS incident_id, i.service AS grp FROM incidents i WHERE i.service IS NOT NULL;
