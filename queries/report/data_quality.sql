-- data_quality: counts behind the report's data-quality notes, for the week.
-- Inputs:     deployment_warnings, production_deployments,
--             deployment_failure_links, incidents
-- Parameters: week_start, week_end (timestamps; the week is [start, end))
-- Outputs:    one row: unknown_sha (production deployments naming a sha not
--             among their repo's commits: they ship nothing), inferred
--             (failed deployments linked to an incident only by timing),
--             no_service (incidents created in the week without a service)
-- docs/metrics.md: sections 3 (unknown shas) and 4.3 (inferred links).
SELECT
    (SELECT count(*) FROM deployment_warnings w
       JOIN production_deployments d ON d.id = w.deployment_id
      WHERE d.finished_at >= {{week_start}} AND d.finished_at < {{week_end}}) AS unknown_sha,
    (SELECT count(DISTINCT l.deployment_id) FROM deployment_failure_links l
       JOIN production_deployments d ON d.id = l.deployment_id
      WHERE l.inferred AND d.finished_at >= {{week_start}} AND d.finished_at < {{week_end}}) AS inferred,
    (SELECT count(*) FROM incidents
      WHERE service IS NULL
        AND created_at >= {{week_start}} AND created_at < {{week_end}}) AS no_service
