//! Ingestors: everything that brings delivery data into the canonical tables,
//! one folder per kind of source:
//!
//! - [`files`]: user files (`doralens import`: CSV and NDJSON) and the push
//!   endpoint's JSON bodies, validated row by row;
//! - [`git`]: local git repositories (commits, tags as deployments);
//! - [`forge`]: GitHub and GitLab (commits, changes, deployments,
//!   incidents), sharing the forge sync (cursors, mapping rules);
//! - [`tracker`]: incident trackers (PagerDuty, Jira, incident.io), each a
//!   [`source::Source`];
//! - [`client`]: what every HTTP source shares: the JSON client and
//!   [`client::http`], the one retry and rate-limit policy;
//! - [`source`]: the `Source` trait (scopes, keyed cursors, typed rows);
//! - [`rollbacks`]: the rollback rule local git and the forges share;
//! - [`synthetic`]: the deterministic organisation generator.

pub mod client;
pub mod files;
pub mod flags;
pub mod forge;
pub mod git;
pub mod rollbacks;
pub mod source;
pub mod synthetic;
pub mod tracker;

use datafusion::arrow::array::RecordBatch;

use crate::error::Result;
use crate::store::schema::Table;

/// Drops all but the last row of each natural key (later rows win), within
/// and across batches.
pub fn keep_last_per_key(table: Table, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    use crate::store::keys::KeyColumns;
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::compute::filter_record_batch;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches.iter().rev() {
        let keys = KeyColumns::new(table, batch);
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|r| Some(seen.insert(keys.exact(r))))
            .collect();
        out.push(filter_record_batch(batch, &keep)?);
    }
    out.reverse();
    Ok(out)
}
