-- slowest_changes: the window's commits with the longest lead time among
-- the deployments the filters keep, with the change (pull or merge request)
-- that brought each. Read by the weekly report (its week, limit 10) and by
-- `GET /api/v1/changes/slowest` (the request's window and filters).
-- Inputs:     grouped_deployments (registered without --by, with the
--             filters' scope), lead_time_samples, commits, commit_changes,
--             changes
-- Parameters: limit
-- Outputs:    repo, sha, message, number, title (of the change, null when
--             none is known), lead_time_s, deployment_id, deployed_at
-- docs/metrics.md: sections 4.2 (lead time: baseline commits and commits
-- authored after their deployment are left out, as in lead_time.sql) and 7
-- (the change that brought a commit: a branch commit it lists, or its
-- merge/squash commit; the lowest number when two merged changes carry it).
-- The slowest first: the `limit`-row side is the hash-join build side.
WITH slow AS (
    SELECT s.repo, s.sha, s.deployment_id, s.deployed_at, s.lead_time_s
    FROM grouped_deployments gd
    JOIN lead_time_samples s ON gd.id = s.deployment_id
    ORDER BY s.lead_time_s DESC, s.repo, s.sha, s.deployment_id
    LIMIT {{limit}})
SELECT slow.repo,
       slow.sha,
       coalesce(c.message, '') AS message,
       ch.number,
       ch.title,
       slow.lead_time_s,
       slow.deployment_id,
       slow.deployed_at
FROM slow
LEFT JOIN commits c ON c.repo = slow.repo AND c.sha = slow.sha
LEFT JOIN (
    SELECT repo, sha, min(number) AS number FROM commit_changes
    WHERE sha IN (SELECT sha FROM slow) GROUP BY repo, sha) m
  ON m.repo = slow.repo AND m.sha = slow.sha
LEFT JOIN changes ch ON ch.repo = m.repo AND ch.number = m.number
ORDER BY slow.lead_time_s DESC, slow.repo, slow.sha, slow.deployment_id
