-- explain incident: which deployment an incident counts against and by
-- which rule (`doralens explain incident <id>`), over the metric views
-- registered for the whole history.
-- Parameters: id (the incident id)
-- Statements, in order:
--   0. the incident: service, title, severity, created_at, resolved_at,
--      deployment_id, sha (read first)
--   1. links: deployment_id, link (incident.deployment_id, incident.sha or
--      incident.inferred: docs/metrics.md 4.3), finished_at of that
--      deployment, service
--   2. the deployment it names, if any: environment, status, production
--   3. the production deployment of its service finished last at or before
--      it (what inference would consider): id, finished_at
SELECT service, title, severity, created_at, resolved_at, deployment_id, sha
FROM incidents WHERE id = {{id}};

SELECT l.deployment_id, l.link, d.finished_at, d.service
FROM deployment_failure_links l
JOIN production_deployments d ON d.id = l.deployment_id
WHERE l.incident_id = {{id}}
ORDER BY d.finished_at, l.deployment_id;

SELECT d.id, d.environment, d.status,
       (SELECT count(*) FROM production_deployments p WHERE p.id = d.id) AS production
FROM deployments d
JOIN incidents i ON i.deployment_id = d.id
WHERE i.id = {{id}};

SELECT d.id, d.finished_at
FROM production_deployments d
JOIN incidents i ON i.service = d.service AND d.finished_at <= i.created_at
WHERE i.id = {{id}}
ORDER BY d.finished_at DESC, d.id DESC
LIMIT 1;
