-- Grouping --by repo.
-- Inputs:  production_deployments, incidents
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp)
-- docs/metrics.md: section 2, "Grouping": an incident belongs to every repo that
-- has a production deployment of its service (at any time: the repo-service
-- relation is structural, see queries/README.md).
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, d.repo AS grp FROM production_deployments d;

CREATE VIEW incident_groups AS
SELECT DISTINCT i.id AS incident_id, d.repo AS grp
FROM incidents i JOIN production_deployments d ON d.service = i.service;
