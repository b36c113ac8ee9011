-- dashboard incidents: the window's incidents (newest first) that the
-- filters keep, with their time to restore and the production deployment
-- each counts against and by which rule (`GET /api/v1/incidents`).
-- Inputs:     incidents, incident_groups (registered without --by, with the
--             filters' scope), deployment_failure_links
-- Parameters: limit
-- Outputs:    id, service, title, severity, created_at, resolved_at,
--             time_to_restore_s (null while open), deployment_id (null when
--             linked to none in the window), link (incident.deployment_id,
--             incident.sha or incident.inferred: docs/metrics.md 4.3),
--             total (incidents before the limit)
-- A deployment that finished before the window is not in
-- deployment_failure_links for it: `doralens explain incident` says why.
WITH listed AS (
    SELECT i.id, i.service, i.title, i.severity, i.created_at, i.resolved_at,
           CASE WHEN i.resolved_at >= i.created_at
                THEN (arrow_cast(i.resolved_at, 'Int64') - arrow_cast(i.created_at, 'Int64')) / 1000000.0
           END AS time_to_restore_s
    FROM incidents i
    WHERE i.id IN (SELECT incident_id FROM incident_groups)
      AND i.created_at >= {{from}} AND i.created_at < {{to}}
), numbered AS (
    SELECT listed.*, count(*) OVER () AS total
    FROM listed
    ORDER BY created_at DESC, id DESC
    LIMIT {{limit}}
)
SELECT n.id, n.service, n.title, n.severity, n.created_at, n.resolved_at, n.time_to_restore_s,
       l.deployment_id, l.link, n.total
FROM numbered n
LEFT JOIN (
    SELECT incident_id, min(deployment_id) AS deployment_id,
           array_to_string(array_sort(array_agg(DISTINCT link)), ', ') AS link
    FROM deployment_failure_links
    WHERE incident_id IS NOT NULL
    GROUP BY incident_id) l ON l.incident_id = n.id
ORDER BY n.created_at DESC, n.id DESC
