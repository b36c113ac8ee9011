-- flag_debt: feature flags that outlived their purpose (doralens's
-- addition): how many flags are active, stale and without an owner, how
-- old they are, and how long released flags stay in the code.
-- Inputs:     flags, flag_references, flag_groups, buckets, flag_exposure
--             and flag_releases (releases.sql)
-- Parameters: flag_stale_days (days without a production change after
--             which a released flag still in the code is stale), interval,
--             from, to
-- Outputs:    flag_bucket_ends(interval_start, end_at): each bucket and the
--                 instant its stock is taken at (the next bucket's start,
--                 the window's end for the last)
--             flag_states(project, flag_key, kind, owner, service,
--                 created_at, interval_start, end_at, age_s, unowned,
--                 marked_stale, past_lifetime, released_unchanged, stale,
--                 released_at, last_change_at, referenced_in): every flag
--                 active at each bucket's end, with why it is stale
--             stale_flags(project, flag_key, kind, owner, service,
--                 created_at, age_days, why, released_at, last_change_at,
--                 referenced_in): the stale flags at the window's end
--             flag_code_removals(project, flag_key, released_at,
--                 removed_at): released flags whose code is gone
--             flag_debt(grp, interval_start, active_flags, stale_flags,
--                 unowned_flags, flag_age_p50_s)
--             flag_removal(grp, interval_start, removed_flags,
--                 release_to_removal_p50_s, release_to_removal_p90_s,
--                 release_to_removal_p50_low_s, release_to_removal_p50_high_s)
-- docs/metrics.md section 9.6; choices in queries/README.md (41-47).
--
-- Stock metrics are taken at each bucket's end E (exclusive: what is true
-- just before E), so every bucket is one point of the trend. A flag of
-- `flags` is active at E when it was created before E (a flag without
-- created_at always was) and not archived before E (flags.archived_at).
-- It is stale at E for any of three reasons:
--   - marked stale: the platform marks it (flags.stale = 1; the mark has no
--     time, so it holds at every E the flag is active);
--   - past expected lifetime: a temporary kind (release, experiment,
--     operational) whose created_at + expected_lifetime_days is at or
--     before E (null lifetime: never);
--   - released and unchanged: not a permanent kind (kill-switch,
--     permission), released before E (flag_releases), its last production
--     flag event before E (the release at the latest) at least
--     flag_stale_days before E, and still referenced in code at E (a
--     flag_references row, matched by key, first referenced before E and
--     not removed before E).
CREATE VIEW flag_bucket_ends AS
SELECT interval_start,
       coalesce(lead(interval_start) OVER (ORDER BY interval_start), {{to}}) AS end_at
FROM buckets;

CREATE VIEW flag_last_change AS
SELECT x.project, x.flag_key, b.end_at, max(x.at) AS last_change_at
FROM flag_exposure x
JOIN flag_bucket_ends b ON x.at < b.end_at
GROUP BY x.project, x.flag_key, b.end_at;

CREATE VIEW flag_code_at AS
SELECT fr.flag_key, b.end_at,
       array_to_string(array_sort(array_agg(fr.repo)), ', ') AS referenced_in
FROM flag_references fr
JOIN flag_bucket_ends b
  ON fr.first_at < b.end_at AND (fr.removed_at IS NULL OR fr.removed_at >= b.end_at)
GROUP BY fr.flag_key, b.end_at;

CREATE VIEW flag_states AS
SELECT project, flag_key, kind, owner, service, created_at, interval_start,
       end_at, age_s, unowned, marked_stale, past_lifetime, released_unchanged,
       marked_stale OR past_lifetime OR released_unchanged AS stale,
       released_at, last_change_at, referenced_in
FROM (
    SELECT f.project, f.key AS flag_key, f.kind, f.owner, f.service, f.created_at,
           b.interval_start, b.end_at,
           (arrow_cast(b.end_at, 'Int64') - arrow_cast(f.created_at, 'Int64'))
               / 1000000.0 AS age_s,
           f.owner IS NULL OR trim(f.owner) = '' AS unowned,
           coalesce(f.stale, 0) = 1 AS marked_stale,
           coalesce(f.kind IN ('release', 'experiment', 'operational')
                    AND arrow_cast(f.created_at, 'Int64')
                        + f.expected_lifetime_days * 86400000000
                        <= arrow_cast(b.end_at, 'Int64'),
                    false) AS past_lifetime,
           coalesce(coalesce(f.kind, '') NOT IN ('kill-switch', 'permission')
                    AND r.released_at < b.end_at
                    AND arrow_cast(coalesce(lc.last_change_at, r.released_at), 'Int64')
                        + {{flag_stale_days}} * 86400000000
                        <= arrow_cast(b.end_at, 'Int64')
                    AND c.referenced_in IS NOT NULL,
                    false) AS released_unchanged,
           CASE WHEN r.released_at < b.end_at THEN r.released_at END AS released_at,
           lc.last_change_at,
           c.referenced_in
    FROM flags f
    CROSS JOIN flag_bucket_ends b
    LEFT JOIN flag_releases r ON r.project = f.project AND r.flag_key = f.key
    LEFT JOIN flag_last_change lc
      ON lc.project = f.project AND lc.flag_key = f.key AND lc.end_at = b.end_at
    LEFT JOIN flag_code_at c ON c.flag_key = f.key AND c.end_at = b.end_at
    WHERE (f.created_at IS NULL OR f.created_at < b.end_at)
      AND (f.archived_at IS NULL OR f.archived_at >= b.end_at)
) states;

-- The list behind the window's last stale_flags count (for the report and
-- `doralens sql`): one row per stale flag, with every reason that applies.
CREATE VIEW stale_flags AS
SELECT project, flag_key, kind, owner, service, created_at,
       age_s / 86400.0 AS age_days,
       concat_ws(', ',
                 CASE WHEN marked_stale THEN 'marked stale' END,
                 CASE WHEN past_lifetime THEN 'past expected lifetime' END,
                 CASE WHEN released_unchanged THEN 'released and unchanged' END) AS why,
       released_at, last_change_at, referenced_in
FROM flag_states
WHERE stale AND end_at = {{to}};

-- A released flag's code is removed when every flag_references row of its
-- key has a removed_at: at the last of them. A removal before the release
-- (the code left before the flag reached everyone) is not counted.
CREATE VIEW flag_code_removals AS
SELECT r.project, r.flag_key, r.released_at, max(fr.removed_at) AS removed_at
FROM flag_releases r
JOIN flag_references fr ON fr.flag_key = r.flag_key
GROUP BY r.project, r.flag_key, r.released_at
HAVING count(fr.removed_at) = count(*) AND max(fr.removed_at) >= r.released_at;

CREATE VIEW flag_debt AS
SELECT grp, interval_start, active_flags, stale_flags, unowned_flags,
       age['p50'] AS flag_age_p50_s
FROM (
    SELECT g.grp, s.interval_start,
           count(*) AS active_flags,
           count(CASE WHEN s.stale THEN 1 END) AS stale_flags,
           count(CASE WHEN s.unowned THEN 1 END) AS unowned_flags,
           duration_summary(s.age_s) AS age
    FROM flag_states s
    JOIN flag_groups g ON g.project = s.project AND g.flag_key = s.flag_key
    GROUP BY g.grp, s.interval_start
) summarised;

CREATE VIEW flag_removal AS
SELECT grp, interval_start, removed_flags,
       removal['p50'] AS release_to_removal_p50_s,
       removal['p90'] AS release_to_removal_p90_s,
       removal['p50_low'] AS release_to_removal_p50_low_s,
       removal['p50_high'] AS release_to_removal_p50_high_s
FROM (
    SELECT g.grp,
           bucket_start(x.removed_at, {{interval}}, {{from}}) AS interval_start,
           count(*) AS removed_flags,
           duration_summary(
               (arrow_cast(x.removed_at, 'Int64')
                - arrow_cast(x.released_at, 'Int64')) / 1000000.0) AS removal
    FROM flag_code_removals x
    JOIN flag_groups g ON g.project = x.project AND g.flag_key = x.flag_key
    WHERE x.removed_at >= {{from}} AND x.removed_at < {{to}}
    GROUP BY g.grp, bucket_start(x.removed_at, {{interval}}, {{from}})
) summarised;
