-- releases: when each feature flag was released to all users in
-- production, and how (deploy is not release; doralens's addition).
-- Inputs:     flag_events, flags, flag_groups
-- Parameters: production_pattern (as production_deployments.sql: the
--             flag event's environment), interval, from, to
-- Outputs:    flag_exposure(project, flag_key, environment, at, id,
--                 exposure): every production flag event with the share
--                 of users (0-100) the flag reaches right after it
--             flag_releases(project, flag_key, released_at,
--                 first_exposure_at, progressive): one row per flag that
--                 was ever released
--             releases(grp, interval_start, releases, progressive_releases,
--                 rollout_duration_p50_s, rollout_duration_p90_s,
--                 rollout_duration_p50_low_s, rollout_duration_p50_high_s)
-- docs/metrics.md section 9.3; choices in queries/README.md (33-37).
--
-- Exposure, per flag and production environment, replaying its events in
-- time order (ties by id): `enabled` turns the environment on, `disabled`
-- and `archived` turn it off, `rollout-changed` sets the percentage;
-- `strategy-changed` changes neither. An environment that is on reaches
-- its last rollout percentage, or everyone (100) when no event set one
-- (an activation strategy without a gradual rollout). An event with no
-- environment applies to every environment and is not a production one.
CREATE VIEW flag_exposure AS
SELECT project, flag_key, environment, at, id,
       CASE WHEN coalesce(max(switch) OVER (
                PARTITION BY project, flag_key, environment, switch_run), 0) = 1
            THEN coalesce(max(rollout_percentage) OVER (
                PARTITION BY project, flag_key, environment, rollout_run), 100)
            ELSE 0
       END AS exposure
FROM (
    SELECT e.project, e.flag_key, e.environment, e.at, e.id, e.rollout_percentage,
           CASE WHEN e.kind = 'enabled' THEN 1
                WHEN e.kind IN ('disabled', 'archived') THEN 0
           END AS switch,
           -- A run starts at each event that sets the state; the rows
           -- after it, up to the next such event, share its value.
           count(CASE WHEN e.kind IN ('enabled', 'disabled', 'archived') THEN 1 END) OVER (
               PARTITION BY e.project, e.flag_key, e.environment
               ORDER BY e.at, e.id ROWS UNBOUNDED PRECEDING) AS switch_run,
           count(e.rollout_percentage) OVER (
               PARTITION BY e.project, e.flag_key, e.environment
               ORDER BY e.at, e.id ROWS UNBOUNDED PRECEDING) AS rollout_run
    FROM flag_events e
    WHERE e.environment IS NOT NULL
      AND regexp_like(e.environment, {{production_pattern}})
) runs;

-- A flag is released the first time any production environment of it
-- reaches 100; its first exposure is the first time one reaches more than
-- 0 (at or before the release). Progressive: the first exposure was
-- partial, so users were let in in steps. Later toggles do not release the
-- flag again.
CREATE VIEW flag_releases AS
SELECT r.project, r.flag_key, r.released_at, x.first_exposure_at,
       x.first_exposure < 100 AS progressive
FROM (
    SELECT project, flag_key, min(at) AS released_at
    FROM flag_exposure
    WHERE exposure = 100
    GROUP BY project, flag_key
) r
JOIN (
    SELECT project, flag_key, at AS first_exposure_at, exposure AS first_exposure,
           row_number() OVER (PARTITION BY project, flag_key ORDER BY at, id) AS n
    FROM flag_exposure
    WHERE exposure > 0
) x ON x.project = r.project AND x.flag_key = r.flag_key AND x.n = 1;

CREATE VIEW releases AS
SELECT grp, interval_start, releases, progressive_releases,
       rollout['p50'] AS rollout_duration_p50_s,
       rollout['p90'] AS rollout_duration_p90_s,
       rollout['p50_low'] AS rollout_duration_p50_low_s,
       rollout['p50_high'] AS rollout_duration_p50_high_s
FROM (
    SELECT g.grp,
           bucket_start(r.released_at, {{interval}}, {{from}}) AS interval_start,
           count(*) AS releases,
           count(CASE WHEN r.progressive THEN 1 END) AS progressive_releases,
           duration_summary(
               (arrow_cast(r.released_at, 'Int64')
                - arrow_cast(r.first_exposure_at, 'Int64')) / 1000000.0) AS rollout
    FROM flag_releases r
    JOIN flag_groups g ON g.project = r.project AND g.flag_key = r.flag_key
    WHERE r.released_at >= {{from}} AND r.released_at < {{to}}
    GROUP BY g.grp, bucket_start(r.released_at, {{interval}}, {{from}})
) summarised;
