-- explain deployment: why a deployment counts as it does (`doralens explain
-- deployment <id>`), over the metric views registered for a window holding
-- only that deployment's finish.
-- Parameters: id (the deployment id)
-- Statements, in order (the command prints each as a section):
--   0. the deployment: repo, service, environment, sha, status, finished_at
--      (read first, to choose the window)
--   1. production: 1 when the deployment is a production deployment
--   2. failure links: link, incident_id, inferred, recovered_at
--      (docs/metrics.md 4.3)
--   3. recovery: open_failure, recovered_at, recovery_s (4.4)
--   4. rework reasons: reason (4.6)
--   5. shipped commits: repo, sha, authored_at, baseline, lead_time_s (null
--      when left out of lead time: baseline, or authored after the
--      deployment), message (section 3, 4.2)
--   6. shipped changes: repo, number, title, four_eyes, reason (the merged
--      changes this deployment first brought to production, with their
--      review verdict; section 8)
--   7. recovery action: recovery_action, recovery_flag, recovery_flag_link,
--      hotfix_deployment_id, blast_radius (failure_recoveries; 4.4)
SELECT repo, service, environment, sha, status, finished_at FROM deployments WHERE id = {{id}};

SELECT count(*) AS production FROM production_deployments WHERE id = {{id}};

SELECT link, incident_id, inferred, recovered_at
FROM deployment_failure_links
WHERE deployment_id = {{id}}
ORDER BY link, incident_id;

SELECT open_failure, recovered_at, recovery_s
FROM deployment_recovery
WHERE deployment_id = {{id}};

SELECT DISTINCT reason FROM rework_deployment_reasons WHERE deployment_id = {{id}} ORDER BY reason;

SELECT dc.repo, dc.sha, dc.authored_at, dc.baseline, s.lead_time_s, c.message
FROM deployment_commits dc
LEFT JOIN lead_time_samples s
  ON s.deployment_id = dc.deployment_id AND s.repo = dc.repo AND s.sha = dc.sha
LEFT JOIN commits c ON c.repo = dc.repo AND c.sha = dc.sha
WHERE dc.deployment_id = {{id}}
ORDER BY dc.authored_at, dc.repo, dc.sha;

SELECT repo, number, title, four_eyes, reason
FROM production_change_reviews
WHERE deployment_id = {{id}}
ORDER BY repo, number;

SELECT recovery_action, recovery_flag, recovery_flag_link, hotfix_deployment_id, blast_radius
FROM failure_recoveries
WHERE deployment_id = {{id}};
