-- production_deployments: successful deployments to a production environment.
-- Inputs:     deployments
-- Parameters: production_pattern (anchored, case-insensitive regex), interval
--             and from (the buckets: bucket_start())
-- Outputs:    production_deployments_unbucketed: every column of deployments
--             production_deployments: the same, plus interval_start (the
--             bucket of finished_at, from the bucket_start() function)
-- docs/metrics.md: section 2, "Production deployment" and "Interval buckets".
-- Not limited to the window: attribution and failure linking need history.
-- The views that need no bucket read production_deployments_unbucketed:
-- it is the same for every window and interval, so `serve` computes it (and
-- them) once per warehouse version (queries/README.md, "Shared views").
CREATE VIEW production_deployments_unbucketed AS
SELECT d.*
FROM deployments d
WHERE d.status = 'success'
  AND regexp_like(d.environment, {{production_pattern}});

CREATE VIEW production_deployments AS
SELECT d.*, bucket_start(d.finished_at, {{interval}}, {{from}}) AS interval_start
FROM production_deployments_unbucketed d;
