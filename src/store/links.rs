//! The web pages of a forge-synced repository (commit and pull/merge
//! request URLs), saved with its sync cursor in `_state/` and read by the
//! report for its links.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::warehouse::Warehouse;

/// The part of a saved sync cursor this module reads.
#[derive(Deserialize)]
struct Saved {
    #[serde(default)]
    links: Option<WebLinks>,
}

/// URL templates of a repository's pages: `{sha}` and `{number}` are
/// replaced.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebLinks {
    pub repo: String,
    pub commit: String,
    pub change: String,
}

impl WebLinks {
    pub fn commit_url(&self, sha: &str) -> String {
        self.commit.replace("{sha}", sha)
    }

    pub fn change_url(&self, number: i64) -> String {
        self.change.replace("{number}", &number.to_string())
    }

    /// The links of every forge-synced repository of a warehouse (from the
    /// sync cursors in `_state/`), by repository name.
    pub fn load(warehouse: &Warehouse) -> HashMap<String, WebLinks> {
        let mut out = HashMap::new();
        let Ok(entries) = std::fs::read_dir(warehouse.root().join("_state")) else {
            return out;
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            if let Ok(Saved { links: Some(links) }) = serde_json::from_str::<Saved>(&text) {
                out.insert(links.repo.clone(), links);
            }
        }
        out
    }
}
