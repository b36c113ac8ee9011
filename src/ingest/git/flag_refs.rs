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
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::paths::glob_match;
use super::{default_repo_name, git_error, micros, sanitise};
use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::store::buffer::TableBuffer;
use crate::store::rows::FlagReferenceRow;
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

/// Blobs larger than this (1 MiB) are not searched: generated files,
/// bundles and data, not code that reads a flag.
pub const MAX_BLOB_BYTES: usize = 1024 * 1024;
/// git's binary test reads this many bytes for a NUL.
const BINARY_PROBE: usize = 8000;

/// One reference pattern: a regular expression with key placeholders,
/// applied to the files whose path matches `glob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    #[serde(default = "any_file")]
    pub glob: String,
    pub pattern: String,
}

fn any_file() -> String {
    "*".into()
}

/// The default patterns: the key as a quoted string literal, and its upper
/// snake case as a whole word, in every file.
pub fn default_rules() -> Vec<PatternRule> {
    vec![
        PatternRule {
            glob: "*".into(),
            pattern: r#"["'`]{key}["'`]"#.into(),
        },
        PatternRule {
            glob: "*".into(),
            pattern: r"\b{KEY}\b".into(),
        },
    ]
}

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

/// The words of a key: split at anything not a letter or digit, and where
/// a lower-case letter or digit meets an upper-case one (`newCheckout`).
fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `new-checkout` → `NEW_CHECKOUT`.
pub fn upper_snake(key: &str) -> String {
    words(key)
        .iter()
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `new-checkout` → `new_checkout`.
pub fn lower_snake(key: &str) -> String {
    words(key)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `new-checkout` → `newCheckout`.
pub fn lower_camel(key: &str) -> String {
    words(key)
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.to_lowercase();
            if i == 0 {
                return w;
            }
            let mut chars = w.chars();
            match chars.next() {
                Some(f) => f.to_uppercase().chain(chars).collect(),
                None => w,
            }
        })
        .collect()
}

const PLACEHOLDERS: [&str; 4] = ["{key}", "{KEY}", "{snake}", "{camel}"];

/// The spelling each placeholder stands for.
fn spellings(key: &str) -> [(&'static str, String); 4] {
    [
        ("{key}", key.to_string()),
        ("{KEY}", upper_snake(key)),
        ("{snake}", lower_snake(key)),
        ("{camel}", lower_camel(key)),
    ]
}

/// The pattern for one key: placeholders replaced by the escaped spelling,
/// and the spellings it uses (for a quick test before the regex).
fn instantiate(pattern: &str, key: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(pattern.len() + key.len());
    let mut used = Vec::new();
    let spelled = spellings(key);
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some((ph, word)) = spelled.iter().find(|(ph, _)| rest.starts_with(ph)) {
            out.push_str(&regex::escape(word));
            if !used.contains(word) {
                used.push(word.clone());
            }
            rest = &rest[ph.len()..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    (out, used)
}

/// Checks a pattern as the configuration gives it: it names the key and is
/// a valid regular expression once a key is put in. The message says what
/// to fix.
pub fn check_rule(rule: &PatternRule) -> std::result::Result<(), String> {
    if !PLACEHOLDERS.iter().any(|p| rule.pattern.contains(p)) {
        return Err(format!(
            "pattern `{}` has no placeholder, so it cannot tell one flag from another; put \
             {{key}}, {{KEY}}, {{snake}} or {{camel}} where the flag key appears",
            rule.pattern
        ));
    }
    if rule.glob.trim().is_empty() {
        return Err("glob is empty; use \"*\" for every file".into());
    }
    let (text, _) = instantiate(&rule.pattern, "example-flag");
    Regex::new(&text).map(|_| ()).map_err(|e| {
        let e = e.to_string();
        let last = e.lines().last().unwrap_or("").trim().to_string();
        format!(
            "pattern `{}` is not a valid regular expression ({last}); escape literal \
             parentheses and dots with a backslash (`\\\\(` in TOML)",
            rule.pattern
        )
    })
}

/// Compiled patterns of every key.
pub struct Matchers {
    globs: Vec<String>,
    keys: Vec<KeyMatcher>,
}

struct KeyMatcher {
    /// Lower-cased spellings the key's patterns use: a blob without any of
    /// them has no reference (lower case, so `(?i)` patterns keep working).
    needles: Vec<String>,
    /// One per rule.
    regexes: Vec<Regex>,
}

impl Matchers {
    pub fn new(rules: &[PatternRule], keys: &[String]) -> std::result::Result<Self, String> {
        for rule in rules {
            check_rule(rule)?;
        }
        let mut out = Matchers {
            globs: rules.iter().map(|r| r.glob.clone()).collect(),
            keys: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let mut needles: Vec<String> = Vec::new();
            let mut regexes = Vec::with_capacity(rules.len());
            for rule in rules {
                let (text, used) = instantiate(&rule.pattern, key);
                for u in used {
                    let u = u.to_lowercase();
                    if !needles.contains(&u) {
                        needles.push(u);
                    }
                }
                regexes
                    .push(Regex::new(&text).map_err(|e| format!("pattern for key `{key}`: {e}"))?);
            }
            out.keys.push(KeyMatcher { needles, regexes });
        }
        Ok(out)
    }

    /// The rules whose glob matches the path (bit i: rule i).
    pub fn rules_for(&self, path: &str) -> u64 {
        self.globs
            .iter()
            .enumerate()
            .filter(|(_, g)| glob_match(g, path))
            .fold(0, |m, (i, _)| m | (1 << i))
    }

    /// Lines of `text` referencing each key under the rules in `mask`:
    /// (key index, lines) for the keys with at least one.
    pub fn count(&self, text: &[u8], mask: u64) -> Vec<(usize, i64)> {
        if mask == 0 || is_skipped(text) {
            return Vec::new();
        }
        let lower = String::from_utf8_lossy(text).to_lowercase();
        let mut out = Vec::new();
        for (k, key) in self.keys.iter().enumerate() {
            if !key.needles.iter().any(|n| lower.contains(n.as_str())) {
                continue;
            }
            let active: Vec<&Regex> = key
                .regexes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| r)
                .collect();
            let lines = text
                .split(|&b| b == b'\n')
                .filter(|line| active.iter().any(|r| r.is_match(line)))
                .count() as i64;
            if lines > 0 {
                out.push((k, lines));
            }
        }
        out
    }
}

/// Binary or too large to search.
fn is_skipped(blob: &[u8]) -> bool {
    blob.len() > MAX_BLOB_BYTES || blob[..blob.len().min(BINARY_PROBE)].contains(&0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(upper_snake("new-checkout"), "NEW_CHECKOUT");
        assert_eq!(upper_snake("newCheckout"), "NEW_CHECKOUT");
        assert_eq!(upper_snake("new.checkout_v2"), "NEW_CHECKOUT_V2");
        assert_eq!(lower_snake("New Checkout"), "new_checkout");
        assert_eq!(lower_camel("new-checkout"), "newCheckout");
        assert_eq!(lower_camel("NEW_CHECKOUT"), "newCheckout");
        assert_eq!(lower_camel("checkout"), "checkout");
    }

    fn matchers(keys: &[&str]) -> Matchers {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        Matchers::new(&default_rules(), &keys).unwrap()
    }

    #[test]
    fn defaults_match_literals_and_constants_by_line() {
        let m = matchers(&["new-checkout", "new-checkout-v2"]);
        let text = b"if (isEnabled(\"new-checkout\")) {}\n\
                     x = flags.NEW_CHECKOUT  # 'new-checkout' again on the line\n\
                     y = flags.NEW_CHECKOUT_V2\n\
                     z = `new-checkout-v2`\n\
                     new-checkout unquoted does not count\n";
        assert_eq!(m.count(text, 0b11), vec![(0, 2), (1, 2)]);
        // Only the literal rule: the constant lines no longer count.
        assert_eq!(m.count(text, 0b01), vec![(0, 2), (1, 1)]);
        assert_eq!(m.count(text, 0), vec![]);
    }

    #[test]
    fn binary_and_huge_blobs_count_zero() {
        let m = matchers(&["a-flag"]);
        assert_eq!(m.count(b"\"a-flag\"\0", 0b11), vec![]);
        let mut huge = b"\"a-flag\"\n".to_vec();
        huge.resize(MAX_BLOB_BYTES + 1, b' ');
        assert_eq!(m.count(&huge, 0b11), vec![]);
    }

    #[test]
    fn custom_patterns_are_checked_and_use_placeholders() {
        let rule = |p: &str| PatternRule {
            glob: "*.py".into(),
            pattern: p.into(),
        };
        assert!(check_rule(&rule(r#"is_enabled\("{key}"\)"#)).is_ok());
        let e = check_rule(&rule("is_enabled(")).unwrap_err();
        assert!(e.contains("placeholder"), "{e}");
        let e = check_rule(&rule("is_enabled({key}")).unwrap_err();
        assert!(e.contains("not a valid regular expression"), "{e}");
        let m = Matchers::new(&[rule(r"(?i)feature_{camel}\b")], &["new-checkout".into()]).unwrap();
        assert_eq!(m.rules_for("src/app.py"), 1);
        assert_eq!(m.rules_for("src/app.js"), 0);
        assert_eq!(
            m.count(b"FEATURE_NEWCHECKOUT\nfeature_newCheckout2\n", 1),
            vec![(0, 1)]
        );
        // A key with regex metacharacters is matched literally.
        let m = Matchers::new(&default_rules(), &["a.b".into()]).unwrap();
        assert_eq!(m.count(b"\"a.b\" \"axb\"\n\"axb\"\n", 0b11), vec![(0, 1)]);
    }
}
