-- recovery_time: failed deployment recovery time.
-- Inputs:  deployment_failure_links (change_failure_rate.sql),
--          production_deployments_unbucketed, grouped_deployments
-- Outputs: deployment_recovery(deployment_id, open_failure, recovered_at, recovery_s,
--              inferred_only: every link of the failure was inferred by timing)
--          recovery_time(grp, interval_start, failed_deployments, recovery_count,
--              recovery_time_p50_s, recovery_time_p90_s,
--              recovery_time_p50_low_s, recovery_time_p50_high_s, open_failures,
--              inferred_failures)
-- docs/metrics.md: section 4.4. Recovery ends at the latest linked incident's
-- resolved_at or rollback's finished_at; a failure with an unresolved linked
-- incident is open and left out; a recovery ending before the deployment
-- finished is bad data and left out (recovery_s is null for both).
CREATE VIEW deployment_recovery AS
SELECT r.deployment_id, r.open_failure, r.recovered_at, r.inferred_only,
       CASE WHEN NOT r.open_failure AND r.recovered_at >= d.finished_at
            THEN (arrow_cast(r.recovered_at, 'Int64') - arrow_cast(d.finished_at, 'Int64')) / 1000000.0
       END AS recovery_s
FROM (
    SELECT l.deployment_id,
           bool_or(l.incident_id IS NOT NULL AND l.recovered_at IS NULL) AS open_failure,
           max(l.recovered_at) AS recovered_at,
           bool_and(l.inferred) AS inferred_only
    FROM deployment_failure_links l
    GROUP BY l.deployment_id
) r
JOIN production_deployments_unbucketed d ON d.id = r.deployment_id;

CREATE VIEW recovery_time AS
SELECT grp, interval_start, failed_deployments, recovery_count,
       summary['p50'] AS recovery_time_p50_s,
       summary['p90'] AS recovery_time_p90_s,
       summary['p50_low'] AS recovery_time_p50_low_s,
       summary['p50_high'] AS recovery_time_p50_high_s,
       open_failures,
       inferred_failures
FROM (
    SELECT gd.grp,
           gd.interval_start,
           -- deployment_recovery has one row per failed deployment, so this is
           -- change_failure_rate.sql's failed_deployments; metrics.sql takes it
           -- from here so the failure links are evaluated once.
           count(*) AS failed_deployments,
           count(r.recovery_s) AS recovery_count,
           duration_summary(r.recovery_s) AS summary,
           sum(CASE WHEN r.open_failure THEN 1 ELSE 0 END) AS open_failures,
           sum(CASE WHEN r.inferred_only THEN 1 ELSE 0 END) AS inferred_failures
    FROM deployment_recovery r
    JOIN grouped_deployments gd ON gd.id = r.deployment_id
    GROUP BY gd.grp, gd.interval_start
) summarised;
