-- grouped_deployments: the production deployments that count for a metric
-- row: finished inside the window, once per group they belong to.
-- Inputs:  production_deployments, deployment_groups (groups/*.sql)
-- Outputs: grp, interval_start, id, finished_at
-- docs/metrics.md: section 2 (Window, Grouping) and section 4 ("a deployment
-- falls in the bucket of its finished_at").
CREATE VIEW grouped_deployments AS
SELECT g.grp, d.interval_start, d.id, d.finished_at
FROM production_deployments d
JOIN deployment_groups g ON g.deployment_id = d.id
WHERE d.finished_at >= {{from}} AND d.finished_at < {{to}};
