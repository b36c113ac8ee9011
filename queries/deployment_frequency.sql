-- deployment_frequency: production deployments per group and bucket.
-- Inputs:  production_deployments, deployment_groups
-- Outputs: grp, interval_start, deployments, deploy_days
--          (deploys_per_day = deployments / days of the bucket inside the
--          window is computed in metrics.sql, which knows the buckets)
-- METRICS.md: section 4.1.
CREATE VIEW deployment_frequency AS
SELECT g.grp,
       d.interval_start,
       count(*) AS deployments,
       count(DISTINCT date_trunc('day', d.finished_at)) AS deploy_days
FROM production_deployments d
JOIN deployment_groups g ON g.deployment_id = d.id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}}
GROUP BY g.grp, d.interval_start;
