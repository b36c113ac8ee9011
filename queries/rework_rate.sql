-- rework_rate: deployment rework (DORA 2024).
-- Inputs:  deployment_commits, commits, changes, rollbacks,
--          grouped_deployments
-- Parameters: rework_labels (lower-case list, default 'hotfix','bug','incident')
-- Outputs: rework_deployment_reasons(deployment_id, reason)
--          rework_rate(grp, interval_start, rework_deployments)
-- METRICS.md: section 4.6. rework_rate = rework / deployments is computed in
-- metrics.sql.
CREATE VIEW rework_deployment_reasons AS
SELECT dc.deployment_id, 'revert commit' AS reason
FROM deployment_commits dc
JOIN commits c ON c.repo = dc.repo AND c.sha = dc.sha
WHERE c.message LIKE 'Revert %'
UNION ALL
SELECT dc.deployment_id, 'labelled change' AS reason
FROM deployment_commits dc
JOIN (
    SELECT DISTINCT l.repo, l.merge_sha
    FROM (SELECT ch.repo, ch.merge_sha, unnest(ch.labels) AS label
          FROM changes ch WHERE ch.merge_sha IS NOT NULL) l
    WHERE lower(l.label) IN ({{rework_labels}})
) ch ON ch.repo = dc.repo AND ch.merge_sha = dc.sha
UNION ALL
SELECT r.rollback_deployment_id AS deployment_id, 'rollback' AS reason
FROM rollbacks r
WHERE r.rollback_deployment_id IS NOT NULL;

CREATE VIEW rework_rate AS
SELECT gd.grp, gd.interval_start, count(*) AS rework_deployments
FROM grouped_deployments gd
WHERE gd.id IN (SELECT r.deployment_id FROM rework_deployment_reasons r)
GROUP BY gd.grp, gd.interval_start;
