-- explain change: a change's reviews and its four-eyes verdict (`doralens
-- explain change <repo>#<number>`), over the metric views registered for
-- the whole history.
-- Parameters: repo, number
-- Statements, in order:
--   0. the change: title, author, created_at, merged_at, merge_sha (read
--      first: the views are registered after)
--   1. its reviews: reviewer, state, submitted_at, verdict (review_checks:
--      null for a change not merged)
--   2. its verdict: four_eyes, reason, first_review_at, last_approval_at,
--      time_to_first_review_s, approval_to_merge_s (change_reviews)
--   3. the production deployments that shipped its merge sha: deployment_id,
--      service, finished_at, baseline (the first one places it, section 7)
-- docs/metrics.md sections 7 and 8.
SELECT title, author, created_at, merged_at, merge_sha
FROM changes WHERE repo = {{repo}} AND number = {{number}};

SELECT r.reviewer, r.state, r.submitted_at, rc.verdict
FROM reviews r
LEFT JOIN review_checks rc
  ON rc.repo = r.repo AND rc.number = r.number AND rc.reviewer = r.reviewer
 AND rc.submitted_at = r.submitted_at
WHERE r.repo = {{repo}} AND r.number = {{number}}
ORDER BY r.submitted_at, r.reviewer;

SELECT four_eyes, reason, first_review_at, last_approval_at, time_to_first_review_s,
       approval_to_merge_s
FROM change_reviews WHERE repo = {{repo}} AND number = {{number}};

SELECT dc.deployment_id, pd.service, pd.finished_at, dc.baseline
FROM changes c
JOIN deployment_commits dc ON dc.repo = c.repo AND dc.sha_key = sha_key(c.merge_sha)
JOIN production_deployments pd ON pd.id = dc.deployment_id
WHERE c.repo = {{repo}} AND c.number = {{number}} AND c.merged_at IS NOT NULL
ORDER BY pd.finished_at, dc.deployment_id;
