-- deployment_approvals: who approved each production deployment, and how
-- long it waited (release governance, doralens's addition).
-- Inputs:  deployment_approvals, production_deployments (triggered_by),
--          grouped_deployments
-- Outputs: approval_outcomes(deployment_id, approved_by_other,
--              self_approved, wait_s): one row per production deployment
--              finished in the window with at least one decision
--          deployment_approval(grp, interval_start, approved_deployments,
--              self_approved_deployments, approval_wait_p50_s,
--              approval_wait_p90_s, approval_wait_p50_low_s,
--              approval_wait_p50_high_s)
-- docs/metrics.md section 9.1; choices in queries/README.md (23-27).
-- A deployment is approved by someone else when one of its `approved`
-- decisions is by a person other than the one who triggered it (logins
-- compared case-insensitively; an unknown triggerer cannot be compared, so
-- any approval counts). Self-approved: approved, but only by its
-- triggerer. Rejections count for neither (a deployment rejected and then
-- approved by someone else is approved). The wait runs from the request
-- (the earliest requested_at) to the last approval; a deployment without
-- both times (GitHub's approvals carry none) or whose last approval
-- precedes its request is left out of the statistic, not counted as 0.
CREATE VIEW approval_outcomes AS
SELECT a.deployment_id,
       bool_or(a.state = 'approved'
               AND (d.triggered_by IS NULL OR lower(a.approver) <> lower(d.triggered_by)))
           AS approved_by_other,
       bool_or(a.state = 'approved'
               AND d.triggered_by IS NOT NULL AND lower(a.approver) = lower(d.triggered_by))
           AS approved_by_self,
       min(a.requested_at) AS requested_at,
       max(CASE WHEN a.state = 'approved' THEN a.decided_at END) AS approved_at
FROM deployment_approvals a
JOIN production_deployments d ON d.id = a.deployment_id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}}
GROUP BY a.deployment_id;

CREATE VIEW deployment_approval AS
SELECT grp, interval_start, approved_deployments, self_approved_deployments,
       wait['p50'] AS approval_wait_p50_s,
       wait['p90'] AS approval_wait_p90_s,
       wait['p50_low'] AS approval_wait_p50_low_s,
       wait['p50_high'] AS approval_wait_p50_high_s
FROM (
    SELECT gd.grp, gd.interval_start,
           count(CASE WHEN o.approved_by_other THEN 1 END) AS approved_deployments,
           count(CASE WHEN o.approved_by_self AND NOT o.approved_by_other THEN 1 END)
               AS self_approved_deployments,
           duration_summary(
               CASE WHEN o.approved_at >= o.requested_at
                    THEN (arrow_cast(o.approved_at, 'Int64')
                          - arrow_cast(o.requested_at, 'Int64')) / 1000000.0
               END) AS wait
    FROM grouped_deployments gd
    JOIN approval_outcomes o ON o.deployment_id = gd.id
    GROUP BY gd.grp, gd.interval_start
) summarised;
