-- dashboard deployments: the window's production deployments (newest
-- first) that the filters keep, with why each failed or is rework
-- (`GET /api/v1/deployments`, src/serve/lists.rs).
-- Inputs:     grouped_deployments (registered without --by, with the
--             filters' scope), production_deployments,
--             deployment_failure_links, deployment_recovery,
--             rework_deployment_reasons
-- Parameters: only (a condition over failed, rework and rolled_back:
--             `true` for all), limit
-- Outputs:    id, service, repo, environment, sha, finished_at, failed,
--             rework, rolled_back, incidents (linked incident ids, sorted,
--             comma-separated), links (the failure links' kinds), recovery_s,
--             open_failure, total (rows before the limit)
-- docs/metrics.md: sections 4.3 (failure links), 4.4 (recovery), 4.6 (rework).
WITH listed AS (
    SELECT d.id, d.service, d.repo, d.environment, d.sha, d.finished_at,
           f.deployment_id IS NOT NULL AS failed,
           r.deployment_id IS NOT NULL AS rework,
           coalesce(f.rolled_back, false) AS rolled_back,
           f.incidents,
           f.links,
           rec.recovery_s,
           rec.open_failure
    FROM grouped_deployments gd
    JOIN production_deployments d ON d.id = gd.id
    LEFT JOIN (
        SELECT deployment_id,
               bool_or(link = 'rollback') AS rolled_back,
               array_to_string(array_sort(array_agg(DISTINCT incident_id)), ', ') AS incidents,
               array_to_string(array_sort(array_agg(DISTINCT link)), ', ') AS links
        FROM deployment_failure_links
        GROUP BY deployment_id) f ON f.deployment_id = d.id
    LEFT JOIN (SELECT DISTINCT deployment_id FROM rework_deployment_reasons) r
      ON r.deployment_id = d.id
    LEFT JOIN deployment_recovery rec ON rec.deployment_id = d.id
)
SELECT listed.*, count(*) OVER () AS total
FROM listed
WHERE {{only}}
ORDER BY finished_at DESC, id DESC
LIMIT {{limit}}
