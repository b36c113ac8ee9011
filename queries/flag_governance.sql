-- flag_governance: how failed deployments recovered (rollback, flag,
-- hotfix or unknown), the blast radius of a failure a flag recovered, and
-- four-eyes on production flag changes (doralens's addition).
-- Inputs:     deployment_failure_links (change_failure_rate.sql),
--             production_deployments_unbucketed,
--             deployment_commits, incidents, rollbacks, flags,
--             flag_references, flag_events, flag_exposure (releases.sql),
--             grouped_deployments, flag_groups
-- Parameters: production_pattern, interval, from, to
-- Outputs:    recovery_hotfixes(id, service, finished_at): the deployments
--                 that can be a hotfix
--             failure_recoveries(deployment_id, service, finished_at,
--                 open_failure, recovered_at, recovery_s, recovery_action,
--                 recovery_flag, recovery_flag_link, hotfix_deployment_id,
--                 blast_radius): one row per failed production deployment
--                 of the window
--             recovery_actions(grp, interval_start, recoveries_by_rollback,
--                 recovery_time_rollback_p50_s, recoveries_by_flag,
--                 recovery_time_flag_p50_s, recoveries_by_hotfix,
--                 recovery_time_hotfix_p50_s, recoveries_unknown,
--                 blast_radius_p50)
--             flag_changes(id, project, flag_key, environment, at, actor,
--                 kind, change_request, gated): production flag changes in
--                 the window
--             direct_flag_changes(project, flag_key, environment, at,
--                 actor, kind): those without a change request
--             flag_change_governance(grp, interval_start,
--                 production_flag_changes, gated_flag_changes)
-- docs/metrics.md sections 4.4 (recovery by action) and 9.4 (four-eyes on
-- flag changes); choices 49-55 of queries/README.md.
--
-- The flags a deployment shipped: those whose first code reference
-- (flag_references.first_sha) is a commit the deployment shipped; and, for
-- a flag no repository has a reference row for (no scanner ran on it), the
-- flags of the deployment's service (flags.service). References name no
-- project, so flags are matched by key in every project.
--
-- A toggle-back is a production flag event that lowers the flag's exposure
-- in its environment (flag_exposure: a disable or archive while on, a
-- rollout cut), or a `disabled` / `archived` that is the first event
-- recorded in that environment (what it turned off was never fetched).
--
-- The recovery action of a failure that is not open, the first that holds:
--   1. flag (explicit): a linked incident names the flag in recovery_flag;
--   2. rollback: a rollbacks row names the deployment;
--   3. flag (toggle): a toggle-back of a flag it shipped happened between
--      the deployment's finish and its recovery, both included (the first
--      such toggle-back is reported);
--   4. hotfix: a later production deployment of the same service that
--      shipped at least one commit, is not a rollback's deployment, and
--      finished after the failed deployment and at or before its recovery
--      (the first such deployment is reported);
--   5. unknown.
-- An open failure has no action (null): it has not recovered.
--
-- Blast radius: for a failure recovered by a flag, the flag's exposure just
-- before the failure was caught (the first linked incident's creation, or
-- the toggle-back when that came first): the highest exposure over its
-- production environments of the last event strictly before that moment;
-- null when no production event of the flag came before it.
-- Written as one chain, each step read once: DataFusion inlines every
-- reference to a CTE, and the failure links (with the inferred as-of
-- join) are the expensive part, so they are aggregated exactly once.
-- recovery_hotfixes: the production deployments that can be a failure's
-- hotfix (they shipped commits and are not a rollback), finished from the
-- window's start on (a hotfix finished after a failure of the window: no
-- earlier row of deployment_commits can be one). A shared view: the
-- hotfix step below reads it twice.
CREATE VIEW recovery_hotfixes AS
SELECT h.id, h.service, h.finished_at
FROM production_deployments_unbucketed h
WHERE h.finished_at >= {{from}}
  AND h.id IN (SELECT dc.deployment_id FROM deployment_commits dc
               WHERE dc.deployed_at >= {{from}})
  AND h.id NOT IN (SELECT r.rollback_deployment_id FROM rollbacks r
                   WHERE r.rollback_deployment_id IS NOT NULL);

CREATE VIEW failure_recoveries AS
WITH shipped_flags AS (
    -- (only the window's rows of deployment_commits: the failures
    -- finished in the window)
    SELECT DISTINCT dc.deployment_id, fr.flag_key
    FROM deployment_commits dc
    JOIN flag_references fr ON fr.repo = dc.repo AND sha_key(fr.first_sha) = dc.sha_key
    WHERE dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
    UNION
    -- (the flags without references first: checked after the join, every
    -- deployment of the window times its service's flags was probed)
    SELECT d.id AS deployment_id, fl.key AS flag_key
    FROM production_deployments_unbucketed d
    JOIN (SELECT key, service FROM flags
          WHERE key NOT IN (SELECT r.flag_key FROM flag_references r)) fl
      ON fl.service = d.service
    WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}}
),
toggle_backs AS (
    SELECT s.deployment_id, t.flag_key, t.at, t.id
    FROM (
        SELECT x.flag_key, x.at, x.id, x.exposure, e.kind,
               lag(x.exposure) OVER (
                   PARTITION BY x.project, x.flag_key, x.environment
                   ORDER BY x.at, x.id) AS exposure_before
        FROM flag_exposure x
        JOIN flag_events e ON e.id = x.id
    ) t
    JOIN shipped_flags s ON s.flag_key = t.flag_key
    WHERE t.exposure < t.exposure_before
       OR (t.exposure_before IS NULL AND t.kind IN ('disabled', 'archived'))
),
failures AS (
    -- recovery_time.sql's deployment_recovery, plus what the action needs
    SELECT l.deployment_id, d.service, d.finished_at,
           bool_or(l.incident_id IS NOT NULL AND l.recovered_at IS NULL) AS open_failure,
           max(l.recovered_at) AS recovered_at,
           bool_or(l.link = 'rollback') AS rolled_back,
           min(i.created_at) AS first_incident_at,
           first_value(CASE WHEN trim(i.recovery_flag) <> '' THEN i.recovery_flag END
                       ORDER BY CASE WHEN trim(i.recovery_flag) <> '' THEN 0 ELSE 1 END,
                                i.created_at, i.id) AS named_flag
    FROM deployment_failure_links l
    JOIN production_deployments_unbucketed d ON d.id = l.deployment_id
    LEFT JOIN incidents i ON i.id = l.incident_id
    GROUP BY l.deployment_id, d.service, d.finished_at
),
-- Toggles and hotfixes are aggregated per failure before the outer join,
-- so no event column that a left join makes null reaches a shuffle
-- (Ballista checks declared nullability).
toggles AS (
    SELECT f.deployment_id,
           min(t.at) AS toggle_at,
           first_value(t.flag_key ORDER BY t.at ASC NULLS LAST, t.id ASC NULLS LAST)
               AS toggle_flag
    FROM failures f
    JOIN toggle_backs t
      ON t.deployment_id = f.deployment_id AND NOT f.open_failure
     AND t.at >= f.finished_at AND t.at <= f.recovered_at
    GROUP BY f.deployment_id
),
fixes AS (
    -- The first hotfix (earliest finished_at, ties to the smallest id) of
    -- the failure's service finished after the failure and by its
    -- recovery. Not a join on the service with the range as its filter:
    -- that paired every failure with every hotfix of its service (300 M
    -- pairs, 4.7 s of CPU for a year at the benchmark's scale). Instead
    -- the failures and hotfixes of a service in one time line, latest
    -- first, where each failure reads the minimum finished_at of the
    -- hotfixes before it in that line: the earliest hotfix after it (one
    -- at the failure's very instant comes after it in the line, so it is
    -- not "after"). Its id is the smallest among the service's hotfixes
    -- of that instant; it counts when it finished by the recovery.
    SELECT w.deployment_id, first.hotfix_id
    FROM (
        SELECT e.deployment_id, e.service, e.is_failure, e.recovered_at,
               min(e.hotfix_us) OVER (
                   PARTITION BY e.service
                   ORDER BY e.at DESC, e.is_failure DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS next_hotfix_us
        FROM (
            SELECT f.deployment_id, f.service, f.finished_at AS at, true AS is_failure,
                   f.recovered_at, CAST(NULL AS BIGINT) AS hotfix_us
            FROM failures f
            WHERE NOT f.open_failure AND f.finished_at IS NOT NULL
            UNION ALL
            -- (a hotfix's row has no recovery: its own time fills the column)
            SELECT h.id, h.service, h.finished_at, false, h.finished_at AS recovered_at,
                   arrow_cast(h.finished_at, 'Int64')
            FROM recovery_hotfixes h
        ) e
    ) w
    JOIN (
        SELECT service, arrow_cast(finished_at, 'Int64') AS at_us, min(id) AS hotfix_id
        FROM recovery_hotfixes
        GROUP BY service, finished_at
    ) first
      ON first.service = w.service AND first.at_us = w.next_hotfix_us
    WHERE w.is_failure AND w.next_hotfix_us <= arrow_cast(w.recovered_at, 'Int64')
),
candidates AS (
    SELECT f.deployment_id, f.service, f.finished_at, f.open_failure, f.recovered_at,
           f.rolled_back, f.first_incident_at, f.named_flag,
           tg.toggle_at, tg.toggle_flag, fx.hotfix_id
    FROM failures f
    LEFT JOIN toggles tg ON tg.deployment_id = f.deployment_id
    LEFT JOIN fixes fx ON fx.deployment_id = f.deployment_id
),
decided AS (
    SELECT c.deployment_id, c.service, c.finished_at, c.open_failure, c.recovered_at,
           CASE WHEN NOT c.open_failure AND c.recovered_at >= c.finished_at
                THEN (arrow_cast(c.recovered_at, 'Int64')
                      - arrow_cast(c.finished_at, 'Int64')) / 1000000.0
           END AS recovery_s,
           CASE WHEN c.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN c.named_flag IS NOT NULL THEN 'flag'
                WHEN c.rolled_back THEN 'rollback'
                WHEN c.toggle_flag IS NOT NULL THEN 'flag'
                WHEN c.hotfix_id IS NOT NULL THEN 'hotfix'
                ELSE 'unknown'
           END AS recovery_action,
           CASE WHEN c.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN c.named_flag IS NOT NULL THEN c.named_flag
                WHEN c.rolled_back THEN CAST(NULL AS VARCHAR)
                ELSE c.toggle_flag
           END AS recovery_flag,
           CASE WHEN c.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN c.named_flag IS NOT NULL THEN 'incident.recovery_flag'
                WHEN c.rolled_back THEN CAST(NULL AS VARCHAR)
                WHEN c.toggle_flag IS NOT NULL THEN 'toggle-back'
           END AS recovery_flag_link,
           CASE WHEN NOT c.open_failure AND c.named_flag IS NULL AND NOT c.rolled_back
                 AND c.toggle_flag IS NULL
                THEN c.hotfix_id
           END AS hotfix_deployment_id,
           CASE WHEN c.named_flag IS NULL AND NOT c.rolled_back AND c.toggle_at IS NOT NULL
                 AND (c.first_incident_at IS NULL OR c.toggle_at < c.first_incident_at)
                THEN c.toggle_at
                ELSE c.first_incident_at
           END AS caught_at
    FROM candidates c
),
blast AS (
    SELECT deployment_id, max(CASE WHEN n = 1 THEN exposure END) AS blast_radius
    FROM (
        SELECT d.deployment_id, x.exposure,
               row_number() OVER (PARTITION BY d.deployment_id, x.project, x.environment
                                  ORDER BY x.at DESC, x.id DESC) AS n
        FROM decided d
        JOIN flag_exposure x
          ON x.flag_key = d.recovery_flag AND d.recovery_action = 'flag'
         AND x.at < d.caught_at
    ) ranked
    GROUP BY deployment_id
)
SELECT d.deployment_id, d.service, d.finished_at, d.open_failure, d.recovered_at,
       d.recovery_s, d.recovery_action, d.recovery_flag, d.recovery_flag_link,
       d.hotfix_deployment_id, b.blast_radius
FROM decided d
LEFT JOIN blast b ON b.deployment_id = d.deployment_id;

-- Per group and bucket (the failed deployment's, as recovery_time): the
-- failures in the recovery statistic (recovery_s known) by action, so the
-- four counts sum to recovery_count, each action's median recovery time,
-- and the median blast radius of the failures a flag recovered.
CREATE VIEW recovery_actions AS
SELECT grp, interval_start,
       recoveries_by_rollback, rollback_time['p50'] AS recovery_time_rollback_p50_s,
       recoveries_by_flag, flag_time['p50'] AS recovery_time_flag_p50_s,
       recoveries_by_hotfix, hotfix_time['p50'] AS recovery_time_hotfix_p50_s,
       recoveries_unknown, blast['p50'] AS blast_radius_p50
FROM (
    SELECT gd.grp, gd.interval_start,
           count(CASE WHEN r.recovery_action = 'rollback' THEN r.recovery_s END)
               AS recoveries_by_rollback,
           duration_summary(CASE WHEN r.recovery_action = 'rollback' THEN r.recovery_s END)
               AS rollback_time,
           count(CASE WHEN r.recovery_action = 'flag' THEN r.recovery_s END)
               AS recoveries_by_flag,
           duration_summary(CASE WHEN r.recovery_action = 'flag' THEN r.recovery_s END)
               AS flag_time,
           count(CASE WHEN r.recovery_action = 'hotfix' THEN r.recovery_s END)
               AS recoveries_by_hotfix,
           duration_summary(CASE WHEN r.recovery_action = 'hotfix' THEN r.recovery_s END)
               AS hotfix_time,
           count(CASE WHEN r.recovery_action = 'unknown' THEN r.recovery_s END)
               AS recoveries_unknown,
           duration_summary(CASE WHEN r.recovery_action = 'flag' AND r.recovery_s IS NOT NULL
                                 THEN CAST(r.blast_radius AS DOUBLE) END) AS blast
    FROM failure_recoveries r
    JOIN grouped_deployments gd ON gd.id = r.deployment_id
    GROUP BY gd.grp, gd.interval_start
) summarised;

-- Four-eyes on flag changes: every production flag event in the window
-- (every kind changes what users get: on, off, how many, to whom, or
-- retires the flag) is gated when it went through a change request
-- (change_request set, not blank), direct otherwise.
CREATE VIEW flag_changes AS
SELECT e.id, e.project, e.flag_key, e.environment, e.at, e.actor, e.kind,
       e.change_request,
       coalesce(trim(e.change_request) <> '', false) AS gated
FROM flag_events e
WHERE e.environment IS NOT NULL
  AND regexp_like(e.environment, {{production_pattern}})
  AND e.at >= {{from}} AND e.at < {{to}};

CREATE VIEW direct_flag_changes AS
SELECT project, flag_key, environment, at, actor, kind
FROM flag_changes
WHERE NOT gated;

CREATE VIEW flag_change_governance AS
SELECT g.grp,
       bucket_start(c.at, {{interval}}, {{from}}) AS interval_start,
       count(*) AS production_flag_changes,
       count(CASE WHEN c.gated THEN 1 END) AS gated_flag_changes
FROM flag_changes c
JOIN flag_groups g ON g.project = c.project AND g.flag_key = c.flag_key
GROUP BY g.grp, bucket_start(c.at, {{interval}}, {{from}});
