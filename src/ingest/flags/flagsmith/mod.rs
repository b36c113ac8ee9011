//! `doralens ingest flagsmith`: flags and their history from Flagsmith's
//! Admin API (`fixtures/flagsmith/README.md` cites the pages).
//!
//! - **Flags**: `GET /api/v1/projects/{id}/features/`, every feature of the
//!   project (archived ones included), paged as Django REST framework pages
//!   (`{count, next, previous, results}`, at most 999 a page): `next` is
//!   followed to the end and the items must add up to `count`.
//! - **Kinds**: Flagsmith has no flag kinds, only STANDARD and MULTIVARIATE
//!   features: STANDARD is stored as `release`, MULTIVARIATE (variants) as
//!   `experiment`. No expected lifetime (Flagsmith defines none), no stale
//!   mark and no lifecycle stage (Flagsmith computes those per environment
//!   only when a list is asked for one).
//! - **Archived**: a feature only says `is_archived`. `archived_at` is the
//!   time of its archive entry in the audit log when one was read, else the
//!   time of the first sync that saw it archived (both kept in the cursor
//!   and carried over a full run, so they do not move).
//! - **Events**: the project's audit log
//!   `GET /api/v1/projects/{id}/audit/`, newest first, walked back to the
//!   cursor (or `since`). The list does not say what changed, so the detail
//!   `GET /api/v1/projects/{id}/audit/{audit_id}/` (`change_details`,
//!   `change_type`) is read for feature-state entries and feature updates
//!   only. Mapping: an environment's own feature state whose `enabled` went
//!   false → true is `enabled`, true → false `disabled`; any other change
//!   of a feature state (values, segment overrides) is `strategy-changed`;
//!   a feature whose `is_archived` went false → true is `archived`; a
//!   state a change request or release pipeline created (no previous value)
//!   is `strategy-changed`, and so is a published version (feature
//!   versioning v2 logs those instead of feature states; read from the
//!   list, no detail).
//!   Identity overrides (one user), creations, deletions and changes only
//!   scheduled (their "went live" entry counts) are skipped, their
//!   details not read.
//!   The `is_system_event` filter is never sent: Flagsmith keeps only
//!   system events once it is given at all.
//! - **Incremental**: a cursor per project holds the newest entry's time;
//!   the next run stops at the first entry older than it (entries are
//!   upserted by id, so an entry read twice is harmless).
//! - **Auth**: `Authorization: Api-Key <key>` (an Organisation API key),
//!   or `FLAGSMITH_TOKEN` as it is when it names its scheme.
//! - **Requests** per project: one per 999 features, one per 999 audit
//!   entries read, one per detail read.
//! - **Services**: `[flagsmith.services]` maps a tag (`tag:<id>`) or the
//!   project id to a service; unmapped flags keep the project id.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::base::time::Timestamp;
use crate::error::{Error, Result};
use crate::ingest::client::http::Notify;
use crate::ingest::client::{ApiClient, Credentials};
use crate::ingest::source::{ScopeSync, ServiceMap, Source};

mod mapping;

pub use mapping::{Entry, Feature, Need, kind};
use mapping::{bad, time};

pub const TOKEN_ENV: &str = "FLAGSMITH_TOKEN";
pub const DEFAULT_API_URL: &str = "https://api.flagsmith.com";
const NAME: &str = "flagsmith";
/// Flagsmith's largest page (`max_page_size`).
const PAGE: usize = 999;

#[derive(Debug, Clone)]
pub struct FlagsmithOptions {
    /// The API root, e.g. https://api.flagsmith.com (no `/api/v1`).
    pub api_url: String,
    /// Project ids, each its own scope.
    pub projects: Vec<String>,
    /// Tag (`tag:<id>`) or project id → doralens service.
    pub services: Vec<(String, String)>,
    /// Audit entries from this instant on, on a first or full run.
    pub since: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlagsmithCursor {
    /// The time (RFC 3339) of the newest audit entry read.
    pub newest: Option<String>,
    /// Feature name → the time of its newest archive entry (RFC 3339).
    #[serde(default)]
    pub archived: BTreeMap<String, String>,
    /// Archived feature name → the first sync that saw it archived, for
    /// those whose archive entry was never read.
    #[serde(default)]
    pub archived_seen: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    count: Option<usize>,
    next: Option<String>,
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

pub struct Flagsmith {
    client: ApiClient,
    options: FlagsmithOptions,
    services: ServiceMap,
}

/// The query of a page's `next` link (its host may be the server's own
/// view of itself, so only the query is kept).
fn next_query(next: &str) -> Option<Vec<(String, String)>> {
    let url = url::Url::parse(next).ok()?;
    Some(url.query_pairs().into_owned().collect())
}

/// The `Authorization` value: an Organisation API key as documented
/// (`Api-Key <key>`), or the variable as it is when it already names a
/// scheme (`Token <user token>`, `Bearer <OIDC access token>`).
fn authorization(token: &str) -> String {
    let token = token.trim();
    match token.split_once(' ') {
        Some((scheme, _)) if ["Api-Key", "Token", "Bearer"].contains(&scheme) => token.to_string(),
        _ => format!("Api-Key {token}"),
    }
}

impl Flagsmith {
    pub fn new(options: FlagsmithOptions, notify: Notify) -> Result<Self> {
        let token =
            crate::ingest::client::http::token_from_env(NAME, TOKEN_ENV)?.ok_or_else(|| {
                Error::Token {
                    forge: NAME,
                    message: format!(
                        "{TOKEN_ENV} is not set: create an API key (Organisation \
                         settings → API Access) and export it as {TOKEN_ENV}"
                    ),
                }
            })?;
        let client = ApiClient::new(
            NAME,
            TOKEN_ENV,
            options.api_url.trim_end_matches('/'),
            Some(Credentials {
                header: http::header::AUTHORIZATION,
                value: authorization(&token),
            }),
            notify,
        )?;
        Ok(Flagsmith {
            client,
            services: ServiceMap::new(options.services.clone()),
            options,
        })
    }

    pub fn report_unmapped(&self, notify: &Notify) {
        self.services.report(NAME, "flagsmith.services", notify);
    }

    fn features_path(project: &str) -> String {
        format!("/api/v1/projects/{}/features/", super::encode(project))
    }

    fn audit_path(project: &str) -> String {
        format!("/api/v1/projects/{}/audit/", super::encode(project))
    }

    /// One page: the first from `first`, the next ones from `next`.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        scope: &str,
        path: &str,
        next: Option<&str>,
    ) -> Result<Page<T>> {
        let query: Vec<(String, String)> = match next {
            None => vec![("page_size".into(), PAGE.to_string())],
            Some(n) => next_query(n)
                .ok_or_else(|| bad(scope, path, format!("`next` {n:?} is not a URL")))?,
        };
        let query: Vec<(&str, String)> =
            query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let answer = self.client.get_json(scope, path, &query).await?;
        serde_json::from_value(answer).map_err(|e| bad(scope, path, format!("not a page ({e})")))
    }

    /// Every feature of the project, archived ones included.
    async fn features(&self, scope: &str) -> Result<Vec<Feature>> {
        let path = Self::features_path(scope);
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page: Page<Feature> = self.page(scope, &path, next.as_deref()).await?;
            let got = page.results.len();
            out.extend(page.results);
            let count = page
                .count
                .ok_or_else(|| bad(scope, &path, "the answer has no `count`".into()))?;
            super::check_paging("count", out.len(), got, count, page.next.is_none())
                .map_err(|m| bad(scope, &path, m))?;
            match page.next {
                Some(n) => next = Some(n),
                None => return Ok(out),
            }
        }
    }

    async fn detail(&self, scope: &str, id: i64) -> Result<Entry> {
        let path = format!("{}{id}/", Self::audit_path(scope));
        let answer = self.client.get_json(scope, &path, &[]).await?;
        serde_json::from_value(answer)
            .map_err(|e| bad(scope, &path, format!("not an audit log entry ({e})")))
    }
}

impl Source for Flagsmith {
    type Cursor = FlagsmithCursor;

    fn name(&self) -> &'static str {
        NAME
    }

    fn scopes(&self) -> Vec<String> {
        self.options.projects.clone()
    }

    fn tables(&self) -> &'static [&'static str] {
        &["flags", "flag_events"]
    }

    async fn sync(&self, sync: &mut ScopeSync<'_, FlagsmithCursor>) -> Result<()> {
        let scope = sync.scope.clone();
        let features = self.features(&scope).await?;
        let names: HashMap<i64, String> = features.iter().map(|f| (f.id, f.name.clone())).collect();
        // Archive times survive a full run (its cursor starts empty).
        let kept: FlagsmithCursor = sync.previous()?.unwrap_or_default();
        let mut archived = kept.archived.clone();
        let walked = self
            .walk(sync, &names, &mut archived, !features.is_empty())
            .await;
        // Flags, even when the walk failed, with the archive times known
        // so far: the archive entry's, else the first sync that saw the
        // feature archived.
        let now = Timestamp::now().to_string();
        let mut first_seen = BTreeMap::new();
        let mut rows = Vec::new();
        for feature in &features {
            let at = if feature.is_archived {
                let seen = kept
                    .archived_seen
                    .get(&feature.name)
                    .cloned()
                    .unwrap_or_else(|| now.clone());
                let at = archived.get(&feature.name).cloned().unwrap_or_else(|| {
                    first_seen.insert(feature.name.clone(), seen.clone());
                    seen
                });
                Timestamp::parse_rfc3339(&at)
            } else {
                None
            };
            rows.push(feature.row(&scope, at, &self.services)?);
        }
        sync.write_flags(&rows, &[], |c| {
            c.archived = archived;
            c.archived_seen = first_seen;
        })?;
        walked
    }
}

impl Flagsmith {
    /// The audit log, newest first, back to the cursor (or `since`): its
    /// events written page by page, archive times into `archived`.
    async fn walk(
        &self,
        sync: &mut ScopeSync<'_, FlagsmithCursor>,
        names: &HashMap<i64, String>,
        archived: &mut BTreeMap<String, String>,
        has_features: bool,
    ) -> Result<()> {
        let scope = sync.scope.clone();
        let path = Self::audit_path(&scope);
        let stop = match sync.cursor.newest.as_deref() {
            Some(n) => time(&scope, "the cursor", n)?,
            None => self.options.since,
        };
        let mut newest = sync
            .cursor
            .newest
            .as_deref()
            .and_then(Timestamp::parse_rfc3339);
        let mut next: Option<String> = None;
        let mut seen = 0;
        let mut skipped = 0;
        loop {
            let page: Page<Entry> = self.page(&scope, &path, next.as_deref()).await?;
            let got = page.results.len();
            seen += got;
            let count = page
                .count
                .ok_or_else(|| bad(&scope, &path, "the answer has no `count`".into()))?;
            let mut reached = false;
            let mut events = Vec::new();
            for entry in &page.results {
                let at = time(
                    &scope,
                    &format!("audit entry {}: `created_date`", entry.id),
                    &entry.created_date,
                )?;
                if at < stop {
                    reached = true;
                    break;
                }
                if newest.is_none_or(|n| n < at) {
                    newest = Some(at);
                }
                let row = match entry.need() {
                    Need::Skip => None,
                    Need::Detail => self.detail(&scope, entry.id).await?.row(&scope, names)?,
                    Need::List => entry.row(&scope, names)?,
                };
                match row {
                    Some(row) => {
                        if row.kind == "archived" {
                            let known = archived.get(&row.flag_key);
                            if known.is_none_or(|k| Timestamp::parse_rfc3339(k) < Some(row.at)) {
                                archived.insert(row.flag_key.clone(), row.at.to_string());
                            }
                        }
                        events.push(row);
                    }
                    None => skipped += 1,
                }
            }
            if !reached {
                super::check_paging("count", seen, got, count, page.next.is_none())
                    .map_err(|m| bad(&scope, &path, m))?;
            }
            let done = reached || page.next.is_none();
            // The cursor moves only once the walk is complete: entries come
            // newest first, so an interrupted walk must start again.
            let cursor = newest.map(|n| n.to_string());
            sync.write_flags(&[], &events, |c| {
                if done {
                    c.newest = cursor;
                }
            })?;
            if done {
                break;
            }
            next = page.next;
        }
        if seen == 0 && sync.cursor.newest.is_none() && has_features {
            sync.notify(&format!(
                "note: flagsmith {scope}: the audit log is empty: Flagsmith shows it only on \
                 plans that include it, and only as many days back as the plan allows"
            ));
        }
        sync.skipped(skipped);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_sent_as_an_api_key_unless_it_names_its_scheme() {
        assert_eq!(authorization("ser.abc"), "Api-Key ser.abc");
        assert_eq!(authorization("Token 0123"), "Token 0123");
        assert_eq!(authorization("Bearer eyJ"), "Bearer eyJ");
    }
}
