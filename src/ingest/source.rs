//! What every source shares: the forges (one scope per repository, through
//! [`crate::ingest::forge::ForgeSource`]) and the incident trackers (PagerDuty,
//! Jira, incident.io). A [`Source`] has a name and **scopes** (a repository,
//! a PagerDuty service, a Jira project...), each synced on its own, several
//! at once when the source allows, with a **keyed cursor**
//! (`_state/<source>-<scope>.json`, any serde type the source chooses),
//! written only after the scope's rows. Rows are typed
//! ([`IncidentRow`](crate::store::rows::IncidentRow),
//! [`DeploymentRow`](crate::store::rows::DeploymentRow)) and go through the
//! one [`ScopeSync::write`], which upserts by natural key, so reading an
//! item twice is harmless and an incremental run converges to a full one.
//!
//! **Service mapping.** A source names services its own way (a PagerDuty
//! service id or name, a Jira component). [`ServiceMap`] maps them to
//! doralens services from doralens.toml; a value with no mapping is kept
//! as the source names it and said once per sync on stderr, never dropped
//! silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::store::buffer::TableBuffer;
use crate::store::rows::{DeploymentRow, FlagEventRow, FlagRow, IncidentRow};
use crate::store::schema::Table;
use crate::store::warehouse::Warehouse;

/// A source synced scope by scope.
pub trait Source: Sync {
    /// Its cursor for one scope; `Default` is "never synced".
    type Cursor: Serialize + DeserializeOwned + Default + Send;
    /// `github`, `pagerduty`, ...: the command and the state files' prefix.
    fn name(&self) -> &'static str;
    /// What is synced separately, each with its own cursor.
    fn scopes(&self) -> Vec<String>;
    /// Scopes synced at the same time (1: one after another, as scopes of
    /// one tracker account share its rate limit).
    fn concurrency(&self) -> usize {
        1
    }
    /// The tables its summary line always counts, in order.
    fn tables(&self) -> &'static [&'static str] {
        &["incidents"]
    }
    /// Reads one scope (what changed since `sync.cursor`, or everything on
    /// a full run) and writes it with [`ScopeSync::write`].
    fn sync(&self, sync: &mut ScopeSync<'_, Self::Cursor>) -> impl Future<Output = Result<()>>;
}

/// What one scope's sync wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeReport {
    pub scope: String,
    /// Rows written, by table name.
    pub written: BTreeMap<&'static str, usize>,
    /// Stored rows deleted because the source no longer has them as it
    /// was asked (an incident filtered out after a priority change).
    pub deleted: usize,
    /// Items the source listed that the options left out.
    pub skipped: usize,
    pub incremental: bool,
}

impl ScopeReport {
    pub fn count(&mut self, table: &'static str, rows: usize) {
        *self.written.entry(table).or_default() += rows;
    }

    /// `<source> <scope>: 9 commits, 4 changes, ...`: the source's tables
    /// always, others when written.
    pub fn summary(&self, source: &str, tables: &[&str]) -> String {
        let mut parts: Vec<String> = tables
            .iter()
            .map(|t| format!("{} {t}", self.written.get(t).copied().unwrap_or(0)))
            .collect();
        for (table, n) in &self.written {
            if !tables.contains(table) && *n > 0 {
                parts.push(format!("{n} {table}"));
            }
        }
        if self.deleted > 0 {
            parts.push(format!("{} removed", self.deleted));
        }
        if self.skipped > 0 {
            parts.push(format!("{} left out by the filters", self.skipped));
        }
        format!(
            "{source} {}: {}{}",
            self.scope,
            parts.join(", "),
            if self.incremental {
                " (incremental)"
            } else {
                ""
            }
        )
    }
}

/// Source values → doralens services, with the values that had no mapping.
#[derive(Debug, Default)]
pub struct ServiceMap {
    map: HashMap<String, String>,
    unmapped: Mutex<BTreeSet<String>>,
}

impl ServiceMap {
    pub fn new(map: impl IntoIterator<Item = (String, String)>) -> Self {
        ServiceMap {
            map: map.into_iter().collect(),
            unmapped: Mutex::new(BTreeSet::new()),
        }
    }

    /// The doralens service for the first of `keys` that is mapped (e.g. a
    /// PagerDuty service's id, then its name); otherwise the last key as
    /// the source names it, remembered for [`ServiceMap::report`].
    pub fn map(&self, keys: &[&str]) -> Option<String> {
        let keys: Vec<&str> = keys.iter().copied().filter(|k| !k.is_empty()).collect();
        if let Some(mapped) = keys.iter().find_map(|k| self.map.get(*k)) {
            return Some(mapped.clone());
        }
        let name = keys.last()?;
        if !self.map.is_empty() {
            self.unmapped
                .lock()
                .expect("poisoned")
                .insert(keys.join(" / "));
        }
        Some(name.to_string())
    }

    /// Says once which values had no mapping (only when a mapping is
    /// configured: without one, the source's names are the services).
    pub fn report(&self, source: &str, section: &str, notify: &Notify) {
        let unmapped = self.unmapped.lock().expect("poisoned");
        if unmapped.is_empty() {
            return;
        }
        notify(&format!(
            "note: {source}: {} service(s) have no mapping in [{section}] of doralens.toml and \
             keep the name {source} gives them: {}",
            unmapped.len(),
            unmapped.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// Shared by the scopes of one run.
pub struct SourceContext<'a> {
    pub warehouse: &'a Warehouse,
    /// Ignore the cursors and read everything.
    pub full: bool,
    pub notify: Notify,
    /// One writer at a time (scopes may sync concurrently).
    writing: Mutex<()>,
    /// Stored deployment ids, read at the first `link_field` value.
    deployments: std::sync::OnceLock<std::collections::HashSet<String>>,
    /// `link_field` values that named neither kind: (incident, value).
    unresolved: Mutex<Vec<(String, String)>>,
}

impl<'a> SourceContext<'a> {
    pub fn new(warehouse: &'a Warehouse, full: bool, notify: Notify) -> Self {
        SourceContext {
            warehouse,
            full,
            notify,
            writing: Mutex::new(()),
            deployments: std::sync::OnceLock::new(),
            unresolved: Mutex::new(Vec::new()),
        }
    }

    /// Says once which `link_field` values named neither a stored
    /// deployment nor a commit.
    fn report_unresolved(&self, source: &str) {
        let mut list =
            std::mem::take(&mut *self.unresolved.lock().unwrap_or_else(|p| p.into_inner()));
        if list.is_empty() {
            return;
        }
        list.sort();
        let shown: Vec<String> = list
            .iter()
            .take(10)
            .map(|(incident, value)| format!("{incident} ({value:?})"))
            .collect();
        let more = list.len().saturating_sub(shown.len());
        (self.notify)(&format!(
            "note: {source}: {} incident(s) have a link field naming neither a stored deployment \
             nor a commit sha, so they are linked by time only: {}{}; sync the deployments \
             first (plain `doralens ingest` syncs the forges before the trackers) or correct \
             the field",
            list.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
}

/// One scope's sync: its cursor and where its rows go.
pub struct ScopeSync<'a, C> {
    ctx: &'a SourceContext<'a>,
    source: &'static str,
    pub scope: String,
    pub cursor: C,
    report: ScopeReport,
}

impl<'a, C: Serialize + DeserializeOwned + Default> ScopeSync<'a, C> {
    fn state_name(source: &str, scope: &str) -> String {
        format!("{source}-{}", crate::ingest::git::sanitise(scope))
    }

    /// The cursor saved for a scope, if any (an unreadable one is none).
    fn saved(ctx: &SourceContext<'_>, source: &str, scope: &str) -> Result<Option<C>> {
        Ok(ctx
            .warehouse
            .read_state(&Self::state_name(source, scope))?
            .and_then(|v| serde_json::from_value::<C>(v).ok()))
    }

    pub fn open(ctx: &'a SourceContext<'a>, source: &'static str, scope: &str) -> Result<Self> {
        let saved = if ctx.full {
            None
        } else {
            Self::saved(ctx, source, scope)?
        };
        Ok(ScopeSync {
            ctx,
            source,
            scope: scope.to_string(),
            report: ScopeReport {
                scope: scope.to_string(),
                incremental: saved.is_some(),
                ..Default::default()
            },
            cursor: saved.unwrap_or_default(),
        })
    }

    /// The cursor the last run wrote, even on a full run (which starts
    /// from the default): what a source needs to know it stored.
    pub fn previous(&self) -> Result<Option<C>> {
        Self::saved(self.ctx, self.source, &self.scope)
    }

    /// True when a cursor from an earlier run was found.
    pub fn incremental(&self) -> bool {
        self.report.incremental
    }

    pub fn notify(&self, message: &str) {
        (self.ctx.notify)(message)
    }

    pub fn skipped(&mut self, n: usize) {
        self.report.skipped += n;
    }

    /// Counts rows a source wrote itself (the forges, through their own
    /// writer).
    pub fn count(&mut self, table: &'static str, rows: usize) {
        self.report.count(table, rows);
    }

    /// Writes rows (upserted by natural key, later rows of a key winning),
    /// then the cursor `update` leaves: a failure later keeps these rows
    /// and the next run resumes from the last cursor written.
    pub fn write(
        &mut self,
        incidents: &[IncidentRow],
        deployments: &[DeploymentRow],
        update: impl FnOnce(&mut C),
    ) -> Result<()> {
        let _one_writer = self.ctx.writing.lock().unwrap_or_else(|p| p.into_inner());
        // Provenance: this scope, and the requests made since the last
        // write (scopes of a tracker sync one at a time).
        let origin = crate::ingest::client::requests::take_all(self.source);
        let warehouse = &self
            .ctx
            .warehouse
            .in_scope(format!("{}:{}", self.source, self.scope), origin);
        let mut pending = Vec::new();
        if !incidents.is_empty() {
            let mut buffer = TableBuffer::new(Table::Incidents);
            incidents.iter().for_each(|r| r.push(&mut buffer));
            pending.push(buffer);
        }
        if !deployments.is_empty() {
            let mut buffer = TableBuffer::new(Table::Deployments);
            deployments.iter().for_each(|r| r.push(&mut buffer));
            pending.push(buffer);
        }
        for mut buffer in pending {
            let table = buffer.table();
            let batches = super::keep_last_per_key(table, vec![buffer.finish()?])?;
            warehouse.upsert(table, &batches)?;
        }
        self.report.count("incidents", incidents.len());
        self.report.count("deployments", deployments.len());
        update(&mut self.cursor);
        warehouse.write_state(
            &Self::state_name(self.source, &self.scope),
            &serde_json::to_value(&self.cursor).expect("cursor serialises"),
        )
    }

    /// [`ScopeSync::write`] for a flag platform: flags and their events,
    /// then the cursor.
    pub fn write_flags(
        &mut self,
        flags: &[FlagRow],
        events: &[FlagEventRow],
        update: impl FnOnce(&mut C),
    ) -> Result<()> {
        let warehouse = self.ctx.warehouse;
        let _one_writer = self.ctx.writing.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = Vec::new();
        if !flags.is_empty() {
            let mut buffer = TableBuffer::new(Table::Flags);
            flags.iter().for_each(|r| r.push(&mut buffer));
            pending.push(buffer);
        }
        if !events.is_empty() {
            let mut buffer = TableBuffer::new(Table::FlagEvents);
            events.iter().for_each(|r| r.push(&mut buffer));
            pending.push(buffer);
        }
        for mut buffer in pending {
            let table = buffer.table();
            let batches = super::keep_last_per_key(table, vec![buffer.finish()?])?;
            warehouse.upsert(table, &batches)?;
        }
        self.report.count("flags", flags.len());
        self.report.count("flag_events", events.len());
        update(&mut self.cursor);
        warehouse.write_state(
            &Self::state_name(self.source, &self.scope),
            &serde_json::to_value(&self.cursor).expect("cursor serialises"),
        )
    }

    /// Sets `row`'s explicit link from a `link_field` value (see
    /// [`crate::ingest::tracker::link_field`]) where the row has none of that kind yet; an
    /// unresolved value is reported at the end of the run.
    pub fn link(&self, row: &mut IncidentRow, value: Option<&str>) -> Result<()> {
        use crate::ingest::tracker::link_field::{Link, classify};
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(());
        };
        let known = match self.ctx.deployments.get() {
            Some(k) => k,
            None => {
                let ids = self.ctx.warehouse.ids(Table::Deployments, |_| true)?;
                self.ctx
                    .deployments
                    .get_or_init(|| ids.into_iter().collect())
            }
        };
        match classify(value, |v| known.contains(v)) {
            Link::Deployment(id) => {
                row.deployment_id.get_or_insert(id);
            }
            Link::Commit(sha) => {
                row.sha.get_or_insert(sha);
            }
            Link::Unresolved => self
                .ctx
                .unresolved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((row.id.clone(), value.trim().to_string())),
        }
        Ok(())
    }

    /// Deletes stored incidents by id (the table's whole key).
    pub fn delete_incidents(&mut self, ids: &[String]) -> Result<()> {
        self.report.deleted += self.ctx.warehouse.delete_ids(Table::Incidents, ids)?;
        Ok(())
    }

    /// Stored incident ids starting with `prefix`.
    pub fn stored_incidents(&self, prefix: &str) -> Result<Vec<String>> {
        self.ctx
            .warehouse
            .ids(Table::Incidents, |id| id.starts_with(prefix))
    }
}

/// Syncs every scope of `source` (`concurrency()` at a time). A failed
/// scope keeps what it wrote; the others still run, and the failures are
/// listed together after them. A rejected token stops everything at once:
/// it is the same for every scope.
pub async fn sync_all<S: Source>(source: &S, ctx: &SourceContext<'_>) -> Result<Vec<ScopeReport>> {
    use futures_util::StreamExt;
    let results: Vec<(String, Result<ScopeReport>)> = futures_util::stream::iter(source.scopes())
        .map(|scope| async move {
            let result = async {
                let mut sync = ScopeSync::<S::Cursor>::open(ctx, source.name(), &scope)?;
                source.sync(&mut sync).await?;
                Ok(sync.report)
            }
            .await;
            (scope, result)
        })
        .buffer_unordered(source.concurrency().max(1))
        .collect()
        .await;
    ctx.report_unresolved(source.name());
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for (scope, result) in results {
        match result {
            Ok(r) => reports.push(r),
            Err(e @ Error::Token { .. }) => return Err(e),
            Err(e) => failures.push((scope, e)),
        }
    }
    reports.sort_by(|a, b| a.scope.cmp(&b.scope));
    if failures.is_empty() {
        return Ok(reports);
    }
    for r in &reports {
        eprintln!("{}", r.summary(source.name(), source.tables()));
    }
    if failures.len() == 1 {
        return Err(failures.remove(0).1);
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    Err(Error::Forge {
        forge: source.name(),
        repo: failures
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        message: format!(
            "sync failed:\n  {}",
            failures
                .iter()
                .map(|(_, e)| e.to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_services_keep_their_name_and_are_reported_once() {
        let map = ServiceMap::new([("PABC123".to_string(), "api".to_string())]);
        assert_eq!(map.map(&["PABC123", "API prod"]).as_deref(), Some("api"));
        assert_eq!(map.map(&["PXYZ", "Billing"]).as_deref(), Some("Billing"));
        assert_eq!(map.map(&["PXYZ", "Billing"]).as_deref(), Some("Billing"));
        let said = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = said.clone();
        let notify: Notify =
            std::sync::Arc::new(move |l: &str| sink.lock().unwrap().push(l.into()));
        map.report("pagerduty", "pagerduty.services", &notify);
        let said = said.lock().unwrap();
        assert_eq!(said.len(), 1);
        assert!(
            said[0].contains("1 service(s)") && said[0].contains("PXYZ / Billing"),
            "{said:?}"
        );
        // Without a mapping, names are services and nothing is said.
        let none = ServiceMap::new([]);
        assert_eq!(none.map(&["P1", "Checkout"]).as_deref(), Some("Checkout"));
        assert!(none.unmapped.lock().unwrap().is_empty());
    }
}
