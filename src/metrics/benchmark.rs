//! `doralens benchmark --by team --interval quarter`: each group's level per
//! metric per bucket, and its trend, as a table (any output format) and
//! one chart per metric.
//!
//! A bucket in which the group has fewer than `--min-deployments`
//! production deployments gets `too few` instead of levels: a level from two
//! deployments says nothing. The trend compares the group's first and last
//! judged level: `improving`, `steady` or `declining` (null with fewer than
//! two judged buckets). Under dora-2025 a level is a Quick Check answer,
//! compared by its score, and the table ends with the score columns of
//! [`super::scores`].

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::engine::Engine;
use crate::error::Result;
use crate::metrics::levels::levelled;
use crate::metrics::{self, MetricsOptions, catalogue, scores};
use crate::store::schema::{TIMESTAMP_TZ, timestamp_type};

/// The trend of one group's levels of a metric, oldest first: its first
/// and last judged level compared by `rank` (`too few` and null are not
/// judged).
pub fn trend(
    levels: &[Option<String>],
    rank: impl Fn(&str) -> Option<f64>,
) -> Option<&'static str> {
    let judged: Vec<f64> = levels.iter().flatten().filter_map(|l| rank(l)).collect();
    let (first, last) = (judged.first()?, judged.last()?);
    if judged.len() < 2 {
        return None;
    }
    Some(match last.total_cmp(first) {
        std::cmp::Ordering::Greater => "improving",
        std::cmp::Ordering::Equal => "steady",
        std::cmp::Ordering::Less => "declining",
    })
}

/// The table: group, interval_start, deployments, then per levelled metric
/// its level (or `too few`) and the group's trend.
pub async fn table(
    engine: &Engine,
    opts: &MetricsOptions,
    min_deployments: u64,
) -> Result<(Arc<Schema>, RecordBatch)> {
    let t = metrics::compute(engine, opts).await?;
    let group_column = opts.group.map(|g| g.column()).unwrap_or("group");
    let groups = match opts.group {
        Some(g) => t.strings(g.column()),
        None => vec!["organisation".to_string(); t.num_rows()],
    };
    let starts = t.starts();
    let deployments: Vec<i64> = t
        .floats("deployments")
        .into_iter()
        .map(|v| v.unwrap_or(0.0) as i64)
        .collect();
    let mut fields = vec![
        Field::new(group_column, DataType::Utf8, false),
        Field::new("interval_start", timestamp_type(), false),
        Field::new("deployments", DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(groups.clone())),
        Arc::new(TimestampMicrosecondArray::from(starts).with_timezone(TIMESTAMP_TZ)),
        Arc::new(Int64Array::from(deployments.clone())),
    ];
    for (metric, level_column) in levelled() {
        let values = t.floats(metric);
        let levels: Vec<Option<String>> = values
            .iter()
            .zip(&deployments)
            .map(|(v, n)| {
                if (*n as u64) < min_deployments {
                    Some("too few".to_string())
                } else {
                    opts.benchmark.level(metric, *v).map(String::from)
                }
            })
            .collect();
        // The trend of each row's group over all its buckets.
        let trends: Vec<Option<&str>> = groups
            .iter()
            .map(|g| {
                let own: Vec<Option<String>> = groups
                    .iter()
                    .zip(&levels)
                    .filter(|(h, _)| *h == g)
                    .map(|(_, l)| l.clone())
                    .collect();
                trend(&own, |l| opts.benchmark.rank(metric, l))
            })
            .collect();
        fields.push(Field::new(level_column, DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(levels)));
        let trend_column = level_column.replace("_level", "_trend");
        fields.push(Field::new(trend_column, DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(trends)));
    }
    if opts.benchmark.scored() {
        // The scores beside the levels (dora-2025), null where the levels
        // say `too few`.
        let names: Vec<&str> = scores::columns().collect();
        let values: Vec<(&str, Vec<Option<f64>>)> =
            catalogue::scored().map(|(m, _)| (m, t.floats(m))).collect();
        let rows: Vec<Vec<Option<f64>>> = (0..t.num_rows())
            .map(|r| {
                if (deployments[r] as u64) < min_deployments {
                    return vec![None; names.len()];
                }
                scores::row(&opts.benchmark, |metric| {
                    values.iter().find(|(m, _)| *m == metric)?.1[r]
                })
            })
            .collect();
        for (i, name) in names.iter().enumerate() {
            fields.push(Field::new(*name, DataType::Float64, true));
            let column: Float64Array = rows.iter().map(|row| row[i]).collect();
            columns.push(Arc::new(column));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok((schema, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_compare_first_and_last_judged_levels() {
        use crate::metrics::levels::{Benchmark, BenchmarkName};
        let l = |v: &[Option<&str>]| v.iter().map(|x| x.map(str::to_string)).collect::<Vec<_>>();
        let b = Benchmark::load(BenchmarkName::Dora2023).unwrap();
        let rank = |l: &str| b.rank("deploys_per_day", l);
        assert_eq!(
            trend(&l(&[Some("low"), Some("too few"), Some("high")]), rank),
            Some("improving")
        );
        assert_eq!(
            trend(&l(&[Some("elite"), None, Some("high")]), rank),
            Some("declining")
        );
        assert_eq!(
            trend(&l(&[Some("high"), Some("high")]), rank),
            Some("steady")
        );
        assert_eq!(trend(&l(&[Some("high"), Some("too few")]), rank), None);
        // dora-2025: answers by their score, percentages lower is better.
        let b = Benchmark::load(BenchmarkName::Dora2025).unwrap();
        let df = |l: &str| b.rank("deploys_per_day", l);
        assert_eq!(
            trend(&l(&[Some("weekly-to-monthly"), Some("on-demand")]), df),
            Some("improving")
        );
        let cfr = |l: &str| b.rank("change_failure_rate", l);
        assert_eq!(
            trend(&l(&[Some("5%"), Some("12%")]), cfr),
            Some("declining")
        );
    }
}
