-- Production deployments per service and ISO week of 2025.
SELECT service,
       date_trunc('week', finished_at) AS week,
       count(*) AS deployments
FROM deployments
WHERE status = 'success'
  AND environment = 'production'
  AND finished_at >= '2025-01-01T00:00:00Z' AND finished_at < '2026-01-01T00:00:00Z'
GROUP BY service, date_trunc('week', finished_at)
ORDER BY service, week
