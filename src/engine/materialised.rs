//! Attribution materialised in the warehouse: a derived set stamped with
//! the versions of its inputs (`commits`, `deployments`, the production
//! pattern), computed by one process at a time when no generation matches,
//! or assembled from a complete set of shards computed on several machines
//! (`doralens attribute --shard I/N`).

use datafusion::arrow::array::RecordBatch;

use super::{PhaseTimer, attribution};
use crate::base::production::ProductionPattern;
use crate::error::Result;
use crate::store::schema::Table;
use crate::store::warehouse::{Derived, Snapshot, Warehouse};

/// Bumped whenever attribution's output would change for the same input.
const ATTRIBUTION_VERSION: u32 = 2;

/// The stamp of attribution computed from the snapshot's inputs.
fn attribution_stamp(snapshot: &Snapshot, production: &ProductionPattern) -> String {
    format!(
        "attribution-v{ATTRIBUTION_VERSION};commits={};deployments={};production={}",
        snapshot.version(Table::Commits),
        snapshot.version(Table::Deployments),
        production.anchored
    )
}

/// The derived set holding shard `index` of `count` of attribution.
pub fn attribution_shard_set(index: u32, count: u32) -> String {
    format!("attribution-shard-{index}-of-{count}")
}

/// Which of `count` shards a repository's attribution belongs to.
pub fn repo_shard(repo: &str, count: u32) -> u32 {
    (crate::store::keys::text_key_hash([repo]) % u64::from(count)) as u32
}

/// The derived attribution tables for the snapshot's inputs, computed
/// (by one process at a time) when no current generation matches — or the
/// union of a complete set of shards computed from the same inputs (by
/// `doralens attribute --shard I/N`, one per machine); also the number of
/// production deployments with an unknown sha.
pub fn ensure_attribution(
    warehouse: &Warehouse,
    snapshot: &Snapshot,
    production: &ProductionPattern,
) -> Result<(Derived, usize)> {
    let stamp = attribution_stamp(snapshot, production);
    let derived = match warehouse.derived("attribution", &stamp)? {
        Some(d) => d,
        None => match sharded_attribution(warehouse, &stamp)? {
            Some(d) => d,
            None => warehouse.build_derived("attribution", &stamp, &|out| {
                write_attribution(out, snapshot, production, None)
            })?,
        },
    };
    let unknown = crate::store::warehouse::read_files_parallel(
        &derived.files("deployment_warnings"),
        Some(&["deployment_id"]),
    )?
    .iter()
    .map(|b| b.num_rows())
    .sum();
    Ok((derived, unknown))
}

/// Computes attribution from the snapshot's inputs into a derived set:
/// every repository, or with `shard = Some((i, n))` those [`repo_shard`]
/// puts in shard i. A repository's deployments and commits are always in
/// the same shard and each (service, repository) walk is independent, so
/// the union of n shards is exactly one machine's result.
fn write_attribution(
    out: &crate::store::warehouse::DerivedWriter,
    snapshot: &Snapshot,
    production: &ProductionPattern,
    shard: Option<(u32, u32)>,
) -> Result<()> {
    let timer = PhaseTimer::new("attribution");
    let commits = crate::store::warehouse::read_files_parallel(
        &snapshot.files(Table::Commits),
        Some(&attribution::COMMIT_COLUMNS),
    )?;
    let deployments = crate::store::warehouse::read_files_parallel(
        &snapshot.files(Table::Deployments),
        Some(&attribution::DEPLOYMENT_COLUMNS),
    )?;
    let (commits, deployments) = match shard {
        Some((index, count)) => (
            keep_shard(commits, index, count)?,
            keep_shard(deployments, index, count)?,
        ),
        None => (commits, deployments),
    };
    timer.phase("read inputs");
    let result = attribution::attribute(&commits, &deployments, &production.regex)?;
    // Only sha and authored_at are still needed; parents and messages go.
    drop(commits);
    let timer = PhaseTimer::new("attribution");
    out.write_streamed(
        "deployment_commits",
        &attribution::shipped_schema(),
        result.parts(),
        &["sha", "sha_key"],
        &|part, sink| result.write_part(part, sink),
    )?;
    timer.phase("write deployment_commits");
    out.write(
        "deployment_warnings",
        &attribution::warnings_schema(),
        &[vec![result.warnings.clone()]],
        &[],
    )
}

/// The repository column's rows that belong to shard `index` of `count`.
fn keep_shard(batches: Vec<RecordBatch>, index: u32, count: u32) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::array::{AsArray, BooleanArray};
    batches
        .into_iter()
        .map(|b| {
            let repos = b
                .column_by_name("repo")
                .expect("attribution reads the repo column")
                .as_string::<i32>();
            let keep: BooleanArray = repos
                .iter()
                .map(|r| Some(r.is_some_and(|r| repo_shard(r, count) == index)))
                .collect();
            Ok(datafusion::arrow::compute::filter_record_batch(&b, &keep)?)
        })
        .collect()
}

/// A complete set of attribution shards for `stamp`, as one.
fn sharded_attribution(warehouse: &Warehouse, stamp: &str) -> Result<Option<Derived>> {
    let mut by_count: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for (set, set_stamp, _) in warehouse.derived_sets()? {
        let Some(rest) = set.strip_prefix("attribution-shard-") else {
            continue;
        };
        let Some((i, n)) = rest.split_once("-of-") else {
            continue;
        };
        if let (Ok(i), Ok(n)) = (i.parse::<u32>(), n.parse::<u32>())
            && set_stamp == stamp
            && i < n
        {
            by_count.entry(n).or_default().push(i);
        }
    }
    for (count, mut present) in by_count {
        present.sort_unstable();
        present.dedup();
        if present.len() as u32 != count {
            continue;
        }
        let mut shards = Vec::new();
        for index in 0..count {
            match warehouse.derived(&attribution_shard_set(index, count), stamp)? {
                Some(d) => shards.push(d),
                None => break,
            }
        }
        if shards.len() as u32 == count {
            return Ok(Derived::union(shards));
        }
    }
    Ok(None)
}

/// `doralens attribute --shard I/N`: computes shard `index` of `count` of
/// attribution for the warehouse's current inputs (nothing when it is
/// there already). Returns whether it computed it.
pub fn attribute_shard(
    warehouse: &Warehouse,
    production: &ProductionPattern,
    index: u32,
    count: u32,
) -> Result<bool> {
    let _guard = warehouse.read_guard()?;
    let snapshot = warehouse.snapshot()?;
    snapshot.verify()?;
    let stamp = attribution_stamp(&snapshot, production);
    let set = attribution_shard_set(index, count);
    if warehouse.derived(&set, &stamp)?.is_some() {
        return Ok(false);
    }
    warehouse.build_derived(&set, &stamp, &|out| {
        write_attribution(out, &snapshot, production, Some((index, count)))
    })?;
    Ok(true)
}
