-- flag_governance: how failed deployments recovered (rollback, flag,
-- hotfix or unknown), the blast radius of a failure a flag recovered, and
-- four-eyes on production flag changes (doralens's addition).
-- Inputs:     deployment_recovery (recovery_time.sql), deployment_failure_links
--             (change_failure_rate.sql), production_deployments,
--             deployment_commits, incidents, rollbacks, flags,
--             flag_references, flag_events, flag_exposure (releases.sql),
--             grouped_deployments, flag_groups
-- Parameters: production_pattern, interval, from, to
-- Outputs:    failure_recoveries(deployment_id, service, finished_at,
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
-- flag changes); choices 38-44 of queries/README.md.
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
CREATE VIEW failure_recoveries AS
WITH failures AS (
    SELECT r.deployment_id, d.service, d.finished_at, r.open_failure,
           r.recovered_at, r.recovery_s
    FROM deployment_recovery r
    JOIN production_deployments d ON d.id = r.deployment_id
),
shipped_flags AS (
    SELECT DISTINCT f.deployment_id, fr.flag_key
    FROM failures f
    JOIN deployment_commits dc ON dc.deployment_id = f.deployment_id
    JOIN flag_references fr ON fr.repo = dc.repo AND sha_key(fr.first_sha) = dc.sha_key
    UNION
    SELECT f.deployment_id, fl.key AS flag_key
    FROM failures f
    JOIN flags fl ON fl.service = f.service
    WHERE fl.key NOT IN (SELECT r.flag_key FROM flag_references r)
),
toggle_backs AS (
    SELECT project, flag_key, environment, at, id
    FROM (
        SELECT x.project, x.flag_key, x.environment, x.at, x.id, x.exposure, e.kind,
               lag(x.exposure) OVER (
                   PARTITION BY x.project, x.flag_key, x.environment
                   ORDER BY x.at, x.id) AS exposure_before
        FROM flag_exposure x
        JOIN flag_events e ON e.id = x.id
    ) t
    WHERE t.exposure < t.exposure_before
       OR (t.exposure_before IS NULL AND t.kind IN ('disabled', 'archived'))
),
toggled AS (
    SELECT deployment_id, flag_key, at
    FROM (
        SELECT f.deployment_id, t.flag_key, t.at,
               row_number() OVER (PARTITION BY f.deployment_id ORDER BY t.at, t.id) AS n
        FROM failures f
        JOIN shipped_flags s ON s.deployment_id = f.deployment_id
        JOIN toggle_backs t ON t.flag_key = s.flag_key
        WHERE NOT f.open_failure
          AND t.at >= f.finished_at AND t.at <= f.recovered_at
    ) ranked
    WHERE n = 1
),
named AS (
    SELECT deployment_id, flag_key
    FROM (
        SELECT l.deployment_id, i.recovery_flag AS flag_key,
               row_number() OVER (PARTITION BY l.deployment_id
                                  ORDER BY i.created_at, i.id) AS n
        FROM deployment_failure_links l
        JOIN incidents i ON i.id = l.incident_id
        WHERE i.recovery_flag IS NOT NULL AND trim(i.recovery_flag) <> ''
    ) ranked
    WHERE n = 1
),
rolled_back AS (
    SELECT DISTINCT deployment_id FROM deployment_failure_links WHERE link = 'rollback'
),
hotfixed AS (
    SELECT deployment_id, hotfix_id
    FROM (
        SELECT f.deployment_id, h.id AS hotfix_id,
               row_number() OVER (PARTITION BY f.deployment_id
                                  ORDER BY h.finished_at, h.id) AS n
        FROM failures f
        JOIN production_deployments h
          ON h.service = f.service
         AND h.finished_at > f.finished_at
         AND h.finished_at <= f.recovered_at
        WHERE NOT f.open_failure
          AND h.id IN (SELECT dc.deployment_id FROM deployment_commits dc)
          AND h.id NOT IN (SELECT r.rollback_deployment_id FROM rollbacks r
                           WHERE r.rollback_deployment_id IS NOT NULL)
    ) ranked
    WHERE n = 1
),
first_incident AS (
    SELECT l.deployment_id, min(i.created_at) AS created_at
    FROM deployment_failure_links l
    JOIN incidents i ON i.id = l.incident_id
    GROUP BY l.deployment_id
),
decided AS (
    SELECT f.*,
           CASE WHEN f.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN n.flag_key IS NOT NULL THEN 'flag'
                WHEN rb.deployment_id IS NOT NULL THEN 'rollback'
                WHEN t.flag_key IS NOT NULL THEN 'flag'
                WHEN hf.hotfix_id IS NOT NULL THEN 'hotfix'
                ELSE 'unknown'
           END AS recovery_action,
           CASE WHEN f.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN n.flag_key IS NOT NULL THEN n.flag_key
                WHEN rb.deployment_id IS NOT NULL THEN CAST(NULL AS VARCHAR)
                ELSE t.flag_key
           END AS recovery_flag,
           CASE WHEN f.open_failure THEN CAST(NULL AS VARCHAR)
                WHEN n.flag_key IS NOT NULL THEN 'incident.recovery_flag'
                WHEN rb.deployment_id IS NOT NULL THEN CAST(NULL AS VARCHAR)
                WHEN t.flag_key IS NOT NULL THEN 'toggle-back'
           END AS recovery_flag_link,
           CASE WHEN NOT f.open_failure AND n.flag_key IS NULL
                 AND rb.deployment_id IS NULL AND t.flag_key IS NULL
                THEN hf.hotfix_id
           END AS hotfix_deployment_id,
           CASE WHEN n.flag_key IS NULL AND rb.deployment_id IS NULL
                 AND t.at IS NOT NULL
                 AND (fi.created_at IS NULL OR t.at < fi.created_at)
                THEN t.at
                ELSE fi.created_at
           END AS caught_at
    FROM failures f
    LEFT JOIN named n ON n.deployment_id = f.deployment_id
    LEFT JOIN rolled_back rb ON rb.deployment_id = f.deployment_id
    LEFT JOIN toggled t ON t.deployment_id = f.deployment_id
    LEFT JOIN hotfixed hf ON hf.deployment_id = f.deployment_id
    LEFT JOIN first_incident fi ON fi.deployment_id = f.deployment_id
),
exposure_then AS (
    SELECT deployment_id, max(exposure) AS blast_radius
    FROM (
        SELECT d.deployment_id, x.exposure,
               row_number() OVER (PARTITION BY d.deployment_id, x.project, x.environment
                                  ORDER BY x.at DESC, x.id DESC) AS n
        FROM decided d
        JOIN flag_exposure x ON x.flag_key = d.recovery_flag AND x.at < d.caught_at
        WHERE d.recovery_action = 'flag'
    ) latest
    WHERE n = 1
    GROUP BY deployment_id
)
SELECT d.deployment_id, d.service, d.finished_at, d.open_failure, d.recovered_at,
       d.recovery_s, d.recovery_action, d.recovery_flag, d.recovery_flag_link,
       d.hotfix_deployment_id, e.blast_radius
FROM decided d
LEFT JOIN exposure_then e ON e.deployment_id = d.deployment_id;

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
