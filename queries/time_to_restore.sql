-- time_to_restore: the older, incident-based measure.
-- Inputs:  incidents, incident_groups
-- Outputs: grp, interval_start, incidents, time_to_restore_p50_s,
--          time_to_restore_p50_low_s, time_to_restore_p50_high_s (the
--          median's 95% interval)
-- docs/metrics.md: section 4.5. Incidents fall in the bucket of created_at;
-- the median is over resolved incidents (resolved before created is bad
-- data and left out of the median, still counted in `incidents`).
CREATE VIEW time_to_restore AS
SELECT grp, interval_start, incidents,
       summary['p50'] AS time_to_restore_p50_s,
       summary['p50_low'] AS time_to_restore_p50_low_s,
       summary['p50_high'] AS time_to_restore_p50_high_s
FROM (
    SELECT g.grp,
           bucket_start(i.created_at, {{interval}}, {{from}}) AS interval_start,
           count(*) AS incidents,
           duration_summary(
               CASE WHEN i.resolved_at >= i.created_at
                    THEN (arrow_cast(i.resolved_at, 'Int64') - arrow_cast(i.created_at, 'Int64')) / 1000000.0
               END) AS summary
    FROM incidents i
    JOIN incident_groups g ON g.incident_id = i.id
    WHERE i.created_at >= {{from}} AND i.created_at < {{to}}
    GROUP BY g.grp, bucket_start(i.created_at, {{interval}}, {{from}})
) summarised;
