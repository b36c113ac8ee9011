-- Grouping --by repo.
-- Inputs:  production_deployments_unbucketed, incidents, flags
-- Outputs: deployment_groups(deployment_id, grp), incident_groups(incident_id, grp),
--          flag_groups(project, flag_key, grp)
-- docs/metrics.md: section 2, "Grouping": an incident belongs to every repo that
-- has a production deployment of its service (at any time: the repo-service
-- relation is structural, see queries/README.md); a feature flag likewise,
-- by its service.
CREATE VIEW deployment_groups AS
SELECT d.id AS deployment_id, d.repo AS grp FROM production_deployments_unbucketed d;

CREATE VIEW incident_groups AS
SELECT DISTINCT i.id AS incident_id, d.repo AS grp
FROM incidents i JOIN production_deployments_unbucketed d ON d.service = i.service;

CREATE VIEW flag_groups AS
SELECT DISTINCT f.project, f.key AS flag_key, d.repo AS grp
FROM flags f JOIN production_deployments_unbucketed d ON d.service = f.service;
