-- slowest_changes: the window's commits with the longest lead time among
-- the deployments the filters keep, with the change (pull or merge request)
-- that brought each. Read by the weekly report (its week, limit 10) and by
-- `GET /api/v1/changes/slowest` (the request's window and filters).
-- Two statements, run one after the other (`metrics::slowest_changes`):
-- the first finds the slow commits; the second names them, with the first
-- one's rows as literals. A join from the `limit` rows still read every
-- row of change_commits, changes and commits (9.2 M, 3.7 M and 9.7 M at the
-- benchmark's scale: 1.4 s of a dashboard filter change); literal `repo IN`
-- and `sha IN` conditions let the Parquet reader skip the row groups of
-- other repositories (a repository's rows are written together) and keep
-- the rows it reads to the slow commits'.
-- Inputs:     grouped_deployments (registered without --by, with the
--             filters' scope), lead_time_samples, commits, change_commits
--             and changes (commit_changes' rule, inlined below)
-- Parameters: limit; for the second statement slow (the first one's rows
--             as a VALUES list: repo, sha, deployment_id, deployed_at,
--             lead_time_s; one row of NULLs when there is none), slow_repos
--             and slow_shas (their repositories and shas as literal lists,
--             NULL when empty)
-- Outputs:    repo, sha, message, number, title (of the change, null when
--             none is known), lead_time_s, deployment_id, deployed_at
-- docs/metrics.md: sections 4.2 (lead time: baseline commits and commits
-- authored after their deployment are left out, as in lead_time.sql) and 7
-- (the change that brought a commit: a branch commit it lists, or its
-- merge/squash commit; the lowest number when two merged changes carry it).
SELECT s.repo, s.sha, s.deployment_id, s.deployed_at, s.lead_time_s
FROM grouped_deployments gd
JOIN lead_time_samples s ON gd.id = s.deployment_id
ORDER BY s.lead_time_s DESC, s.repo, s.sha, s.deployment_id
LIMIT {{limit}};

WITH slow AS (
    SELECT column1 AS repo, column2 AS sha, column3 AS deployment_id,
           column4 AS deployed_at, column5 AS lead_time_s
    FROM (VALUES {{slow}}) v
    WHERE column1 IS NOT NULL),
listed AS (
    -- (commit_changes' first branch: a merged change whose commits list
    -- the sha)
    SELECT cc.repo, cc.sha, c.number
    FROM change_commits cc
    JOIN changes c ON c.repo = cc.repo AND c.number = cc.number
    WHERE cc.repo IN ({{slow_repos}}) AND cc.sha IN ({{slow_shas}})
      AND c.repo IN ({{slow_repos}}) AND c.merged_at IS NOT NULL),
merged AS (
    -- (its second: the merged change whose merge commit it is)
    SELECT m.repo, m.merge_sha AS sha, m.number
    FROM changes m
    WHERE m.repo IN ({{slow_repos}}) AND m.merge_sha IN ({{slow_shas}})
      AND m.merged_at IS NOT NULL),
numbered AS (
    SELECT slow.repo, slow.sha, slow.deployment_id, slow.deployed_at, slow.lead_time_s,
           min(l.number) AS listed_by, min(m.number) AS merged_by
    FROM slow
    LEFT JOIN listed l ON l.repo = slow.repo AND l.sha = slow.sha
    LEFT JOIN merged m ON m.repo = slow.repo AND m.sha = slow.sha
    GROUP BY slow.repo, slow.sha, slow.deployment_id, slow.deployed_at, slow.lead_time_s)
SELECT n.repo,
       n.sha,
       coalesce(cm.message, '') AS message,
       ch.number,
       ch.title,
       n.lead_time_s,
       n.deployment_id,
       n.deployed_at
FROM numbered n
LEFT JOIN (SELECT repo, sha, message FROM commits
           WHERE repo IN ({{slow_repos}}) AND sha IN ({{slow_shas}})) cm
  ON cm.repo = n.repo AND cm.sha = n.sha
LEFT JOIN (SELECT repo, number, title FROM changes
           WHERE repo IN ({{slow_repos}})) ch
  ON ch.repo = n.repo
 AND ch.number = CASE WHEN n.merged_by IS NULL OR n.listed_by < n.merged_by
                      THEN n.listed_by ELSE n.merged_by END
ORDER BY n.lead_time_s DESC, n.repo, n.sha, n.deployment_id
