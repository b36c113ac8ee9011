-- reviewed_changes: the merged changes review_checks and change_reviews
-- judge.
-- Inputs:     changes, change_shipments (change_lead_time.sql)
-- Parameters: review_every_change
-- Outputs:    repo, number, author, created_at, merged_at
-- Every merged change when review_every_change is true (the SQL views,
-- `explain change`); else only those a production deployment of the
-- window shipped, the only ones production_change_reviews reads (so the
-- metrics judge the window's changes, not every review ever made). A
-- change's verdict depends on its own reviews only, so it is the same
-- either way. The parameter is a literal: the planner drops the other
-- branch.
CREATE VIEW reviewed_changes AS
SELECT repo, number, author, created_at, merged_at
FROM changes
WHERE {{review_every_change}} AND merged_at IS NOT NULL
UNION ALL
SELECT c.repo, c.number, c.author, c.created_at, c.merged_at
FROM changes c
JOIN (SELECT DISTINCT repo, number FROM change_shipments) s
  ON s.repo = c.repo AND s.number = c.number
WHERE NOT {{review_every_change}} AND c.merged_at IS NOT NULL;

-- review_checks: every review of a merged change (reviewed_changes),
-- judged one by one.
-- Inputs:     reviews, reviewed_changes
-- Parameters: bots (true when a bot rule is set), bot_pattern (the rule as
--             an anchored, case-insensitive regex; unused when bots is false)
-- Outputs:    repo, number, reviewer, state, submitted_at, by_bot,
--             by_author, after_merge, dismissed, by_other (a review by
--             someone other than the known author, not a bot, at or before
--             the merge: what time to first review reads), verdict (why the
--             review does or does not make the change four-eyes: `approval`
--             when it does; else `by a bot`, `by the author`, `after the
--             merge`, `dismissed`, `author unknown` for an approval, or the
--             state in lower case for a review that approves nothing)
-- docs/metrics.md section 8; choices 16-21 of queries/README.md. An
-- approval is dismissed when its state is DISMISSED (GitHub changes the
-- review's state) or the same reviewer has a DISMISSED review at or after
-- it (an import that records both).
CREATE VIEW review_checks AS
WITH dismissals AS (
    SELECT repo, number, lower(reviewer) AS who, max(submitted_at) AS last_dismissed
    FROM reviews
    WHERE state = 'DISMISSED'
    GROUP BY repo, number, lower(reviewer)
), judged AS (
    SELECT r.repo, r.number, r.reviewer, r.state, r.submitted_at,
           ({{bots}} AND regexp_like(r.reviewer, {{bot_pattern}})) AS by_bot,
           (c.author IS NOT NULL AND lower(r.reviewer) = lower(c.author)) AS by_author,
           (c.author IS NULL) AS author_unknown,
           (r.submitted_at > c.merged_at) AS after_merge,
           (r.state = 'DISMISSED' OR d.last_dismissed >= r.submitted_at) AS dismissed
    FROM reviews r
    JOIN reviewed_changes c ON c.repo = r.repo AND c.number = r.number
    LEFT JOIN dismissals d
      ON d.repo = r.repo AND d.number = r.number AND d.who = lower(r.reviewer)
)
SELECT repo, number, reviewer, state, submitted_at, by_bot, by_author, after_merge,
       coalesce(dismissed, false) AS dismissed,
       (NOT by_bot AND NOT by_author AND NOT author_unknown AND NOT after_merge) AS by_other,
       CASE
           WHEN state NOT IN ('APPROVED', 'DISMISSED') AND NOT coalesce(dismissed, false)
               THEN lower(state)
           WHEN by_bot THEN 'by a bot'
           WHEN by_author THEN 'by the author'
           WHEN after_merge THEN 'after the merge'
           WHEN coalesce(dismissed, false) THEN 'dismissed'
           WHEN author_unknown THEN 'author unknown'
           ELSE 'approval'
       END AS verdict
FROM judged;

-- change_reviews: each merged change's review summary and four-eyes verdict.
-- Inputs:  reviewed_changes, review_checks
-- Outputs: repo, number, author, created_at, merged_at, four_eyes,
--          first_review_at (the first review by someone else, at or
--          before the merge), last_approval_at (the last approval that
--          counts), reason (for a change that is not four-eyes: the first
--          that applies of `approved only after the merge`, `review
--          dismissed`, `approved only by its author`, `approved only by a
--          bot`, `author unknown`, `reviewed, not approved` (reviews by
--          others before the merge, none an approval), `no review`),
--          time_to_first_review_s, approval_to_merge_s
-- docs/metrics.md section 8. A first review before the change was opened
-- (clock skew) gives no time to first review, as in section 7.
CREATE VIEW change_reviews AS
WITH summary AS (
    SELECT c.repo, c.number, c.author, c.created_at, c.merged_at,
           min(CASE WHEN rc.by_other THEN rc.submitted_at END) AS first_review_at,
           max(CASE WHEN rc.verdict = 'approval' THEN rc.submitted_at END) AS last_approval_at,
           max(CASE WHEN rc.verdict = 'after the merge' THEN 1 ELSE 0 END) AS late,
           max(CASE WHEN rc.verdict = 'dismissed' THEN 1 ELSE 0 END) AS undone,
           max(CASE WHEN rc.verdict = 'by the author' AND rc.state = 'APPROVED' THEN 1 ELSE 0 END) AS own,
           max(CASE WHEN rc.verdict = 'by a bot' AND rc.state = 'APPROVED' THEN 1 ELSE 0 END) AS bot,
           max(CASE WHEN rc.verdict = 'author unknown' THEN 1 ELSE 0 END) AS unknown,
           sum(CASE WHEN rc.by_other THEN 1 ELSE 0 END) AS reviews
    FROM reviewed_changes c
    LEFT JOIN review_checks rc ON rc.repo = c.repo AND rc.number = c.number
    GROUP BY c.repo, c.number, c.author, c.created_at, c.merged_at
)
SELECT repo, number, author, created_at, merged_at,
       last_approval_at IS NOT NULL AS four_eyes,
       first_review_at,
       last_approval_at,
       CASE
           WHEN last_approval_at IS NOT NULL THEN NULL
           WHEN late = 1 THEN 'approved only after the merge'
           WHEN undone = 1 THEN 'review dismissed'
           WHEN own = 1 THEN 'approved only by its author'
           WHEN bot = 1 THEN 'approved only by a bot'
           WHEN unknown = 1 THEN 'author unknown'
           WHEN reviews > 0 THEN 'reviewed, not approved'
           ELSE 'no review'
       END AS reason,
       CASE WHEN first_review_at >= created_at
            THEN (arrow_cast(first_review_at, 'Int64') - arrow_cast(created_at, 'Int64')) / 1000000.0
       END AS time_to_first_review_s,
       (arrow_cast(merged_at, 'Int64') - arrow_cast(last_approval_at, 'Int64')) / 1000000.0
           AS approval_to_merge_s
FROM summary;

-- production_change_reviews: the changes that reached production, each in
-- the group and bucket of the first production deployment that shipped its
-- merge commit (change_lead_times, docs/metrics.md section 7), with their
-- review verdict.
-- Inputs:  change_lead_times, change_reviews, changes
-- Outputs: grp, interval_start, repo, number, title, author, merged_at,
--          deployment_id, deployed_at, four_eyes, reason,
--          time_to_first_review_s, approval_to_merge_s
CREATE VIEW production_change_reviews AS
SELECT clt.grp, clt.interval_start, clt.repo, clt.number, c.title, cr.author, cr.merged_at,
       clt.deployment_id, clt.deployed_at, cr.four_eyes, cr.reason,
       cr.time_to_first_review_s, cr.approval_to_merge_s
FROM change_lead_times clt
JOIN change_reviews cr ON cr.repo = clt.repo AND cr.number = clt.number
JOIN changes c ON c.repo = clt.repo AND c.number = clt.number;

-- four_eyes: per group and bucket, the production changes, those with a
-- second pair of eyes, and the review times.
-- Inputs:  production_change_reviews
-- Outputs: grp, interval_start, production_changes, four_eyes_changes,
--          time_to_first_review_{p50,p90,p50_low,p50_high}_s,
--          approval_to_merge_{p50,p90,p50_low,p50_high}_s
-- docs/metrics.md section 8. Quantiles and intervals as everywhere
-- (duration_summary); a statistic with no sample is null.
CREATE VIEW four_eyes AS
SELECT grp, interval_start, production_changes, four_eyes_changes,
       first_review['p50'] AS time_to_first_review_p50_s,
       first_review['p90'] AS time_to_first_review_p90_s,
       first_review['p50_low'] AS time_to_first_review_p50_low_s,
       first_review['p50_high'] AS time_to_first_review_p50_high_s,
       approval['p50'] AS approval_to_merge_p50_s,
       approval['p90'] AS approval_to_merge_p90_s,
       approval['p50_low'] AS approval_to_merge_p50_low_s,
       approval['p50_high'] AS approval_to_merge_p50_high_s
FROM (
    SELECT grp, interval_start, count(*) AS production_changes,
           sum(CASE WHEN four_eyes THEN 1 ELSE 0 END) AS four_eyes_changes,
           duration_summary(time_to_first_review_s) AS first_review,
           duration_summary(approval_to_merge_s) AS approval
    FROM production_change_reviews
    GROUP BY grp, interval_start
) summarised;
