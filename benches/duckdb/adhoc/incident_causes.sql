-- Each 2025 incident with the deployment that caused it (incidents.deployment_id)
-- and how long after that deployment finished it was opened.
SELECT i.id AS incident_id,
       i.service,
       i.severity,
       i.created_at,
       d.id AS deployment_id,
       d.repo,
       d.sha,
       d.finished_at AS deployed_at,
       (arrow_cast(i.created_at, 'Int64') - arrow_cast(d.finished_at, 'Int64')) / 1000000.0
           AS opened_after_s
FROM incidents i
JOIN deployments d ON d.id = i.deployment_id
WHERE i.created_at >= '2025-01-01T00:00:00Z' AND i.created_at < '2026-01-01T00:00:00Z'
ORDER BY i.id
