-- stale flags: the oldest flags stale at the end of the report's week, with
-- their owner (the weekly report's "Releases and flags" section).
-- Inputs:     stale_flags (flag_debt.sql, registered for the week, without
--             --by), flag_groups (with the filters' scope)
-- Parameters: limit
-- Outputs:    project, flag_key, kind, owner, service, age_days, why,
--             referenced_in, total (how many there are, whatever the limit)
-- docs/metrics.md section 9.6. Oldest first (a flag without a creation
-- time last), then by project and key. Only the flags the report's scope
-- keeps.
SELECT s.project, s.flag_key, s.kind, s.owner, s.service, s.age_days, s.why,
       s.referenced_in,
       count(*) OVER () AS total
FROM stale_flags s
JOIN (SELECT DISTINCT project, flag_key FROM flag_groups) g
  ON g.project = s.project AND g.flag_key = s.flag_key
ORDER BY s.age_days DESC NULLS LAST, s.project, s.flag_key
LIMIT {{limit}}
