-- commit_changes: which merged change brought each commit.
-- Inputs:  change_commits (the commits each pull/merge request lists),
--          changes
-- Outputs: repo, sha, number
-- docs/metrics.md section 7. A commit belongs to a merged change when the
-- change lists it (its branch commits, which ship when the change is merged
-- with a merge commit or rebased) or it is the change's merge or squash
-- commit (`merge_sha`, which is what ships for a squash merge). A commit in
-- two merged changes (a stacked branch) belongs to both.
CREATE VIEW commit_changes AS
SELECT cc.repo, cc.sha, cc.number
FROM change_commits cc
JOIN changes c ON c.repo = cc.repo AND c.number = cc.number
WHERE c.merged_at IS NOT NULL
UNION
SELECT repo, merge_sha AS sha, number
FROM changes
WHERE merged_at IS NOT NULL AND merge_sha IS NOT NULL;

-- change_shipments: each merged change with every production deployment
-- finished in the window that shipped its merge sha (attribution,
-- docs/metrics.md section 3; deployed_at is the deployment's finished_at).
-- Inputs:     changes, deployment_commits
-- Parameters: from, to
-- Outputs:    repo, number, created_at, first_commit_at, first_review_at,
--             merged_at, deployment_id, deployed_at, baseline
-- The same for every interval and filter: `serve` computes this join over
-- the largest table once per window and warehouse version
-- (queries/README.md, "Shared views").
CREATE VIEW change_shipments AS
SELECT c.repo, c.number, c.created_at, c.first_commit_at, c.first_review_at,
       c.merged_at, dc.deployment_id, dc.deployed_at, dc.baseline
FROM changes c
JOIN deployment_commits dc
  ON dc.repo = c.repo AND dc.sha_key = sha_key(c.merge_sha)
WHERE c.merged_at IS NOT NULL
  AND dc.deployed_at >= {{from}} AND dc.deployed_at < {{to}};

-- change_lead_times: each merged change's lead time in four parts, for the
-- group and bucket of the first production deployment that shipped it.
-- Inputs:  change_shipments, grouped_deployments
-- Parameters: include_baseline
-- Outputs: grp, interval_start, repo, number, deployment_id, deployed_at,
--          coding_s, pickup_s, review_s, deploy_s
-- docs/metrics.md section 7: coding = first commit -> opened; pickup =
-- opened -> first review; review = first review -> merged; deploy = merged
-- -> the first production deployment that shipped the merge sha. A part
-- whose end precedes its start (clock skew, a commit authored after the
-- change was opened) or that lacks an end (no review) is null; the others
-- still count. A change shipped by the baseline deployment is left out, as
-- in lead time. Per group a change counts once, at its earliest shipping
-- deployment (a monorepo change shipped by two services is one change of
-- the organisation, and one of each service).
CREATE VIEW change_lead_times AS
SELECT grp, interval_start, repo, number, deployment_id, deployed_at,
       CASE WHEN created_at >= first_commit_at
            THEN (arrow_cast(created_at, 'Int64') - arrow_cast(first_commit_at, 'Int64')) / 1000000.0
       END AS coding_s,
       CASE WHEN first_review_at >= created_at
            THEN (arrow_cast(first_review_at, 'Int64') - arrow_cast(created_at, 'Int64')) / 1000000.0
       END AS pickup_s,
       CASE WHEN merged_at >= first_review_at
            THEN (arrow_cast(merged_at, 'Int64') - arrow_cast(first_review_at, 'Int64')) / 1000000.0
       END AS review_s,
       CASE WHEN deployed_at >= merged_at
            THEN (arrow_cast(deployed_at, 'Int64') - arrow_cast(merged_at, 'Int64')) / 1000000.0
       END AS deploy_s
FROM (
    -- The first shipping deployment per group and change: the earliest
    -- deployed_at, ties to the smallest id (as ORDER BY deployed_at, id).
    -- One aggregate rather than row_number() over (grp, repo, number):
    -- with millions of one-row partitions DataFusion 55's window operator
    -- took 13 s of CPU for a year at the benchmark's scale, this 1 s. The
    -- id comes from the minimum of a text key that sorts as (deployed_at,
    -- id) does: the microseconds offset to be non-negative, zero-padded
    -- to 19 digits, then the id. interval_start is the bucket of
    -- deployed_at, which never decreases with it, so its minimum is the
    -- first deployment's; a change's own timestamps are one row's.
    SELECT gd.grp, c.repo, c.number,
           min(gd.interval_start) AS interval_start,
           substr(min(concat(
               lpad(CAST(arrow_cast(c.deployed_at, 'Int64') + 9000000000000000000 AS VARCHAR), 19, '0'),
               gd.id)), 20) AS deployment_id,
           min(c.deployed_at) AS deployed_at,
           min(c.created_at) AS created_at,
           min(c.first_commit_at) AS first_commit_at,
           min(c.first_review_at) AS first_review_at,
           min(c.merged_at) AS merged_at
    FROM change_shipments c
    JOIN grouped_deployments gd ON gd.id = c.deployment_id
    WHERE NOT c.baseline OR {{include_baseline}}
    GROUP BY gd.grp, c.repo, c.number
) firsts;

-- lead_time_breakdown: p50 and p90 of each part, per group and bucket.
-- Inputs:  change_lead_times
-- Outputs: grp, interval_start, changes, coding_p50_s, coding_p90_s,
--          pickup_p50_s, pickup_p90_s, review_p50_s, review_p90_s,
--          deploy_p50_s, deploy_p90_s
-- docs/metrics.md section 7. Quantiles as everywhere (type 7); a part with
-- no sample is null. Only buckets with a shipped change have a row.
CREATE VIEW lead_time_breakdown AS
SELECT grp, interval_start, changes,
       coding['p50'] AS coding_p50_s, coding['p90'] AS coding_p90_s,
       pickup['p50'] AS pickup_p50_s, pickup['p90'] AS pickup_p90_s,
       review['p50'] AS review_p50_s, review['p90'] AS review_p90_s,
       deploy['p50'] AS deploy_p50_s, deploy['p90'] AS deploy_p90_s
FROM (
    SELECT grp, interval_start, count(*) AS changes,
           duration_summary(coding_s) AS coding,
           duration_summary(pickup_s) AS pickup,
           duration_summary(review_s) AS review,
           duration_summary(deploy_s) AS deploy
    FROM change_lead_times
    GROUP BY grp, interval_start
) summarised;
