-- lead_time: lead time for changes, per shipped commit.
-- Inputs:  deployment_commits (attribution, docs/metrics.md section 3),
--          grouped_deployments
-- Parameters: include_baseline (false unless --include-baseline)
-- Outputs: lead_time_samples(deployment_id, repo, sha, deployed_at,
--          lead_time_s): one row per shipped commit in the window, the one
--          definition of a commit's lead time (charts and the report's slowest
--          changes read it too)
--          lead_time_values(deployment_id, lead_time_s): the same rows, the
--          two columns the statistic reads
--          lead_time(grp, interval_start, lead_time_count, lead_time_p50_s, lead_time_p90_s,
--          lead_time_p50_low_s, lead_time_p50_high_s) (the median's 95%
--          interval, see src/metrics/stats.rs)
-- docs/metrics.md: section 4.2. Lead time = finished_at of the shipping
-- deployment - authored_at. Baseline commits are left out; commits authored
-- after the deployment finished (clock skew) are left out. Quantiles are
-- exact with linear interpolation (numpy type 7, as percentile_cont), by
-- duration_summary, which keeps one copy of the ~10 M values per run where
-- percentile_cont(0.5), percentile_cont(0.9) and an interval would keep three.
CREATE VIEW lead_time_samples AS
SELECT dc.deployment_id,
       dc.repo,
       dc.sha,
       dc.deployed_at,
       (arrow_cast(dc.deployed_at, 'Int64') - arrow_cast(dc.authored_at, 'Int64')) / 1000000.0
           AS lead_time_s
FROM deployment_commits dc
WHERE (NOT dc.baseline OR {{include_baseline}})
  AND dc.authored_at <= dc.deployed_at
  AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}};

-- Only what the statistic reads: kept in memory once per window (a shared
-- view, queries/README.md), so a new filter does not scan
-- deployment_commits again (78 MB for a 90-day window at the benchmark's
-- scale, where the whole samples would take 266 MB).
CREATE VIEW lead_time_values AS
SELECT s.deployment_id, s.lead_time_s
FROM lead_time_samples s;

CREATE VIEW lead_time AS
SELECT grp, interval_start, lead_time_count,
       summary['p50'] AS lead_time_p50_s,
       summary['p90'] AS lead_time_p90_s,
       summary['p50_low'] AS lead_time_p50_low_s,
       summary['p50_high'] AS lead_time_p50_high_s
FROM (
    SELECT gd.grp,
           gd.interval_start,
           count(*) AS lead_time_count,
           duration_summary(s.lead_time_s) AS summary
    FROM grouped_deployments gd
    JOIN lead_time_values s ON gd.id = s.deployment_id
    GROUP BY gd.grp, gd.interval_start
) summarised;
