-- slowest_changes: the window's commits with the longest lead time among
-- the deployments the filters keep, with the change (pull or merge request)
-- that brought each. Read by the weekly report (its week, limit 10) and by
-- `GET /api/v1/changes/slowest` (the request's window and filters).
-- Inputs:     grouped_deployments (registered without --by, with the
--             filters' scope), lead_time_samples, commits, change_commits
--             and changes (commit_changes' rule, inlined below)
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
    -- (commit_changes' two branches, each cut to the slow shas first:
    -- filtered after its UNION, every change's commits were made distinct
    -- to keep 20; at the benchmark's scale 4.9 s and 2.1 GiB, now 3.1 s and
    -- 0.8 GiB for the whole command)
    SELECT x.repo, x.sha, min(x.number) AS number
    FROM (
        SELECT cc.repo, cc.sha, cc.number
        FROM change_commits cc
        JOIN changes c ON c.repo = cc.repo AND c.number = cc.number
        WHERE c.merged_at IS NOT NULL AND cc.sha IN (SELECT sha FROM slow)
        UNION ALL
        SELECT repo, merge_sha AS sha, number
        FROM changes
        WHERE merged_at IS NOT NULL AND merge_sha IN (SELECT sha FROM slow)
    ) x
    GROUP BY x.repo, x.sha) m
  ON m.repo = slow.repo AND m.sha = slow.sha
LEFT JOIN changes ch ON ch.repo = m.repo AND ch.number = m.number
ORDER BY slow.lead_time_s DESC, slow.repo, slow.sha, slow.deployment_id
