-- direct flag changes: the week's production flag changes that went
-- through no change request (the weekly report's release governance
-- section), newest first.
-- Inputs:     direct_flag_changes (flag_governance.sql, registered for the
--             week, without --by), flag_groups (with the filters' scope)
-- Parameters: limit
-- Outputs:    project, flag_key, environment, at, actor, kind, total (how
--             many there are, whatever the limit)
-- docs/metrics.md section 9.7, choice 55. Only the flags the report's
-- scope keeps (every flag with events without a filter).
SELECT d.project, d.flag_key, d.environment, d.at, d.actor, d.kind,
       count(*) OVER () AS total
FROM direct_flag_changes d
JOIN (SELECT DISTINCT project, flag_key FROM flag_groups) g
  ON g.project = d.project AND g.flag_key = d.flag_key
ORDER BY d.at DESC, d.project, d.flag_key, d.environment
LIMIT {{limit}}
