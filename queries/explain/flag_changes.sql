-- explain flag-changes: four-eyes on production flag changes in a window
-- (`doralens explain flag-changes [--from] [--to]`), over the metric views
-- registered for that window, grouped by team.
-- Statements, in order:
--   0. the organisation: changes, gated (flag_changes: every production
--      flag change in the window once, whatever its flag's teams)
--   1. per team: team, changes, gated (flag_change_governance by team; a
--      flag without a service or whose service no team lists is in no team)
--   2. the direct production changes: project, flag_key, environment, at,
--      actor, kind, service (direct_flag_changes, oldest first)
-- docs/metrics.md section 9.7.
SELECT count(*) AS changes, count(CASE WHEN gated THEN 1 END) AS gated
FROM flag_changes;

SELECT grp AS team, sum(production_flag_changes) AS changes,
       sum(gated_flag_changes) AS gated
FROM flag_change_governance
GROUP BY grp
ORDER BY grp;

SELECT d.project, d.flag_key, d.environment, d.at, d.actor, d.kind, f.service
FROM direct_flag_changes d
LEFT JOIN flags f ON f.project = d.project AND f.key = d.flag_key
ORDER BY d.at, d.project, d.flag_key, d.environment;
