-- deployment_frequency: production deployments per group and bucket.
-- Inputs:  grouped_deployments
-- Outputs: grp, interval_start, deployments, deploy_days
--          (deploys_per_day = deployments / days of the bucket inside the
--          window is computed in metrics.sql, which knows the buckets)
-- docs/metrics.md: section 4.1.
CREATE VIEW deployment_frequency AS
SELECT gd.grp,
       gd.interval_start,
       count(*) AS deployments,
       count(DISTINCT date_trunc('day', gd.finished_at)) AS deploy_days
FROM grouped_deployments gd
GROUP BY gd.grp, gd.interval_start;
