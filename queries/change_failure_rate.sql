-- change_failure_rate: which production deployments failed, and how many per bucket.
-- Inputs:  production_deployments_unbucketed, deployment_commits, incidents,
--          rollbacks, grouped_deployments
-- Parameters: incident_window_us (0 turns inference off)
-- Outputs: inferred_incident_links(incident_id, deployment_id)
--          deployment_failure_links(deployment_id, link, incident_id,
--              recovered_at, inferred): one row per reason a deployment failed
--              for deployments finished in the window (the only ones a
--              metric row counts)
--          change_failure_rate(grp, interval_start, failed_deployments)
-- docs/metrics.md: section 4.3. change_failure_rate = failed / deployments is
-- computed in metrics.sql (null when there are no deployments).

-- The inferred link is an as-of join: the latest production deployment of
-- the incident's service finished at or before the incident was created
-- (ties: the greatest id, matching attribution's order). A running count of
-- deployments over a per-service timeline numbers each incident with the
-- deployment before it, so the join is an equality, not a range join.
CREATE VIEW inferred_incident_links AS
WITH timeline AS (
    SELECT d.service, d.finished_at AS at, 0 AS kind, d.id AS deployment_id,
           CAST(NULL AS VARCHAR) AS incident_id
    FROM production_deployments_unbucketed d
    UNION ALL
    SELECT i.service, i.created_at AS at, 1 AS kind, CAST(NULL AS VARCHAR) AS deployment_id,
           i.id AS incident_id
    FROM incidents i
    WHERE i.service IS NOT NULL AND i.deployment_id IS NULL AND i.sha IS NULL
      AND {{incident_window_us}} > 0
),
numbered AS (
    SELECT t.*,
           count(t.deployment_id) OVER (
               PARTITION BY t.service ORDER BY t.at, t.kind, t.deployment_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seq
    FROM timeline t
)
SELECT i.incident_id, d.deployment_id
FROM numbered i
JOIN numbered d ON d.service = i.service AND d.seq = i.seq AND d.kind = 0
WHERE i.kind = 1
  AND arrow_cast(i.at, 'Int64') - arrow_cast(d.at, 'Int64') <= {{incident_window_us}};

CREATE VIEW deployment_failure_links AS
SELECT d.id AS deployment_id, 'incident.deployment_id' AS link, i.id AS incident_id,
       i.resolved_at AS recovered_at, false AS inferred
FROM incidents i
JOIN production_deployments_unbucketed d ON d.id = i.deployment_id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}}
UNION ALL
SELECT DISTINCT dc.deployment_id, 'incident.sha' AS link, i.id AS incident_id,
       i.resolved_at AS recovered_at, false AS inferred
FROM incidents i
JOIN deployment_commits dc ON dc.sha_key = sha_key(i.sha)
WHERE i.sha IS NOT NULL AND (i.service IS NULL OR i.service = dc.service)
  -- (for the sha link, the window is applied to deployment_commits itself,
  -- so only the window's rows of that large table are probed, on the
  -- 16-byte sha_key rather than the 40-character sha)
  AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
UNION ALL
SELECT d.id AS deployment_id, 'rollback' AS link, CAST(NULL AS VARCHAR) AS incident_id,
       r.finished_at AS recovered_at, false AS inferred
FROM rollbacks r
JOIN production_deployments_unbucketed d ON d.id = r.deployment_id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}}
UNION ALL
SELECT l.deployment_id, 'incident.inferred' AS link, i.id AS incident_id,
       i.resolved_at AS recovered_at, true AS inferred
FROM inferred_incident_links l
JOIN incidents i ON i.id = l.incident_id
JOIN production_deployments_unbucketed d ON d.id = l.deployment_id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}};

CREATE VIEW change_failure_rate AS
SELECT gd.grp, gd.interval_start, count(*) AS failed_deployments
FROM grouped_deployments gd
WHERE gd.id IN (SELECT l.deployment_id FROM deployment_failure_links l)
GROUP BY gd.grp, gd.interval_start;
