//! Monorepo path attribution (`ingest git --service-path SERVICE=GLOB`).
//!
//! Rule: a commit belongs to service S when its diff against its first
//! parent (the empty tree for a root commit) changes a file whose path
//! matches one of S's globs (`*` matches any characters, `/` included, so
//! `services/api/*` covers everything below `services/api/`). A merge commit
//! is diffed against its first parent, so it belongs to S when the merged
//! branch changed S's files.
//!
//! Each service gets a virtual repository `<repo>:<service>` in the
//! `commits` table holding only its commits, each with its parents
//! *simplified* to the nearest ancestors that also belong to S (what `git log
//! -- <paths>` shows). Tag deployments of S deploy the nearest S commit at or
//! below the tag into that virtual repository, so attribution, lead time and
//! rework of S only ever see S's own commits. The real repository's commits
//! stay in the table unchanged.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMicrosecondType;
use gix::ObjectId;

use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;
use crate::store::schema::Table;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicePaths {
    /// (service, globs), in the order first named.
    pub services: Vec<(String, Vec<String>)>,
}

impl ServicePaths {
    /// Parses repeated `SERVICE=GLOB` options.
    pub fn parse(specs: &[String]) -> Result<Self> {
        let mut out = ServicePaths::default();
        for spec in specs {
            let Some((service, glob)) = spec
                .split_once('=')
                .filter(|(s, g)| !s.is_empty() && !g.is_empty())
            else {
                return Err(Error::usage(
                    "--service-path",
                    format!("`{spec}` is not SERVICE=GLOB, e.g. api=services/api/*"),
                ));
            };
            match out.services.iter_mut().find(|(s, _)| s == service) {
                Some((_, globs)) => globs.push(glob.to_string()),
                None => out
                    .services
                    .push((service.to_string(), vec![glob.to_string()])),
            }
        }
        if out.services.len() > 64 {
            return Err(Error::usage(
                "--service-path",
                "at most 64 services per repository",
            ));
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Bit i set when the path belongs to service i.
    pub fn mask(&self, path: &str) -> u64 {
        let mut m = 0;
        for (i, (_, globs)) in self.services.iter().enumerate() {
            if globs.iter().any(|g| glob_match(g, path)) {
                m |= 1 << i;
            }
        }
        m
    }

    /// Identifies the configuration, so cached results are dropped when it changes.
    pub fn fingerprint(&self) -> String {
        self.services
            .iter()
            .map(|(s, g)| format!("{s}={}", g.join(",")))
            .collect::<Vec<_>>()
            .join(";")
    }

    fn all(&self) -> u64 {
        if self.services.len() == 64 {
            u64::MAX
        } else {
            (1u64 << self.services.len()) - 1
        }
    }
}

type Entries = Vec<(Vec<u8>, ObjectId, bool)>;

fn entries(repo: &gix::Repository, tree: Option<ObjectId>) -> Result<Entries> {
    let Some(id) = tree else {
        return Ok(Vec::new());
    };
    let object = repo.find_object(id).map_err(|e| Error::Git {
        path: repo.path().to_path_buf(),
        message: format!("cannot read tree {id}: {e}; `git fsck` names broken objects"),
    })?;
    let tree = object.into_tree();
    let decoded = tree.decode().map_err(|e| Error::Git {
        path: repo.path().to_path_buf(),
        message: format!("corrupt tree {id}: {e}"),
    })?;
    Ok(decoded
        .entries
        .iter()
        .map(|e| (e.filename.to_vec(), e.oid.to_owned(), e.mode.is_tree()))
        .collect())
}

/// The services whose files differ between two trees (`old` = None: empty).
pub fn touched(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    paths: &ServicePaths,
) -> Result<u64> {
    let mut mask = 0;
    diff(repo, old, new, "", paths, &mut mask)?;
    Ok(mask)
}

fn diff(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    paths: &ServicePaths,
    mask: &mut u64,
) -> Result<()> {
    if old == new || *mask == paths.all() {
        return Ok(());
    }
    let (a, b) = (entries(repo, old)?, entries(repo, new)?);
    // name → (entry in old, entry in new): (id, is a tree)
    type Side = Option<(ObjectId, bool)>;
    let mut by_name: HashMap<&[u8], (Side, Side)> = HashMap::new();
    for (name, id, is_tree) in &a {
        by_name.entry(name.as_slice()).or_default().0 = Some((*id, *is_tree));
    }
    for (name, id, is_tree) in &b {
        by_name.entry(name.as_slice()).or_default().1 = Some((*id, *is_tree));
    }
    for (name, (before, after)) in by_name {
        if before.map(|x| x.0) == after.map(|x| x.0) {
            continue;
        }
        let path = format!("{prefix}{}", String::from_utf8_lossy(name));
        let tree_of = |side: Option<(ObjectId, bool)>| side.filter(|s| s.1).map(|s| s.0);
        let is_blob = |side: Option<(ObjectId, bool)>| side.is_some_and(|s| !s.1);
        if is_blob(before) || is_blob(after) {
            *mask |= paths.mask(&path);
        }
        let (t_old, t_new) = (tree_of(before), tree_of(after));
        if t_old.is_some() || t_new.is_some() {
            diff(repo, t_old, t_new, &format!("{path}/"), paths, mask)?;
        }
    }
    Ok(())
}

/// One commit of the real repository, as read back from the warehouse.
struct Row {
    sha: String,
    parents: Vec<u32>,
}

/// Builds the virtual per-service repositories from the real repository's
/// commits (`batches`, already filtered to it) and each commit's service
/// mask. Returns the commit rows, and for each service the nearest
/// service commit at or below every real commit (for tag deployments).
pub fn virtual_repos(
    repo_name: &str,
    batches: &[RecordBatch],
    masks: &HashMap<String, u64>,
    paths: &ServicePaths,
) -> Result<(RecordBatch, Vec<HashMap<String, String>>)> {
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut cells: Vec<(usize, usize)> = Vec::new(); // (batch, row) per commit
    for (bi, b) in batches.iter().enumerate() {
        let shas = b.column_by_name("sha").expect("sha").as_string::<i32>();
        for r in 0..b.num_rows() {
            index.insert(shas.value(r).to_string(), rows.len() as u32);
            rows.push(Row {
                sha: shas.value(r).to_string(),
                parents: Vec::new(),
            });
            cells.push((bi, r));
        }
    }
    for (i, &(bi, r)) in cells.iter().enumerate() {
        let lists = batches[bi]
            .column_by_name("parents")
            .expect("parents")
            .as_list::<i32>();
        let values = lists.value(r);
        let values = values.as_string::<i32>();
        rows[i].parents = (0..values.len())
            .filter_map(|j| index.get(values.value(j)).copied())
            .collect();
    }
    // Parents before children (iterative post-order DFS).
    let n = rows.len();
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n]; // 0 new, 1 open, 2 done
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start as u32, 0usize)];
        state[start] = 1;
        while let Some((node, next)) = stack.last_mut() {
            let node_us = *node as usize;
            if let Some(&p) = rows[node_us].parents.get(*next) {
                *next += 1;
                if state[p as usize] == 0 {
                    state[p as usize] = 1;
                    stack.push((p, 0));
                }
            } else {
                state[node_us] = 2;
                order.push(*node);
                stack.pop();
            }
        }
    }

    let mut out = TableBuffer::new(Table::Commits);
    let mut nearest_by_service = Vec::with_capacity(paths.services.len());
    for (s, (service, _)) in paths.services.iter().enumerate() {
        let bit = 1u64 << s;
        let virtual_repo = format!("{repo_name}:{service}");
        let mut nearest: Vec<Vec<u32>> = vec![Vec::new(); n];
        for &c in &order {
            let c = c as usize;
            let mut inherited: Vec<u32> = Vec::new();
            for &p in &rows[c].parents {
                for &x in &nearest[p as usize] {
                    if !inherited.contains(&x) {
                        inherited.push(x);
                    }
                }
            }
            let own = masks.get(&rows[c].sha).is_some_and(|m| m & bit != 0);
            if own {
                let (bi, r) = cells[c];
                let b = &batches[bi];
                let parents: Vec<String> = inherited
                    .iter()
                    .map(|&x| rows[x as usize].sha.clone())
                    .collect();
                let text = |name: &str| {
                    let a = b.column_by_name(name).expect("column").as_string::<i32>();
                    a.is_valid(r).then(|| a.value(r))
                };
                let time = |name: &str| {
                    let a = b
                        .column_by_name(name)
                        .expect("column")
                        .as_primitive::<TimestampMicrosecondType>();
                    a.is_valid(r).then(|| a.value(r))
                };
                crate::store::rows::CommitRow {
                    repo: &virtual_repo,
                    sha: &rows[c].sha,
                    parents: &parents,
                    author: text("author"),
                    authored_at: crate::base::time::Timestamp::from_micros(
                        time("authored_at").unwrap_or(0),
                    ),
                    committed_at: time("committed_at")
                        .map(crate::base::time::Timestamp::from_micros),
                    message: text("message"),
                }
                .push(&mut out);
                nearest[c] = vec![c as u32];
            } else {
                nearest[c] = inherited;
            }
        }
        nearest_by_service.push(
            (0..n)
                .filter_map(|c| {
                    nearest[c]
                        .first()
                        .map(|&x| (rows[c].sha.clone(), rows[x as usize].sha.clone()))
                })
                .collect(),
        );
    }
    Ok((out.finish()?, nearest_by_service))
}

/// `*` matches any run of characters, `?` one character; the rest literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_merge_globs() {
        let p = ServicePaths::parse(&[
            "api=services/api/*".into(),
            "web=web/*".into(),
            "api=lib/api-*".into(),
        ])
        .unwrap();
        assert_eq!(p.services.len(), 2);
        assert_eq!(p.mask("services/api/main.rs"), 1);
        assert_eq!(p.mask("lib/api-client/x.rs"), 1);
        assert_eq!(p.mask("web/index.html"), 2);
        assert_eq!(p.mask("README.md"), 0);
        assert!(ServicePaths::parse(&["api".into()]).is_err());
        assert!(ServicePaths::parse(&["=x".into()]).is_err());
    }
}
