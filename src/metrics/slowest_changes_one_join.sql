-- The slowest-changes list as one join (before the two statements of
-- queries/slowest_changes.sql): the reference its test compares with.
WITH slow AS (
    SELECT s.repo, s.sha, s.deployment_id, s.deployed_at, s.lead_time_s
    FROM grouped_deployments gd
    JOIN lead_time_samples s ON gd.id = s.deployment_id
    ORDER BY s.lead_time_s DESC, s.repo, s.sha, s.deployment_id
    LIMIT {{limit}}),
numbered AS (
    -- (commit_changes' two branches, as left joins: a merged change whose
    -- commits list the sha, or whose merge commit it is; the lowest number)
    SELECT slow.repo, slow.sha, slow.deployment_id, slow.deployed_at, slow.lead_time_s,
           min(c.number) AS listed_by, min(m.number) AS merged_by
    FROM slow
    LEFT JOIN change_commits cc ON cc.repo = slow.repo AND cc.sha = slow.sha
    LEFT JOIN changes c
      ON c.repo = cc.repo AND c.number = cc.number AND c.merged_at IS NOT NULL
    LEFT JOIN changes m
      ON m.repo = slow.repo AND m.merge_sha = slow.sha AND m.merged_at IS NOT NULL
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
LEFT JOIN commits cm ON cm.repo = n.repo AND cm.sha = n.sha
LEFT JOIN changes ch
  ON ch.repo = n.repo
 AND ch.number = CASE WHEN n.merged_by IS NULL OR n.listed_by < n.merged_by
                      THEN n.listed_by ELSE n.merged_by END
ORDER BY n.lead_time_s DESC, n.repo, n.sha, n.deployment_id
