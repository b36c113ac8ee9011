-- batch_size: how much each production deployment and each change
-- shipped (DORA's small batches; doralens's addition).
-- Inputs:  deployment_commits (attribution), change_commits, changes,
--          change_shipments and change_lead_times (change_lead_time.sql),
--          change_files, grouped_deployments
-- Parameters: include_baseline, batch_exclude (one regular expression over
--          paths, built from the `[batch] exclude` globs by
--          src/metrics/batch.rs), large_change_lines
-- Outputs: deployment_batches(deployment_id, commits, changes): per
--              production deployment finished in the window that shipped a
--              commit
--          change_lines(repo, number, lines, files, excluded_files): per
--              change with file data that a production deployment of the
--              window shipped (change_shipments; the only ones batch_size
--              reads)
--          batch_size(grp, interval_start, changes_per_deployment_p50/_p90,
--              commits_per_deployment_p50/_p90, change_lines_p50/_p90,
--              large_changes, changes_with_lines)
-- docs/metrics.md section 9.2; choices in queries/README.md (28-32).
-- A deployment's batch is the commits attribution says it shipped and the
-- merged changes those commits belong to (commit_changes); a deployment
-- that ships no commit (a redeploy, a rollback, the baseline) is no batch
-- and is left out. A change's lines are its files' additions + deletions
-- minus the excluded paths (a change touching only lock files has 0
-- lines); a change with no file rows has no line data and is left out of
-- the line statistics, not counted as 0. Changes are counted where
-- change_lead_times puts them: once per group, at the first production
-- deployment that shipped their merge commit.
-- Joined on sha_key (choice 15) from the window's rows of
-- deployment_commits outwards, and each (deployment, change) pair made
-- distinct once, rather than a distinct count of `repo#number` strings over
-- every change's commits: at the benchmark's scale that took 10.7 s and
-- 4.7 GiB for a 90-day window, this 3.5 s and 1.8 GiB.
CREATE VIEW deployment_batches AS
WITH shipped AS (
    SELECT dc.deployment_id, dc.repo, dc.sha_key
    FROM deployment_commits dc
    WHERE (NOT dc.baseline OR {{include_baseline}})
      AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}}
), change_pairs AS (
    -- (commit_changes: a commit the change lists, or its merge sha; the
    -- change merged)
    SELECT DISTINCT x.deployment_id, x.repo, x.number
    FROM (
        SELECT s.deployment_id, cc.repo, cc.number
        FROM shipped s
        JOIN change_commits cc ON cc.repo = s.repo AND sha_key(cc.sha) = s.sha_key
        UNION ALL
        SELECT s.deployment_id, c.repo, c.number
        FROM shipped s
        JOIN changes c ON c.repo = s.repo AND sha_key(c.merge_sha) = s.sha_key
        WHERE c.merge_sha IS NOT NULL
    ) x
    JOIN changes m ON m.repo = x.repo AND m.number = x.number
    WHERE m.merged_at IS NOT NULL
)
SELECT b.deployment_id, b.commits, coalesce(p.changes, 0) AS changes
FROM (SELECT deployment_id, count(DISTINCT sha_key) AS commits
      FROM shipped GROUP BY deployment_id) b
LEFT JOIN (SELECT deployment_id, count(*) AS changes
           FROM change_pairs GROUP BY deployment_id) p
  ON p.deployment_id = b.deployment_id;

CREATE VIEW change_lines AS
SELECT f.repo, f.number,
       sum(CASE WHEN regexp_like(f.path, {{batch_exclude}}) THEN 0
                ELSE f.additions + f.deletions END) AS lines,
       count(*) AS files,
       count(CASE WHEN regexp_like(f.path, {{batch_exclude}}) THEN 1 END) AS excluded_files
FROM change_files f
JOIN (SELECT DISTINCT repo, number FROM change_shipments) s
  ON s.repo = f.repo AND s.number = f.number
GROUP BY f.repo, f.number;

CREATE VIEW batch_size AS
SELECT coalesce(d.grp, c.grp) AS grp,
       coalesce(d.interval_start, c.interval_start) AS interval_start,
       d.per_deployment['p50'] AS changes_per_deployment_p50,
       d.per_deployment['p90'] AS changes_per_deployment_p90,
       d.commits['p50'] AS commits_per_deployment_p50,
       d.commits['p90'] AS commits_per_deployment_p90,
       c.lines['p50'] AS change_lines_p50,
       c.lines['p90'] AS change_lines_p90,
       c.large_changes,
       c.changes_with_lines
FROM (
    SELECT gd.grp, gd.interval_start,
           duration_summary(CAST(b.changes AS DOUBLE)) AS per_deployment,
           duration_summary(CAST(b.commits AS DOUBLE)) AS commits
    FROM grouped_deployments gd
    JOIN deployment_batches b ON b.deployment_id = gd.id
    GROUP BY gd.grp, gd.interval_start
) d
FULL JOIN (
    SELECT t.grp, t.interval_start,
           duration_summary(CAST(l.lines AS DOUBLE)) AS lines,
           count(CASE WHEN l.lines > {{large_change_lines}} THEN 1 END) AS large_changes,
           count(*) AS changes_with_lines
    FROM change_lead_times t
    JOIN change_lines l ON l.repo = t.repo AND l.number = t.number
    GROUP BY t.grp, t.interval_start
) c ON c.grp = d.grp AND c.interval_start = d.interval_start;
