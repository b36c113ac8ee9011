-- failed_deployments: the report week's failed production deployments, with
-- what linked each to a failure and how long recovery took.
-- Inputs:     production_deployments, deployment_failure_links,
--             deployment_recovery (registered for the week's window)
-- Parameters: week_start, week_end (timestamps; the week is [start, end))
-- Outputs:    id, service, finished (µs since the epoch), links (sorted,
--             comma-separated: incident ids, "(inferred)" when linked only
--             by timing, or the rollback/failed-status reason), recovery_s,
--             open_failure
-- docs/metrics.md: sections 4.3 (failure links) and 4.4 (recovery).
SELECT d.id,
       d.service,
       arrow_cast(d.finished_at, 'Int64') AS finished,
       array_to_string(array_sort(array_agg(DISTINCT
           CASE WHEN l.incident_id IS NULL THEN l.link
                ELSE concat(l.incident_id, CASE WHEN l.inferred THEN ' (inferred)' ELSE '' END)
           END)), ', ') AS links,
       r.recovery_s,
       r.open_failure
FROM deployment_recovery r
JOIN production_deployments d ON d.id = r.deployment_id
JOIN deployment_failure_links l ON l.deployment_id = d.id
WHERE d.finished_at >= {{week_start}} AND d.finished_at < {{week_end}}
GROUP BY d.id, d.service, d.finished_at, r.recovery_s, r.open_failure
ORDER BY d.finished_at, d.id
