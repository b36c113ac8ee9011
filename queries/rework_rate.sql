-- rework_rate: deployment rework (DORA 2024).
-- Inputs:  deployment_commits, commits, changes, rollbacks,
--          grouped_deployments
-- Parameters: rework_labels (lower-case list, default 'hotfix','bug','incident')
-- Outputs: rework_commits(repo, sha, sha_key, reason): merge commits of
--              labelled changes
--          rework_deployment_reasons(deployment_id, reason): for deployments
--              finished in the window

--          rework_rate(grp, interval_start, rework_deployments)
-- docs/metrics.md: section 4.6. rework_rate = rework / deployments is computed in
-- metrics.sql.
-- The (small) set of labelled merge commits is built first, so the large
-- deployment_commits table is probed once, on its 16-byte sha_key, and only
-- for deployments in the window (the only ones a metric row counts).
-- Revert commits need no join: attribution flags them in
-- deployment_commits.revert (message starts with `Revert `).
CREATE VIEW rework_commits AS
SELECT DISTINCT l.repo, l.merge_sha AS sha, sha_key(l.merge_sha) AS sha_key,
       'labelled change' AS reason
FROM (SELECT ch.repo, ch.merge_sha, unnest(ch.labels) AS label
      FROM changes ch WHERE ch.merge_sha IS NOT NULL) l
WHERE lower(l.label) IN ({{rework_labels}});

CREATE VIEW rework_deployment_reasons AS
SELECT DISTINCT dc.deployment_id, 'revert commit' AS reason
FROM deployment_commits dc
WHERE dc.revert AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
UNION ALL
-- The small side comes first: DataFusion builds its hash table on the left
-- input when it has no statistics to choose by.
SELECT DISTINCT dc.deployment_id, rc.reason
FROM rework_commits rc
JOIN deployment_commits dc ON rc.sha_key = dc.sha_key AND rc.repo = dc.repo
WHERE dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
UNION ALL
SELECT r.rollback_deployment_id AS deployment_id, 'rollback' AS reason
FROM rollbacks r
WHERE r.rollback_deployment_id IS NOT NULL;

CREATE VIEW rework_rate AS
SELECT gd.grp, gd.interval_start, count(*) AS rework_deployments
FROM grouped_deployments gd
WHERE gd.id IN (SELECT r.deployment_id FROM rework_deployment_reasons r)
GROUP BY gd.grp, gd.interval_start;
