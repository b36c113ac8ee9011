-- production_deployments: successful deployments to a production environment.
-- Inputs:     deployments
-- Parameters: production_pattern (anchored, case-insensitive regex), interval
--             and from (the buckets: bucket_start())
-- Outputs:    every column of deployments, plus interval_start (the bucket of
--             finished_at, from the bucket_start() function)
-- docs/metrics.md: section 2, "Production deployment" and "Interval buckets".
-- Not limited to the window: attribution and failure linking need history.
CREATE VIEW production_deployments AS
SELECT d.*, bucket_start(d.finished_at, {{interval}}, {{from}}) AS interval_start
FROM deployments d
WHERE d.status = 'success'
  AND regexp_like(d.environment, {{production_pattern}});
