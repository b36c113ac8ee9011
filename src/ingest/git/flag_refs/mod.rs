//! Flag code references (`doralens ingest flag-references`): for each flag
//! key, the commit of a repository's branch that first referenced it and
//! the commit that removed its last reference (`flag_references`).
//!
//! Rules (docs/metrics.md section 9.4, queries/README.md choice 48):
//! - **What is walked**: the first-parent history of one branch (default:
//!   the branch HEAD points to), oldest to newest. A merge counts as one
//!   commit, diffed against its first parent, so the commit that brought a
//!   reference onto the branch is the merge (what deployed it).
//! - **What a reference is**: a line of a file matching one of the
//!   reference patterns that apply to the file's path (each pattern has a
//!   glob; `*` also matches `/`). A line matching several patterns, or one
//!   pattern several times, counts once. Patterns are regular expressions
//!   with placeholders for the key: `{key}` as spelled, `{KEY}` upper snake
//!   case (`new-checkout` → `NEW_CHECKOUT`), `{snake}` lower snake case,
//!   `{camel}` lower camel case (`newCheckout`). The defaults, for every
//!   file: the key as a quoted literal (`"new-checkout"`, `'…'`, `` `…` ``)
//!   and `{KEY}` as a whole word (`flags.NEW_CHECKOUT`).
//! - **Pickaxe counting** (`git log -S` style): each commit's changed files
//!   are counted in their old and new blob; the difference moves the key's
//!   running total. The first commit where the total becomes positive is
//!   `first_*`; the commit where it returns to zero is `removed_*`; when a
//!   removed flag is referenced again `removed_*` goes back to null (the
//!   row describes the latest life, `first_*` stays the first ever).
//!   `tip_references` is the total at the tip.
//! - **Skipped files**: binary blobs (a NUL byte in their first 8000 bytes,
//!   git's own test) and blobs over [`MAX_BLOB_BYTES`], on either side of
//!   a change, count zero.
//! - **Incremental**: the tip scanned and every key's running state are
//!   kept in `_state/flagrefs-<repo>.json`; the next run walks only the
//!   commits after that tip. A full rescan happens when the stored tip is
//!   no longer on the branch's first-parent line (a force push), when the
//!   patterns changed, or when a key is new since the last run (one walk
//!   serves every key; the cost is the same as rescanning the new key
//!   alone, since the blobs read dominate). Only rows whose state changed
//!   are written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gix::ObjectId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{default_repo_name, git_error, micros, sanitise};

mod patterns;

use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;
use crate::store::rows::FlagReferenceRow;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;
pub use patterns::{MAX_BLOB_BYTES, Matchers, PatternRule, check_rule, default_rules};

#[derive(Debug, Clone, Default)]
pub struct FlagRefOptions {
    /// Repository name in the warehouse (default: the folder name).
    pub repo_name: Option<String>,
    /// Branch to scan (default: the one HEAD points to).
    pub branch: Option<String>,
    /// Keys searched besides the warehouse's `flags`.
    pub keys: Vec<String>,
    /// The patterns, defaults included when wanted.
    pub rules: Vec<PatternRule>,
    /// Walk the whole history even when a state exists.
    pub full: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagRefReport {
    pub repo: String,
    pub keys: usize,
    pub commits: usize,
    pub rows: usize,
    pub referenced: usize,
    /// Why the whole history was walked although a state existed.
    pub rescan: Option<String>,
    pub incremental: bool,
}

/// A key's running state, kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct KeyState {
    count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first: Option<(String, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removed: Option<(String, i64)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    repo: String,
    tip: String,
    rules: Vec<PatternRule>,
    keys: BTreeMap<String, KeyState>,
}

/// The flag keys of the warehouse's `flags` table (every project).
pub fn warehouse_keys(warehouse: &Warehouse) -> Result<Vec<String>> {
    use datafusion::arrow::array::AsArray;
    let mut keys = Vec::new();
    for batch in warehouse.read_table(Table::Flags, Some(&["key"]))? {
        let column = batch
            .column_by_name("key")
            .ok_or_else(|| Error::Internal("flags without key".into()))?;
        let column =
            datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Utf8)
                .map_err(|e| Error::Internal(format!("flags.key: {e}")))?;
        let strings = column.as_string::<i32>();
        keys.extend(strings.iter().flatten().map(str::to_string));
    }
    Ok(keys)
}

/// The changed blobs between two trees: (path, old blob, new blob).
type Change = (String, Option<ObjectId>, Option<ObjectId>);

/// A tree's entries: name → (id, is a tree); symlinks and submodules are
/// left out (they hold no code to search).
fn entries(
    repo: &gix::Repository,
    tree: Option<ObjectId>,
) -> Result<HashMap<Vec<u8>, (ObjectId, bool)>> {
    let Some(id) = tree else {
        return Ok(HashMap::new());
    };
    let object = repo
        .find_object(id)
        .map_err(|e| git_error(repo.path(), &format!("cannot read tree {id}"), e))?;
    let tree = object.into_tree();
    let decoded = tree
        .decode()
        .map_err(|e| git_error(repo.path(), &format!("corrupt tree {id}"), e))?;
    Ok(decoded
        .entries
        .iter()
        .filter(|e| e.mode.is_tree() || e.mode.is_blob())
        .map(|e| (e.filename.to_vec(), (e.oid.to_owned(), e.mode.is_tree())))
        .collect())
}

fn diff(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    out: &mut Vec<Change>,
) -> Result<()> {
    if old == new {
        return Ok(());
    }
    let (a, b) = (entries(repo, old)?, entries(repo, new)?);
    let mut names: Vec<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (before, after) = (a.get(name).copied(), b.get(name).copied());
        if before.map(|x| x.0) == after.map(|x| x.0) {
            continue;
        }
        let path = format!("{prefix}{}", String::from_utf8_lossy(name));
        let blob = |side: Option<(ObjectId, bool)>| side.filter(|s| !s.1).map(|s| s.0);
        let tree = |side: Option<(ObjectId, bool)>| side.filter(|s| s.1).map(|s| s.0);
        let (b_old, b_new) = (blob(before), blob(after));
        if b_old.is_some() || b_new.is_some() {
            out.push((path.clone(), b_old, b_new));
        }
        let (t_old, t_new) = (tree(before), tree(after));
        if t_old.is_some() || t_new.is_some() {
            diff(repo, t_old, t_new, &format!("{path}/"), out)?;
        }
    }
    Ok(())
}

/// A blob's referencing lines per flag key: (key index, lines).
type Counts = std::rc::Rc<Vec<(usize, i64)>>;

/// Counts per blob and rule mask: a file's new blob is the next change's
/// old blob, so most blobs are counted once.
struct Counter<'a> {
    repo: &'a gix::Repository,
    matchers: &'a Matchers,
    cache: HashMap<(ObjectId, u64), Counts>,
}

impl Counter<'_> {
    fn count(&mut self, blob: ObjectId, mask: u64) -> Result<Counts> {
        if let Some(c) = self.cache.get(&(blob, mask)) {
            return Ok(c.clone());
        }
        let object = self
            .repo
            .find_object(blob)
            .map_err(|e| git_error(self.repo.path(), &format!("cannot read blob {blob}"), e))?;
        let counts = std::rc::Rc::new(self.matchers.count(&object.data, mask));
        if self.cache.len() > 200_000 {
            self.cache.clear();
        }
        self.cache.insert((blob, mask), counts.clone());
        Ok(counts)
    }
}

/// Scans one repository and writes the rows whose state changed.
pub fn ingest(
    warehouse: &Warehouse,
    path: &Path,
    opts: &FlagRefOptions,
    notify: &dyn Fn(&str),
) -> Result<FlagRefReport> {
    let repo = gix::open(path).map_err(|e| Error::Git {
        path: path.to_path_buf(),
        message: format!(
            "not a git repository ({e}); pass the path of a clone or a bare repository"
        ),
    })?;
    let repo_name = opts
        .repo_name
        .clone()
        .unwrap_or_else(|| default_repo_name(path));

    let mut keys = warehouse_keys(warehouse)?;
    keys.extend(opts.keys.iter().cloned());
    keys.sort();
    keys.dedup();
    keys.retain(|k| !k.trim().is_empty());
    let mut report = FlagRefReport {
        repo: repo_name.clone(),
        keys: keys.len(),
        ..Default::default()
    };
    if keys.is_empty() {
        return Ok(report);
    }

    let tip = match &opts.branch {
        None => repo
            .head()
            .map_err(|e| git_error(path, "cannot read HEAD", e))?
            .id()
            .map(|id| id.detach())
            .ok_or_else(|| Error::Git {
                path: path.to_path_buf(),
                message: "HEAD points to no commit (an empty repository?); pass --branch NAME"
                    .into(),
            })?,
        Some(branch) => repo
            .find_reference(&format!("refs/heads/{branch}"))
            .map_err(|_| Error::Git {
                path: path.to_path_buf(),
                message: format!(
                    "no branch `{branch}`; list them with `git -C {} branch`",
                    path.display()
                ),
            })?
            .peel_to_id()
            .map_err(|e| git_error(path, &format!("cannot resolve branch {branch}"), e))?
            .detach(),
    };

    let state_name = format!("flagrefs-{}", sanitise(&repo_name));
    let stored: Option<State> = if opts.full {
        None
    } else {
        warehouse
            .read_state(&state_name)?
            .and_then(|v| serde_json::from_value(v).ok())
    };
    // Rows are written when they differ from the stored state (a rescan
    // rewrites only what it changed).
    let written: BTreeMap<String, KeyState> =
        stored.as_ref().map(|s| s.keys.clone()).unwrap_or_default();
    // The stored state is usable when the patterns are the same and no key
    // is new; its tip is checked against the walk below.
    let mut previous = match stored {
        Some(s) if s.rules != opts.rules => {
            report.rescan = Some("the reference patterns changed".into());
            None
        }
        Some(s) => match keys.iter().find(|k| !s.keys.contains_key(*k)) {
            Some(k) => {
                report.rescan = Some(format!("flag key `{k}` is new"));
                None
            }
            None => Some(s),
        },
        None => None,
    };

    // First-parent line from the tip back to the stored tip or the root.
    let stop = previous
        .as_ref()
        .and_then(|s| ObjectId::from_hex(s.tip.as_bytes()).ok());
    let mut line: Vec<ObjectId> = Vec::new();
    let mut found = false;
    let mut at = Some(tip);
    while let Some(id) = at {
        if Some(id) == stop {
            found = true;
            break;
        }
        let commit = repo
            .find_commit(id)
            .map_err(|e| git_error(path, &format!("cannot read commit {id}"), e))?;
        line.push(id);
        at = commit.parent_ids().next().map(|p| p.detach());
    }
    if stop.is_some() && !found {
        report.rescan = Some(format!(
            "the commit scanned last time ({}) is no longer on the branch's first-parent line \
             (a force push?)",
            previous.as_ref().map(|s| s.tip.as_str()).unwrap_or("")
        ));
        previous = None;
    }
    report.incremental = previous.is_some();
    if let Some(why) = &report.rescan {
        notify(&format!("{repo_name}: rescanning the whole history: {why}"));
    }
    line.reverse();

    let before: BTreeMap<String, KeyState> = previous
        .as_ref()
        .map(|s| s.keys.clone())
        .unwrap_or_default();
    let mut states: Vec<KeyState> = keys
        .iter()
        .map(|k| before.get(k).cloned().unwrap_or_default())
        .collect();
    let matchers = Matchers::new(&opts.rules, &keys).map_err(|m| Error::usage("pattern", m))?;
    let mut counter = Counter {
        repo: &repo,
        matchers: &matchers,
        cache: HashMap::new(),
    };
    let mut parent_tree: Option<ObjectId> = match (&previous, stop) {
        (Some(_), Some(stop)) => Some(
            repo.find_commit(stop)
                .and_then(|c| c.tree_id().map(|t| t.detach()))
                .map_err(|e| git_error(path, &format!("cannot read commit {stop}"), e))?,
        ),
        _ => None,
    };
    let mut changes: Vec<Change> = Vec::new();
    let mut delta: HashMap<usize, i64> = HashMap::new();
    for id in &line {
        let commit = repo
            .find_commit(*id)
            .map_err(|e| git_error(path, &format!("cannot read commit {id}"), e))?;
        let tree = commit
            .tree_id()
            .map_err(|e| git_error(path, &format!("corrupt commit {id}"), e))?
            .detach();
        let time = commit
            .committer()
            .ok()
            .and_then(|c| c.time().ok())
            .map(micros)
            .unwrap_or(0);
        changes.clear();
        diff(&repo, parent_tree, Some(tree), "", &mut changes)?;
        parent_tree = Some(tree);
        delta.clear();
        for (file, old, new) in &changes {
            let mask = matchers.rules_for(file);
            if mask == 0 {
                continue;
            }
            if let Some(old) = old {
                for &(k, n) in counter.count(*old, mask)?.iter() {
                    *delta.entry(k).or_default() -= n;
                }
            }
            if let Some(new) = new {
                for &(k, n) in counter.count(*new, mask)?.iter() {
                    *delta.entry(k).or_default() += n;
                }
            }
        }
        let sha = id.to_hex().to_string();
        for (&k, &d) in &delta {
            if d == 0 {
                continue;
            }
            let state = &mut states[k];
            let was = state.count;
            state.count = (was + d).max(0);
            if was == 0 && state.count > 0 {
                if state.first.is_none() {
                    state.first = Some((sha.clone(), time));
                }
                state.removed = None;
            } else if was > 0 && state.count == 0 {
                state.removed = Some((sha.clone(), time));
            }
        }
        report.commits += 1;
    }

    let mut rows = TableBuffer::new(Table::FlagReferences);
    for (key, state) in keys.iter().zip(&states) {
        if state.first.is_some() {
            report.referenced += 1;
        }
        if written.get(key) == Some(state) {
            continue;
        }
        let Some((first_sha, first_at)) = &state.first else {
            continue;
        };
        FlagReferenceRow {
            repo: repo_name.clone(),
            flag_key: key.clone(),
            first_sha: first_sha.clone(),
            first_at: Timestamp::from_micros(*first_at),
            removed_sha: state.removed.as_ref().map(|r| r.0.clone()),
            removed_at: state.removed.as_ref().map(|r| Timestamp::from_micros(r.1)),
            tip_references: Some(state.count),
        }
        .push(&mut rows);
        report.rows += 1;
    }
    if !rows.is_empty() {
        warehouse.upsert(Table::FlagReferences, &[rows.finish()?])?;
    }
    // The state moves only after the rows are in the warehouse.
    let state = State {
        repo: repo_name.clone(),
        tip: tip.to_hex().to_string(),
        rules: opts.rules.clone(),
        keys: keys.iter().cloned().zip(states).collect(),
    };
    warehouse.write_state(
        &state_name,
        &serde_json::to_value(&state).unwrap_or_else(|_| json!({})),
    )?;
    Ok(report)
}
