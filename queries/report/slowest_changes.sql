-- slowest_changes: the report week's ten commits with the longest lead time,
-- with their message and the change (PR/MR) that brought them.
-- Inputs:     production_deployments, lead_time_samples (lead_time.sql,
--             registered for the week), commits, commit_changes, changes
-- Parameters: week_start, week_end (timestamps; the week is [start, end))
-- Outputs:    repo, sha, message, change ("repo#number title", null when no
--             change is known), lead_s, deployment_id, number
-- docs/metrics.md: sections 4.2 (lead time: baseline commits and commits
-- authored after their deployment are left out, as in lead_time.sql) and 7
-- (the change that brought a commit: a branch commit it lists, or its
-- merge/squash commit; the lowest number when two merged changes carry it).
-- The ten slowest first: the 10-row side is the hash-join build side.
WITH slow AS (
    SELECT s.repo, s.sha, s.deployment_id, s.lead_time_s AS lead_s
    FROM production_deployments d
    JOIN lead_time_samples s ON d.id = s.deployment_id
    WHERE s.deployed_at >= {{week_start}} AND s.deployed_at < {{week_end}}
    ORDER BY lead_s DESC, s.repo, s.sha, s.deployment_id
    LIMIT 10)
SELECT slow.repo,
       slow.sha,
       coalesce(c.message, '') AS message,
       CASE WHEN ch.number IS NULL THEN NULL
            ELSE concat(slow.repo, '#', CAST(ch.number AS VARCHAR), ' ', coalesce(ch.title, ''))
       END AS change,
       slow.lead_s,
       slow.deployment_id,
       ch.number
FROM slow
LEFT JOIN commits c ON c.repo = slow.repo AND c.sha = slow.sha
LEFT JOIN (
    SELECT repo, sha, min(number) AS number FROM commit_changes
    WHERE sha IN (SELECT sha FROM slow) GROUP BY repo, sha) m
  ON m.repo = slow.repo AND m.sha = slow.sha
LEFT JOIN changes ch ON ch.repo = m.repo AND ch.number = m.number
ORDER BY slow.lead_s DESC, slow.repo, slow.sha, slow.deployment_id
