-- Lead time of the commits each team's production deployments shipped in
-- 2025 (attribution: deployment_commits), p50 and p90 in seconds.
SELECT t.team,
       count(*) AS commits,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY
           (arrow_cast(dc.deployed_at, 'Int64') - arrow_cast(dc.authored_at, 'Int64')) / 1000000.0)
           AS lead_time_p50_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY
           (arrow_cast(dc.deployed_at, 'Int64') - arrow_cast(dc.authored_at, 'Int64')) / 1000000.0)
           AS lead_time_p90_s
FROM deployment_commits dc
JOIN deployments d ON d.id = dc.deployment_id
JOIN teams t ON t.service = d.service
WHERE NOT dc.baseline
  AND dc.authored_at <= dc.deployed_at
  AND dc.deployed_at >= '2025-01-01T00:00:00Z' AND dc.deployed_at < '2026-01-01T00:00:00Z'
GROUP BY t.team
ORDER BY t.team
