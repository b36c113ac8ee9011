-- releases: when each feature flag was released to all users in
-- production, and how (deploy is not release; doralens's addition).
-- Inputs:     flag_events, flags, flag_groups, flag_references,
--             deployment_commits (attribution, docs/metrics.md section 3)
-- Parameters: production_pattern (as production_deployments.sql: the
--             flag event's environment), include_baseline, interval, from,
--             to
-- Outputs:    flag_exposure(project, flag_key, environment, at, id,
--                 exposure): every production flag event with the share
--                 of users (0-100) the flag reaches right after it
--             flag_releases(project, flag_key, released_at,
--                 first_exposure_at, progressive): one row per flag that
--                 was ever released
--             flag_shipped(project, flag_key, shipped_at, deployment_id):
--                 per released flag, the first production deployment that
--                 shipped its code
--             releases(grp, interval_start, releases, progressive_releases,
--                 rollout_duration_p50_s, rollout_duration_p90_s,
--                 rollout_duration_p50_low_s, rollout_duration_p50_high_s,
--                 deploy_to_release_p50_s, deploy_to_release_p90_s,
--                 deploy_to_release_p50_low_s, deploy_to_release_p50_high_s)
-- docs/metrics.md sections 9.3 and 9.5; choices in queries/README.md
-- (33-37, 38-40).
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

-- The flag's code is its flag_references rows (matched by key, in every
-- project holding that key); it first reached production with the earliest
-- production deployment, of any service, that attribution says shipped a
-- row's first_sha in that row's repo. A first_sha no deployment shipped
-- (not yet deployed, not among the repo's commits, or shipped only by a
-- baseline deployment, whose real time is unknown, unless include_baseline)
-- gives the flag no deploy time. Ties by deployment id.
CREATE VIEW flag_shipped AS
SELECT project, flag_key, shipped_at, deployment_id
FROM (
    SELECT r.project, r.flag_key, dc.deployed_at AS shipped_at, dc.deployment_id,
           row_number() OVER (PARTITION BY r.project, r.flag_key
                              ORDER BY dc.deployed_at, dc.deployment_id) AS n
    FROM flag_releases r
    JOIN flag_references fr ON fr.flag_key = r.flag_key
    JOIN deployment_commits dc
      ON dc.repo = fr.repo AND dc.sha_key = sha_key(fr.first_sha)
    WHERE NOT dc.baseline OR {{include_baseline}}
) first_deployment
WHERE n = 1;

-- Deploy to release: from flag_shipped to the release, 0 when the flag was
-- released before its code shipped (it reached users with the deployment).
CREATE VIEW releases AS
SELECT grp, interval_start, releases, progressive_releases,
       rollout['p50'] AS rollout_duration_p50_s,
       rollout['p90'] AS rollout_duration_p90_s,
       rollout['p50_low'] AS rollout_duration_p50_low_s,
       rollout['p50_high'] AS rollout_duration_p50_high_s,
       deploy_to_release['p50'] AS deploy_to_release_p50_s,
       deploy_to_release['p90'] AS deploy_to_release_p90_s,
       deploy_to_release['p50_low'] AS deploy_to_release_p50_low_s,
       deploy_to_release['p50_high'] AS deploy_to_release_p50_high_s
FROM (
    SELECT g.grp,
           bucket_start(r.released_at, {{interval}}, {{from}}) AS interval_start,
           count(*) AS releases,
           count(CASE WHEN r.progressive THEN 1 END) AS progressive_releases,
           duration_summary(
               (arrow_cast(r.released_at, 'Int64')
                - arrow_cast(r.first_exposure_at, 'Int64')) / 1000000.0) AS rollout,
           -- greatest() skips nulls: an unshipped flag must stay null.
           duration_summary(CASE WHEN s.shipped_at IS NOT NULL THEN
               greatest(0, arrow_cast(r.released_at, 'Int64')
                           - arrow_cast(s.shipped_at, 'Int64')) / 1000000.0 END)
               AS deploy_to_release
    FROM flag_releases r
    JOIN flag_groups g ON g.project = r.project AND g.flag_key = r.flag_key
    LEFT JOIN flag_shipped s ON s.project = r.project AND s.flag_key = r.flag_key
    WHERE r.released_at >= {{from}} AND r.released_at < {{to}}
    GROUP BY g.grp, bucket_start(r.released_at, {{interval}}, {{from}})
) summarised;
