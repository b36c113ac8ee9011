//! `[batch]` in doralens.toml and the `metrics` flags over it: which paths
//! do not count towards a change's lines, and when a change is large
//! (docs/metrics.md section 9.2).

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::metrics::batch::{BatchOptions, DEFAULT_LARGE_CHANGE_LINES};

/// Both the `metrics` flags and the `[batch]` section of the file.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// Paths whose lines do not count towards a change's size: globs,
    /// comma-separated, replacing the default list (`*.lock`, `vendor/`:
    /// a file name or a directory anywhere; with a `/` inside, the whole
    /// path) [default: Cargo.lock, package-lock.json, yarn.lock,
    /// pnpm-lock.yaml, go.sum, *.lock, *.snap, vendor/, generated/, dist/
    /// and more: docs/metrics.md section 9.2]
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_exclude: Vec<String>,
    /// A change with more lines than this is large [default: 400]
    #[arg(long, value_name = "LINES")]
    pub large_change_lines: Option<i64>,
}

/// The file's keys are `exclude` and `large_change_lines`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSection {
    pub exclude: Option<Vec<String>>,
    pub large_change_lines: Option<i64>,
}

/// `metrics`'s batch flags and the file they layer over.
#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    #[command(flatten)]
    pub flags: BatchSettings,
    /// Configuration file whose `[batch]` section the flags override
    /// (a missing file is no error)
    #[arg(long, value_name = "FILE", default_value = crate::cli::config::DEFAULT_CONFIG)]
    pub config: PathBuf,
}

impl BatchArgs {
    /// Flags over the file over the defaults. An empty `exclude = []` in
    /// the file counts every path.
    pub fn options(&self) -> Result<BatchOptions> {
        let config = crate::cli::config::Config::load(&self.config, false)?;
        let file = config.batch.unwrap_or_default();
        let exclude = if !self.flags.batch_exclude.is_empty() {
            self.flags.batch_exclude.clone()
        } else if let Some(list) = file.exclude {
            list
        } else {
            BatchOptions::default().exclude
        };
        let exclude = exclude
            .iter()
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect();
        let options = BatchOptions {
            exclude,
            large_change_lines: self
                .flags
                .large_change_lines
                .or(file.large_change_lines)
                .unwrap_or(DEFAULT_LARGE_CHANGE_LINES),
        };
        options.validate()?;
        Ok(options)
    }
}
