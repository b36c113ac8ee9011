//! The commit graph of one repository as stored: gaps below the default
//! branch filled from the forge, ancestry, and rollbacks detected from it.

use std::collections::{HashMap, HashSet, VecDeque};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::TimestampMicrosecondType;

use super::*;
use crate::error::Result;
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

/// Most history pages one sync asks for to close gaps in the graph.
pub(super) const MAX_HISTORY_PAGES: usize = 200;

/// Closes the commit graph below the default branch. Commits are asked for
/// by date (since the cursor, less a week), so a commit dated long before
/// the cursor that reaches the branch through a merge without a pull or
/// merge request (a long-lived branch merged directly) is not listed; its
/// lead time would be lost. The graph shows the gap: a parent of a branch
/// commit that the warehouse does not have. For each, the history starting
/// at that parent is read (one page a request) until no parent is missing.
pub(super) async fn fill_history<F: Forge>(forge: &F, sync: &mut RepoSync<'_>) -> Result<()> {
    let mut asked: HashSet<String> = HashSet::new();
    for _ in 0..MAX_HISTORY_PAGES {
        let graph = read_repo_commits(sync.ctx.warehouse, &sync.repo)?;
        let Some(missing) = first_missing_ancestor(&graph, &sync.branch_commits, &asked) else {
            return Ok(());
        };
        sync.progress(format!(
            "history below {}",
            &missing[..missing.len().min(12)]
        ));
        asked.insert(missing.clone());
        forge.commits_from(sync, &missing).await?;
    }
    sync.ctx.notify()(&format!(
        "warning: {} {}: the history below the default branch still has gaps after {MAX_HISTORY_PAGES} \
         pages; run again to continue, or with --full",
        sync.forge, sync.repo
    ));
    Ok(())
}

/// A sha reachable through parents from `roots` that `graph` does not hold
/// (and that was not asked for already), if any.
pub(super) fn first_missing_ancestor(
    graph: &HashMap<String, Vec<String>>,
    roots: &[String],
    asked: &HashSet<String>,
) -> Option<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = roots.iter().map(String::as_str).collect();
    while let Some(sha) = stack.pop() {
        if !seen.insert(sha) {
            continue;
        }
        match graph.get(sha) {
            Some(parents) => stack.extend(parents.iter().map(String::as_str)),
            None if !asked.contains(sha) => return Some(sha.to_string()),
            None => {}
        }
    }
    None
}

/// One repository's stored commits: `sha → parents`, and the shas sorted
/// (for prefix lookups).
#[derive(Default)]
pub(super) struct RepoCommits {
    pub(super) parents: HashMap<String, Vec<String>>,
    pub(super) sorted: Vec<String>,
}

impl RepoCommits {
    pub(super) fn read(warehouse: &Warehouse, repo: &str) -> Result<RepoCommits> {
        let parents = read_repo_commits(warehouse, repo)?;
        let mut sorted: Vec<String> = parents.keys().cloned().collect();
        sorted.sort_unstable();
        Ok(RepoCommits { parents, sorted })
    }
}

/// `sha → parents` of one repository's stored commits.
pub(super) fn read_repo_commits(
    warehouse: &Warehouse,
    repo: &str,
) -> Result<HashMap<String, Vec<String>>> {
    let mut graph = HashMap::new();
    for batch in warehouse.read_table_where(
        Table::Commits,
        Some(&["repo", "sha", "parents"]),
        "repo",
        repo,
    )? {
        let shas = batch.column(1).as_string::<i32>();
        let parents = batch.column(2).as_list::<i32>();
        for row in 0..batch.num_rows() {
            let list = parents.value(row);
            let list = list.as_string::<i32>();
            graph.insert(
                shas.value(row).to_string(),
                (0..list.len()).map(|i| list.value(i).to_string()).collect(),
            );
        }
    }
    Ok(graph)
}

/// True when `ancestor` is reachable from `descendant` through parents and
/// is not `descendant` itself.
pub fn is_strict_ancestor(
    graph: &HashMap<String, Vec<String>>,
    ancestor: &str,
    descendant: &str,
) -> bool {
    if ancestor == descendant {
        return false;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([descendant]);
    while let Some(sha) = queue.pop_front() {
        for parent in graph.get(sha).into_iter().flatten() {
            if parent == ancestor {
                return true;
            }
            if seen.insert(parent) {
                queue.push_back(parent);
            }
        }
    }
    false
}

pub(super) struct StoredDeployment {
    pub(super) id: String,
    pub(super) environment: String,
    pub(super) sha: String,
    pub(super) finished_at: i64,
}

pub(super) fn detect_rollbacks(
    warehouse: &Warehouse,
    repo: &str,
    graph: &HashMap<String, Vec<String>>,
) -> Result<(TableBuffer, HashSet<String>)> {
    let mut deployments: Vec<StoredDeployment> = Vec::new();
    let columns = ["id", "repo", "environment", "sha", "status", "finished_at"];
    for batch in warehouse.read_table_where(Table::Deployments, Some(&columns), "repo", repo)? {
        let col = |i: usize| batch.column(i).as_string::<i32>();
        let (ids, envs, shas, statuses) = (col(0), col(2), col(3), col(4));
        let finished = batch.column(5).as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            if statuses.value(row) == "success" {
                deployments.push(StoredDeployment {
                    id: ids.value(row).to_string(),
                    environment: envs.value(row).to_string(),
                    sha: shas.value(row).to_string(),
                    finished_at: finished.value(row),
                });
            }
        }
    }
    let mut out = TableBuffer::new(Table::Rollbacks);
    let mut ids = HashSet::new();
    if deployments.len() < 2 {
        return Ok((out, ids));
    }
    deployments.sort_by(|a, b| {
        (&a.environment, a.finished_at, &a.id).cmp(&(&b.environment, b.finished_at, &b.id))
    });
    for environment in deployments.chunk_by(|a, b| a.environment == b.environment) {
        let sorted: Vec<crate::ingest::rollbacks::Deployed<'_>> = environment
            .iter()
            .map(|d| crate::ingest::rollbacks::Deployed {
                id: &d.id,
                sha: &d.sha,
                finished_at: crate::base::time::Timestamp::from_micros(d.finished_at),
            })
            .collect();
        let found = crate::ingest::rollbacks::detect(&sorted, |a, b| {
            Ok::<_, std::convert::Infallible>(is_strict_ancestor(graph, a, b))
        })
        .unwrap_or_else(|never| match never {});
        for rollback in found {
            ids.insert(rollback.id.clone());
            rollback.push(&mut out);
        }
    }
    Ok((out, ids))
}
