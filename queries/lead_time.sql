-- lead_time: lead time for changes, per shipped commit.
-- Inputs:  deployment_commits (attribution, METRICS.md section 3),
--          grouped_deployments
-- Parameters: include_baseline (false unless --include-baseline)
-- Outputs: grp, interval_start, lead_time_count, lead_time_p50_s, lead_time_p90_s,
--          lead_time_p50_ci ([low, high] of the median, see src/metrics/stats.rs)
-- METRICS.md: section 4.2. Lead time = finished_at of the shipping
-- deployment - authored_at. Baseline commits are left out; commits authored
-- after the deployment finished (clock skew) are left out. Quantiles are
-- exact with linear interpolation (percentile_cont, numpy type 7).
CREATE VIEW lead_time AS
SELECT gd.grp,
       gd.interval_start,
       count(*) AS lead_time_count,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.lead_time_s) AS lead_time_p50_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY s.lead_time_s) AS lead_time_p90_s,
       median_interval(s.lead_time_s) AS lead_time_p50_ci
-- grouped_deployments (about a million rows) comes first so DataFusion
-- builds its hash table on it, not on the per-commit rows.
FROM grouped_deployments gd
JOIN (
    SELECT dc.deployment_id,
           (arrow_cast(dc.deployed_at, 'Int64') - arrow_cast(dc.authored_at, 'Int64')) / 1000000.0
               AS lead_time_s
    FROM deployment_commits dc
    WHERE (NOT dc.baseline OR {{include_baseline}})
      AND dc.authored_at <= dc.deployed_at
      AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
) s ON gd.id = s.deployment_id
GROUP BY gd.grp, gd.interval_start;
