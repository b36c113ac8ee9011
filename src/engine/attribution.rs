//! Commit attribution (docs/metrics.md section 3).
//!
//! For each service, production deployments are taken in order of
//! `finished_at` (ties by `id`); each ships the commits reachable from its
//! sha through `parents` that no earlier deployment of the service shipped.
//! Because a deployment ships *every* unshipped ancestor, the shipped set is
//! always closed under "ancestor of", so the walk can stop at the first
//! shipped commit: each commit is visited at most once per service and the
//! whole pass is linear in commits + parent edges + deployments.
//!
//! The commits shipped by a service's first deployment whose sha is known
//! are its baseline (their real deploy time is unknown).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeBinaryArray, RecordBatch, StringArray,
    UInt32Array,
};
use datafusion::arrow::compute::{interleave, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use rayon::prelude::*;
use regex::Regex;

use super::commit_graph::CommitGraph;
use crate::error::Result;
use crate::store::keys::{SHA_KEY_BYTES, sha_key_bytes};
use crate::store::schema::timestamp_type;
use crate::store::warehouse::BatchSink;

/// Columns of the commits table attribution reads.
pub const COMMIT_COLUMNS: [&str; 5] = ["repo", "sha", "parents", "authored_at", "message"];
/// Columns of the deployments table attribution reads.
pub const DEPLOYMENT_COLUMNS: [&str; 7] = [
    "id",
    "repo",
    "service",
    "environment",
    "sha",
    "status",
    "finished_at",
];

pub fn shipped_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("deployment_id", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("repo", DataType::Utf8, false),
        Field::new("sha", DataType::Utf8, false),
        Field::new("authored_at", timestamp_type(), false),
        Field::new("deployed_at", timestamp_type(), false),
        Field::new("baseline", DataType::Boolean, false),
        // For the metric SQL: the sha as a 16-byte key (store::keys::sha_key,
        // also the SQL function `sha_key(sha)`), and whether the commit's
        // message starts with `Revert ` (a rework commit, docs/metrics.md 4.6).
        Field::new("sha_key", DataType::FixedSizeBinary(SHA_KEY_BYTES), false),
        Field::new("revert", DataType::Boolean, false),
    ]))
}

pub fn warnings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("deployment_id", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("repo", DataType::Utf8, false),
        Field::new("sha", DataType::Utf8, false),
        Field::new("problem", DataType::Utf8, false),
    ]))
}

pub struct Attribution {
    /// `deployment_commits`, as row indices: its columns are gathered a
    /// batch at a time while it is written (see [`Attribution::write_part`]),
    /// so ~10 million rows never sit in memory as strings.
    shipped: ShippedRows,
    /// `deployment_warnings`: production deployments whose sha is unknown.
    pub warnings: RecordBatch,
}

/// Rows gathered per output batch.
const OUTPUT_BATCH_ROWS: usize = 64 * 1024;

struct ShippedRows {
    /// The projected deployments (DEPLOYMENT_COLUMNS) the rows point into.
    deployments: RecordBatch,
    /// `sha` and `authored_at` of the commits, one array per input batch;
    /// commit number c is row c − starts[b] of batch b.
    commit_shas: Vec<ArrayRef>,
    commit_authored: Vec<ArrayRef>,
    commit_starts: Vec<usize>,
    keys: Vec<u128>,
    reverts: Vec<bool>,
    dep: Vec<u32>,
    commit: Vec<u32>,
    baseline: Vec<bool>,
}

impl ShippedRows {
    fn locate(&self, c: u32) -> (usize, usize) {
        let c = c as usize;
        let b = self.commit_starts.partition_point(|&s| s <= c) - 1;
        (b, c - self.commit_starts[b])
    }

    fn batch(&self, rows: std::ops::Range<usize>) -> Result<RecordBatch> {
        let dep_idx = UInt32Array::from(self.dep[rows.clone()].to_vec());
        let commits = &self.commit[rows.clone()];
        let at: Vec<(usize, usize)> = commits.iter().map(|&c| self.locate(c)).collect();
        let gather = |parts: &[ArrayRef]| -> Result<ArrayRef> {
            let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            Ok(interleave(&parts, &at)?)
        };
        let dep_col = |name: &str| -> Result<ArrayRef> {
            let column = self.deployments.column_by_name(name).expect("projected");
            Ok(take(column.as_ref(), &dep_idx, None)?)
        };
        let mut key_bytes = Vec::with_capacity(commits.len() * SHA_KEY_BYTES as usize);
        for &c in commits {
            key_bytes.extend_from_slice(&sha_key_bytes(self.keys[c as usize]));
        }
        Ok(RecordBatch::try_new(
            shipped_schema(),
            vec![
                dep_col("id")?,
                dep_col("service")?,
                dep_col("repo")?,
                gather(&self.commit_shas)?,
                gather(&self.commit_authored)?,
                dep_col("finished_at")?,
                Arc::new(BooleanArray::from(self.baseline[rows].to_vec())),
                Arc::new(FixedSizeBinaryArray::new(
                    SHA_KEY_BYTES,
                    key_bytes.into(),
                    None,
                )),
                Arc::new(
                    commits
                        .iter()
                        .map(|&c| Some(self.reverts[c as usize]))
                        .collect::<BooleanArray>(),
                ),
            ],
        )?)
    }
}

impl Attribution {
    /// Rows of `deployment_commits`.
    pub fn shipped_rows(&self) -> usize {
        self.shipped.dep.len()
    }

    /// How many parts [`Attribution::write_part`] splits the rows into (one
    /// per core, written in parallel).
    pub fn parts(&self) -> usize {
        crate::cores()
    }

    /// Hands part `part` of `deployment_commits` to `sink`, a batch at a
    /// time.
    pub fn write_part(&self, part: usize, sink: &mut BatchSink) -> Result<()> {
        let rows = self.shipped_rows();
        let per_part = rows.div_ceil(self.parts()).max(1);
        let (start, end) = (
            (part * per_part).min(rows),
            ((part + 1) * per_part).min(rows),
        );
        let mut at = start;
        while at < end {
            let next = (at + OUTPUT_BATCH_ROWS).min(end);
            sink(self.shipped.batch(at..next)?)?;
            at = next;
        }
        Ok(())
    }

    /// Every row of `deployment_commits` in memory (for tests and small
    /// warehouses).
    pub fn shipped_batches(&self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for part in 0..self.parts() {
            self.write_part(part, &mut |b| {
                out.push(b);
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// A growable bitset over commit numbers.
struct Shipped(Vec<u64>);

impl Shipped {
    #[inline]
    fn test_and_set(&mut self, i: u32) -> bool {
        let (w, b) = ((i >> 6) as usize, i & 63);
        let was = self.0[w] >> b & 1 == 1;
        self.0[w] |= 1 << b;
        was
    }
    #[inline]
    fn clear(&mut self, i: u32) {
        self.0[(i >> 6) as usize] &= !(1 << (i & 63));
    }
}

/// Runs attribution. `production` decides which environments count; only
/// successful deployments are considered.
pub fn attribute(
    commits: &[RecordBatch],
    deployments: &[RecordBatch],
    production: &Regex,
) -> Result<Attribution> {
    let timer = crate::engine::PhaseTimer::new("attribution");
    let graph = CommitGraph::build(commits)?;
    timer.phase("commit graph");
    let deps = concat_deployments(deployments)?;
    let col = |name: &str| deps.column_by_name(name).expect("projected").clone();
    let (ids, repos, services, envs, shas, statuses) = (
        col("id"),
        col("repo"),
        col("service"),
        col("environment"),
        col("sha"),
        col("status"),
    );
    let (ids, repos, services, envs, shas, statuses) = (
        ids.as_string::<i32>(),
        repos.as_string::<i32>(),
        services.as_string::<i32>(),
        envs.as_string::<i32>(),
        shas.as_string::<i32>(),
        statuses.as_string::<i32>(),
    );
    let finished = col("finished_at");
    let finished_us = finished.as_primitive::<TimestampMicrosecondType>();

    // Production deployments, ordered by (service, finished_at, id).
    let mut env_match: HashMap<&str, bool> = HashMap::new();
    let order: Vec<u32> = (0..deps.num_rows() as u32)
        .filter(|&r| {
            let r = r as usize;
            statuses.value(r) == "success"
                && *env_match
                    .entry(envs.value(r))
                    .or_insert_with(|| production.is_match(envs.value(r)))
        })
        .collect();
    // Services ranked by name once, so the sort compares integers and
    // looks at ids only on ties.
    let mut names: Vec<&str> = order.iter().map(|&r| services.value(r as usize)).collect();
    names.sort_unstable();
    names.dedup();
    let rank: HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, i as u32))
        .collect();
    let mut keyed: Vec<(u32, i64, u32)> = order
        .iter()
        .map(|&r| {
            (
                rank[services.value(r as usize)],
                finished_us.value(r as usize),
                r,
            )
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| ids.value(a.2 as usize).cmp(ids.value(b.2 as usize)))
    });
    let order: Vec<u32> = keyed.into_iter().map(|(_, _, r)| r).collect();

    timer.phase("walk: production deployments in order");
    // Each service's deployments, as a run of `order`.
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let service = services.value(order[start] as usize);
        let mut end = start;
        while end < order.len() && services.value(order[end] as usize) == service {
            end += 1;
        }
        runs.push(start..end);
        start = end;
    }
    // Services are independent, so they are walked on all cores: contiguous
    // groups of runs of about equal size, joined back in order (the output
    // is the same as one sequential pass).
    let per_thread = order.len().div_ceil(crate::cores()).max(1);
    let mut groups: Vec<&[std::ops::Range<usize>]> = Vec::new();
    let mut first = 0;
    let mut size = 0;
    for (k, run) in runs.iter().enumerate() {
        size += run.len();
        if size >= per_thread {
            groups.push(&runs[first..=k]);
            first = k + 1;
            size = 0;
        }
    }
    if first < runs.len() {
        groups.push(&runs[first..]);
    }
    let walks: Vec<Walk> = groups
        .par_iter()
        .map(|group| walk(&graph, &order, group, repos, shas))
        .collect();
    let mut out_dep: Vec<u32> = Vec::new();
    let mut out_commit: Vec<u32> = Vec::new();
    let mut out_baseline: Vec<bool> = Vec::new();
    let mut warn_rows: Vec<u32> = Vec::new();
    for w in walks {
        out_dep.extend(w.dep);
        out_commit.extend(w.commit);
        out_baseline.extend(w.baseline);
        warn_rows.extend(w.warn);
    }

    timer.phase("walk");
    let warn_idx = UInt32Array::from(warn_rows);
    let problems = StringArray::from(vec!["sha is not among the repo's commits"; warn_idx.len()]);
    let warnings = RecordBatch::try_new(
        warnings_schema(),
        vec![
            take(ids, &warn_idx, None)?,
            take(services, &warn_idx, None)?,
            take(repos, &warn_idx, None)?,
            take(shas, &warn_idx, None)?,
            Arc::new(problems),
        ],
    )?;
    let column = |name: &str| -> Vec<ArrayRef> {
        commits
            .iter()
            .map(|b| b.column_by_name(name).expect("projected").clone())
            .collect()
    };
    let CommitGraph {
        keys,
        reverts,
        starts: commit_starts,
        ..
    } = graph;
    Ok(Attribution {
        shipped: ShippedRows {
            deployments: deps.clone(),
            commit_shas: column("sha"),
            commit_authored: column("authored_at"),
            commit_starts,
            keys,
            reverts,
            dep: out_dep,
            commit: out_commit,
            baseline: out_baseline,
        },
        warnings,
    })
}

/// What walking some services' deployments produced.
#[derive(Default)]
struct Walk {
    dep: Vec<u32>,
    commit: Vec<u32>,
    baseline: Vec<bool>,
    warn: Vec<u32>,
}

/// Walks the deployments of each service run (a range of `order`, which
/// holds one service's production deployments in attribution order).
fn walk(
    graph: &CommitGraph,
    order: &[u32],
    runs: &[std::ops::Range<usize>],
    repos: &StringArray,
    shas: &StringArray,
) -> Walk {
    let mut shipped = Shipped(vec![0u64; graph.keys.len().div_ceil(64).max(1)]);
    let mut out = Walk::default();
    let mut stack: Vec<u32> = Vec::new();
    for run in runs {
        let service_first_out = out.commit.len();
        let mut seen_known = false;
        for &dep in &order[run.clone()] {
            let d = dep as usize;
            let head = graph
                .repos
                .get(repos.value(d))
                .and_then(|&repo| graph.lookup(repo, shas.value(d)));
            let Some(head) = head else {
                out.warn.push(dep);
                continue;
            };
            let baseline = !seen_known;
            seen_known = true;
            if shipped.test_and_set(head) {
                continue; // redeploy or rollback: nothing new
            }
            stack.push(head);
            while let Some(c) = stack.pop() {
                out.dep.push(dep);
                out.commit.push(c);
                out.baseline.push(baseline);
                for &p in graph.parents_of(c) {
                    if !shipped.test_and_set(p) {
                        stack.push(p);
                    }
                }
            }
        }
        // Reset only what this service set, keeping the pass linear.
        for &c in &out.commit[service_first_out..] {
            shipped.clear(c);
        }
    }
    out
}

fn concat_deployments(deployments: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = crate::store::schema::Table::Deployments.schema();
    let projected = Arc::new(
        schema.project(
            &DEPLOYMENT_COLUMNS
                .iter()
                .map(|c| schema.index_of(c).expect("column"))
                .collect::<Vec<_>>(),
        )?,
    );
    let batches: Vec<RecordBatch> = deployments
        .iter()
        .map(|b| {
            b.project(
                &DEPLOYMENT_COLUMNS
                    .iter()
                    .map(|c| b.schema().index_of(c))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(datafusion::arrow::compute::concat_batches(
        &projected, &batches,
    )?)
}
