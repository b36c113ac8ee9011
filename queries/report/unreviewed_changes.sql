-- unreviewed changes: the production changes without a second pair of
-- eyes (the weekly report's audit table, `GET /api/v1/changes/unreviewed`),
-- newest first.
-- Inputs:     production_change_reviews (four_eyes.sql, registered for the
--             week or the request's window, without --by, with the
--             filters' scope)
-- Parameters: limit
-- Outputs:    repo, number, title, author, merged_at, deployment_id (the
--             first production deployment that shipped it), deployed_at,
--             reason (why it is not four-eyes), total (how many there are,
--             whatever the limit)
-- docs/metrics.md section 8; choice 22 for the reason. A change counted in
-- two groups (a monorepo change two services shipped) is listed once, at
-- its first shipping deployment.
WITH firsts AS (
    SELECT repo, number, title, author, merged_at, deployment_id, deployed_at, reason,
           row_number() OVER (PARTITION BY repo, number ORDER BY deployed_at, deployment_id) AS nth
    FROM production_change_reviews
    WHERE NOT four_eyes
)
SELECT repo, number, title, author, merged_at, deployment_id, deployed_at, reason,
       count(*) OVER () AS total
FROM firsts
WHERE nth = 1
ORDER BY deployed_at DESC, repo, number
LIMIT {{limit}}
