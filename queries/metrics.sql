-- metrics: the docs/metrics.md section 6 rows, one per (group, bucket).
-- Inputs:  the views of deployment_frequency.sql, lead_time.sql,
--          change_failure_rate.sql, recovery_time.sql, time_to_restore.sql,
--          rework_rate.sql, four_eyes.sql, deployment_approvals.sql,
--          batch_size.sql, releases.sql, flag_debt.sql, flag_governance.sql;
--          grouped_deployments /
--          incident_groups; buckets
--          (interval_start, days_in_window: every bucket overlapping the window)
-- Outputs: grp, interval_start, then the section 6 columns up to rework_rate,
--          then the medians' intervals (*_p50_low_s, *_p50_high_s), then
--          how the failed deployments were linked: failures_explicit (at least
--          one link by incident deployment_id, incident sha or rollback) and
--          failures_inferred (linked only by timing); they sum to
--          failed_deployments (docs/metrics.md section 6, doralens's addition);
--          then the release governance columns (four_eyes.sql: production
--          changes, four-eyes changes and share, review times with their
--          medians' intervals; docs/metrics.md section 8).
--          Then those of deployment_approvals.sql, batch_size.sql,
--          releases.sql and flag_debt.sql (section 9), then
--          flag_governance.sql's (recovery by action, section 4.4; four-eyes
--          on flag changes, 9.7).
--          Exactly the columns src/metrics/catalogue.rs lists (an extra or a
--          missing one is an error); the catalogue, not this order, sets the
--          output's: src/metrics/output.rs renames the group column, types
--          each column by its unit and adds the levels and Wilson intervals.
-- docs/metrics.md: section 6. A group has rows when it has a production
-- deployment, an incident, a flag release or a production flag change in
-- the window (flag debt alone gives no rows: planning flag_debt twice made
-- serve's scrape too slow), and then a row for every bucket
-- (empty ones included: 0 counts, null statistics). failed_deployments comes
-- from recovery_time (the same count as change_failure_rate's) so the
-- failure links are evaluated once per query.
WITH active_groups AS (
    SELECT gd.grp FROM grouped_deployments gd
    UNION
    SELECT g.grp
    FROM incident_groups g
    JOIN incidents i ON i.id = g.incident_id
    WHERE i.created_at >= {{from}} AND i.created_at < {{to}}
    UNION
    SELECT r.grp FROM releases r
    UNION
    SELECT fg.grp FROM flag_change_governance fg
)
SELECT a.grp,
       b.interval_start,
       coalesce(df.deployments, 0) AS deployments,
       coalesce(df.deploy_days, 0) AS deploy_days,
       coalesce(df.deployments, 0) / b.days_in_window AS deploys_per_day,
       coalesce(lt.lead_time_count, 0) AS lead_time_count,
       lt.lead_time_p50_s,
       lt.lead_time_p90_s,
       coalesce(rt.failed_deployments, 0) AS failed_deployments,
       CASE WHEN coalesce(df.deployments, 0) > 0
            THEN coalesce(rt.failed_deployments, 0) / CAST(df.deployments AS DOUBLE)
       END AS change_failure_rate,
       coalesce(rt.recovery_count, 0) AS recovery_count,
       rt.recovery_time_p50_s,
       rt.recovery_time_p90_s,
       coalesce(rt.open_failures, 0) AS open_failures,
       coalesce(tr.incidents, 0) AS incidents,
       tr.time_to_restore_p50_s,
       coalesce(rw.rework_deployments, 0) AS rework_deployments,
       CASE WHEN coalesce(df.deployments, 0) > 0
            THEN coalesce(rw.rework_deployments, 0) / CAST(df.deployments AS DOUBLE)
       END AS rework_rate,
       lt.lead_time_p50_low_s,
       lt.lead_time_p50_high_s,
       rt.recovery_time_p50_low_s,
       rt.recovery_time_p50_high_s,
       tr.time_to_restore_p50_low_s,
       tr.time_to_restore_p50_high_s,
       coalesce(rt.failed_deployments, 0) - coalesce(rt.inferred_failures, 0) AS failures_explicit,
       coalesce(rt.inferred_failures, 0) AS failures_inferred,
       coalesce(fe.production_changes, 0) AS production_changes,
       coalesce(fe.four_eyes_changes, 0) AS four_eyes_changes,
       CASE WHEN coalesce(fe.production_changes, 0) > 0
            THEN fe.four_eyes_changes / CAST(fe.production_changes AS DOUBLE)
       END AS four_eyes_share,
       fe.time_to_first_review_p50_s,
       fe.time_to_first_review_p50_low_s,
       fe.time_to_first_review_p50_high_s,
       fe.time_to_first_review_p90_s,
       fe.approval_to_merge_p50_s,
       fe.approval_to_merge_p50_low_s,
       fe.approval_to_merge_p50_high_s,
       fe.approval_to_merge_p90_s,
       -- Release governance: deployment approvals (deployment_approvals.sql).
       coalesce(ap.approved_deployments, 0) AS approved_deployments,
       CASE WHEN coalesce(df.deployments, 0) > 0
            THEN coalesce(ap.approved_deployments, 0) / CAST(df.deployments AS DOUBLE)
       END AS deployment_approval_share,
       coalesce(ap.self_approved_deployments, 0) AS self_approved_deployments,
       ap.approval_wait_p50_s,
       ap.approval_wait_p50_low_s,
       ap.approval_wait_p50_high_s,
       ap.approval_wait_p90_s,
       -- Release governance: batch size (batch_size.sql).
       bs.changes_per_deployment_p50,
       bs.changes_per_deployment_p90,
       bs.commits_per_deployment_p50,
       bs.commits_per_deployment_p90,
       coalesce(bs.changes_with_lines, 0) AS sized_changes,
       bs.change_lines_p50,
       bs.change_lines_p90,
       coalesce(bs.large_changes, 0) AS large_changes,
       CASE WHEN coalesce(bs.changes_with_lines, 0) > 0
            THEN bs.large_changes / CAST(bs.changes_with_lines AS DOUBLE)
       END AS large_change_share,
       -- Releases of feature flags (releases.sql).
       coalesce(rl.releases, 0) AS releases,
       coalesce(rl.releases, 0) / b.days_in_window AS releases_per_day,
       coalesce(rl.progressive_releases, 0) AS progressive_releases,
       CASE WHEN coalesce(rl.releases, 0) > 0
            THEN rl.progressive_releases / CAST(rl.releases AS DOUBLE)
       END AS progressive_release_share,
       rl.rollout_duration_p50_s,
       rl.rollout_duration_p50_low_s,
       rl.rollout_duration_p50_high_s,
       rl.rollout_duration_p90_s,
       rl.deploy_to_release_p50_s,
       rl.deploy_to_release_p50_low_s,
       rl.deploy_to_release_p50_high_s,
       rl.deploy_to_release_p90_s,
       -- Flag debt (flag_debt.sql): stocks at each bucket's end, removals
       -- in the bucket.
       coalesce(fd.active_flags, 0) AS active_flags,
       coalesce(fd.stale_flags, 0) AS stale_flags,
       CASE WHEN coalesce(fd.active_flags, 0) > 0
            THEN fd.stale_flags / CAST(fd.active_flags AS DOUBLE)
       END AS stale_flag_share,
       coalesce(fd.unowned_flags, 0) AS unowned_flags,
       fd.flag_age_p50_s,
       coalesce(fx.removed_flags, 0) AS removed_flags,
       fx.release_to_removal_p50_s,
       fx.release_to_removal_p50_low_s,
       fx.release_to_removal_p50_high_s,
       fx.release_to_removal_p90_s,
       -- Recovery by action and four-eyes on flag changes (flag_governance.sql).
       coalesce(ra.recoveries_by_rollback, 0) AS recoveries_by_rollback,
       ra.recovery_time_rollback_p50_s,
       coalesce(ra.recoveries_by_flag, 0) AS recoveries_by_flag,
       ra.recovery_time_flag_p50_s,
       coalesce(ra.recoveries_by_hotfix, 0) AS recoveries_by_hotfix,
       ra.recovery_time_hotfix_p50_s,
       coalesce(ra.recoveries_unknown, 0) AS recoveries_unknown,
       ra.blast_radius_p50,
       coalesce(fg.production_flag_changes, 0) AS production_flag_changes,
       coalesce(fg.gated_flag_changes, 0) AS gated_flag_changes,
       CASE WHEN coalesce(fg.production_flag_changes, 0) > 0
            THEN fg.gated_flag_changes / CAST(fg.production_flag_changes AS DOUBLE)
       END AS flag_change_gated_share
FROM active_groups a
CROSS JOIN buckets b
LEFT JOIN deployment_frequency df ON df.grp = a.grp AND df.interval_start = b.interval_start
LEFT JOIN lead_time lt ON lt.grp = a.grp AND lt.interval_start = b.interval_start
LEFT JOIN recovery_time rt ON rt.grp = a.grp AND rt.interval_start = b.interval_start
LEFT JOIN time_to_restore tr ON tr.grp = a.grp AND tr.interval_start = b.interval_start
LEFT JOIN rework_rate rw ON rw.grp = a.grp AND rw.interval_start = b.interval_start
LEFT JOIN four_eyes fe ON fe.grp = a.grp AND fe.interval_start = b.interval_start
LEFT JOIN deployment_approval ap ON ap.grp = a.grp AND ap.interval_start = b.interval_start
LEFT JOIN batch_size bs ON bs.grp = a.grp AND bs.interval_start = b.interval_start
LEFT JOIN releases rl ON rl.grp = a.grp AND rl.interval_start = b.interval_start
LEFT JOIN flag_debt fd ON fd.grp = a.grp AND fd.interval_start = b.interval_start
LEFT JOIN flag_removal fx ON fx.grp = a.grp AND fx.interval_start = b.interval_start
LEFT JOIN recovery_actions ra ON ra.grp = a.grp AND ra.interval_start = b.interval_start
LEFT JOIN flag_change_governance fg ON fg.grp = a.grp AND fg.interval_start = b.interval_start
ORDER BY a.grp, b.interval_start
