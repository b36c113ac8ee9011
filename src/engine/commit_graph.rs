//! The commit graph attribution walks: every repository's commits
//! numbered densely, indexed by (repo, sha_key) so a look-up compares
//! integers and never touches the sha strings, with each commit's parents
//! as numbers and whether its message starts with `Revert `.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use hashbrown::HashTable;
use rayon::prelude::*;

use crate::error::Result;
use crate::store::keys::sha_key;

/// The commit graph of every repository, with commits numbered densely.
/// Commits are indexed by (repo, sha_key), so a look-up compares integers
/// and never touches the sha strings.
pub(super) struct CommitGraph {
    pub(super) repo_ids: Vec<u32>,
    /// The first commit number of each input batch.
    pub(super) starts: Vec<usize>,
    pub(super) keys: Vec<u128>,
    /// Whether each commit's message starts with `Revert `.
    pub(super) reverts: Vec<bool>,
    pub(super) index: HashTable<u32>,
    pub(super) repos: HashMap<String, u32>,
    pub(super) parent_offsets: Vec<u32>,
    pub(super) parents: Vec<u32>,
}

#[inline]
fn slot_hash(repo: u32, key: u128) -> u64 {
    // The key is already uniformly mixed; fold in the repo.
    (key as u64) ^ (u64::from(repo)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Per-commit facts computed on all cores, one run of batches per thread.
struct CommitFacts {
    keys: Vec<u128>,
    reverts: Vec<bool>,
}

impl CommitGraph {
    pub(super) fn build(commits: &[RecordBatch]) -> Result<CommitGraph> {
        let timer = crate::engine::PhaseTimer::new("attribution");
        let n: usize = commits.iter().map(|b| b.num_rows()).sum();

        let mut repos: HashMap<String, u32> = HashMap::new();
        let mut repo_ids = Vec::with_capacity(n);
        let mut last: Option<(&str, u32)> = None;
        for batch in commits {
            let repo_arr = batch
                .column_by_name("repo")
                .expect("projected")
                .as_string::<i32>();
            for r in repo_arr.iter() {
                let r = r.unwrap_or("");
                // Commits of one repo come in runs; skip the map lookup then.
                let id = match last {
                    Some((name, id)) if name == r => id,
                    _ => {
                        let next = repos.len() as u32;
                        *repos.entry(r.to_string()).or_insert(next)
                    }
                };
                last = Some((r, id));
                repo_ids.push(id);
            }
        }

        // Runs of batches, about one per core (rayon's work units), each
        // with its first commit number (also how ShippedRows finds a
        // commit's batch later).
        let mut starts = Vec::with_capacity(commits.len());
        let mut next = 0usize;
        for batch in commits {
            starts.push(next);
            next += batch.num_rows();
        }
        let per_thread = commits.len().div_ceil(crate::cores()).max(1);
        let pieces: Vec<(&[RecordBatch], &[usize])> = commits
            .chunks(per_thread)
            .zip(starts.chunks(per_thread))
            .collect();
        let facts: Vec<CommitFacts> = pieces
            .par_iter()
            .map(|&(batches, _)| {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                let mut facts = CommitFacts {
                    keys: Vec::with_capacity(rows),
                    reverts: Vec::with_capacity(rows),
                };
                for batch in batches {
                    let shas = batch
                        .column_by_name("sha")
                        .expect("projected")
                        .as_string::<i32>();
                    facts
                        .keys
                        .extend(shas.iter().map(|s| sha_key(s.unwrap_or(""))));
                    let messages = batch
                        .column_by_name("message")
                        .expect("projected")
                        .as_string::<i32>();
                    facts.reverts.extend(
                        messages
                            .iter()
                            .map(|m| m.is_some_and(|m| m.starts_with("Revert "))),
                    );
                }
                facts
            })
            .collect();
        let mut keys = Vec::with_capacity(n);
        let mut reverts = Vec::with_capacity(n);
        for f in facts {
            keys.extend(f.keys);
            reverts.extend(f.reverts);
        }

        timer.phase("graph: repos, keys, reverts");
        let mut index: HashTable<u32> = HashTable::with_capacity(n);
        for i in 0..n {
            let (repo, key) = (repo_ids[i], keys[i]);
            // One probe: a (repo, sha) seen twice keeps its first number.
            if let hashbrown::hash_table::Entry::Vacant(slot) = index.entry(
                slot_hash(repo, key),
                |&j| repo_ids[j as usize] == repo && keys[j as usize] == key,
                |&j| slot_hash(repo_ids[j as usize], keys[j as usize]),
            ) {
                slot.insert(i as u32);
            }
        }
        timer.phase("graph: index");
        let mut graph = CommitGraph {
            repo_ids,
            starts: Vec::new(), // moved in once the parent pass is done with it
            keys,
            reverts,
            index,
            repos,
            parent_offsets: Vec::with_capacity(n + 1),
            parents: Vec::with_capacity(n + n / 8),
        };

        // Parent edges as compressed rows; parents outside the warehouse
        // (e.g. beyond a shallow import) are simply absent. The look-ups are
        // read-only, so batches are resolved on all cores, then joined in
        // order.
        let edges: Vec<(Vec<u32>, Vec<u32>)> = pieces
            .par_iter()
            .map(|&(batches, starts)| {
                let mut lengths = Vec::new();
                let mut parents = Vec::new();
                for (batch, &start) in batches.iter().zip(starts) {
                    let lists = batch
                        .column_by_name("parents")
                        .expect("projected")
                        .as_list::<i32>();
                    let values = lists.values().as_string::<i32>();
                    let offsets = lists.value_offsets();
                    for row in 0..lists.len() {
                        let before = parents.len();
                        if lists.is_valid(row) {
                            let repo = graph.repo_ids[start + row];
                            for p in offsets[row] as usize..offsets[row + 1] as usize {
                                if let Some(j) = graph.lookup(repo, values.value(p)) {
                                    parents.push(j);
                                }
                            }
                        }
                        lengths.push((parents.len() - before) as u32);
                    }
                }
                (lengths, parents)
            })
            .collect();
        graph.parent_offsets.push(0);
        for (lengths, parents) in edges {
            let mut end = *graph.parent_offsets.last().expect("starts at 0");
            for len in lengths {
                end += len;
                graph.parent_offsets.push(end);
            }
            graph.parents.extend(parents);
        }
        graph.starts = starts;
        timer.phase("graph: parents");
        Ok(graph)
    }

    pub(super) fn lookup(&self, repo: u32, sha: &str) -> Option<u32> {
        let key = sha_key(sha);
        self.index
            .find(slot_hash(repo, key), |&j| {
                self.repo_ids[j as usize] == repo && self.keys[j as usize] == key
            })
            .copied()
    }

    pub(super) fn parents_of(&self, c: u32) -> &[u32] {
        let c = c as usize;
        &self.parents[self.parent_offsets[c] as usize..self.parent_offsets[c + 1] as usize]
    }
}
