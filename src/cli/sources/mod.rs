//! The sources `doralens ingest` knows, one module each, found through
//! [`SOURCES`]. A source module declares:
//!
//! - its **settings**: one struct that is both its command-line flags
//!   (clap) and its section of doralens.toml (serde), layered flags over
//!   file by [`layer`] (no field is merged by hand), with the defaults in
//!   one function;
//! - its **entry** ([`SourceEntry`]): the subcommand name, whether plain
//!   `ingest` syncs it (its section is in the file), the commented section
//!   `doralens init` writes, and how it runs (through the library's
//!   [`crate::ingest::source::Source`]).
//!
//! `ingest <name>`'s subcommands, plain `ingest` and `init`'s starter file
//! iterate [`SOURCES`]; `docs/adding-a-source.md` is the recipe.

pub mod flag_references;
pub mod flagsmith;
pub mod forges;
pub mod git;
pub mod incident_io;
pub mod jira;
pub mod pagerduty;
pub mod tracker;
pub mod unleash;

use std::path::Path;

use async_trait::async_trait;
use clap::{ArgMatches, FromArgMatches, Subcommand};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::commands::Context;
use super::config::Config;
use crate::error::{Error, Result};

/// One source of `doralens ingest`.
#[async_trait(?Send)]
pub trait SourceEntry: Sync {
    /// The subcommand: `doralens ingest <name>`.
    fn name(&self) -> &'static str;
    /// The subcommand with its flags (from the settings struct).
    fn command(&self) -> clap::Command;
    /// Plain `ingest` syncs the sources whose section the file has.
    fn configured(&self, config: &Config) -> bool;
    /// The commented section `doralens init` writes ("" for none).
    fn starter(&self) -> &'static str;
    /// Syncs it. `flags` are the subcommand's (None under plain `ingest`);
    /// `config` is the file already read (None: read it if needed).
    async fn run(
        &self,
        ctx: &Context,
        file: &Path,
        config: Option<&Config>,
        full: bool,
        flags: Option<&ArgMatches>,
    ) -> Result<()>;
}

/// Every source, in the order plain `ingest` syncs them: the forges
/// before the trackers, whose explicit links name the forges' deployments,
/// and the flag platforms before the flag code references.
pub static SOURCES: &[&dyn SourceEntry] = &[
    &git::Git,
    &forges::GITHUB,
    &forges::GITLAB,
    &pagerduty::PagerDutyEntry,
    &jira::JiraEntry,
    &incident_io::IncidentIoEntry,
    &unleash::UnleashEntry,
    &flagsmith::FlagsmithEntry,
    // After the flag platforms: it searches the keys of their flags.
    &flag_references::FlagReferencesEntry,
];

/// `doralens ingest <source> [flags]`, parsed against [`SOURCES`].
#[derive(Clone)]
pub struct IngestSource {
    pub entry: &'static dyn SourceEntry,
    pub matches: ArgMatches,
}

impl std::fmt::Debug for IngestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IngestSource({})", self.entry.name())
    }
}

impl FromArgMatches for IngestSource {
    fn from_arg_matches(matches: &ArgMatches) -> std::result::Result<Self, clap::Error> {
        let (name, sub) = matches
            .subcommand()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingSubcommand))?;
        let entry = SOURCES
            .iter()
            .copied()
            .find(|s| s.name() == name)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))?;
        Ok(IngestSource {
            entry,
            matches: sub.clone(),
        })
    }

    fn update_from_arg_matches(
        &mut self,
        matches: &ArgMatches,
    ) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for IngestSource {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        SOURCES
            .iter()
            .fold(cmd, |cmd, s| cmd.subcommand(s.command()))
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        SOURCES.iter().any(|s| s.name() == name)
    }
}

/// `doralens ingest`: one source with its flags, or every source the file
/// configures (the teams of `[teams]` first). Under plain `ingest` every
/// configured source runs even when one fails; the first failure is the
/// exit status.
pub async fn ingest(
    ctx: &Context,
    file: &Path,
    full: bool,
    source: Option<&IngestSource>,
) -> Result<()> {
    // Each source's run is one `syncs` row (store::provenance).
    let scope = file.display().to_string();
    if let Some(s) = source {
        return ctx
            .recorded(s.entry.name(), &scope, async |ctx| {
                s.entry.run(ctx, file, None, full, Some(&s.matches)).await
            })
            .await;
    }
    let config = Config::load(file, true)?;
    let configured: Vec<&dyn SourceEntry> = SOURCES
        .iter()
        .copied()
        .filter(|s| s.configured(&config))
        .collect();
    if configured.is_empty() {
        // The other sources' sections, from the registry (a section is
        // the subcommand's name with `_` for `-`).
        let sections: Vec<String> = SOURCES
            .iter()
            .map(|s| s.name())
            .filter(|n| !matches!(*n, "git" | "github" | "gitlab"))
            .map(|n| format!("[{}]", n.replace('-', "_")))
            .collect();
        return Err(Error::Config {
            file: file.to_path_buf(),
            message: format!(
                "lists no repositories under [github] or [gitlab], and no section of another \
                 source ({})",
                sections.join(", ")
            ),
        });
    }
    if !config.team_rows().is_empty() {
        ctx.recorded("config", &scope, async |ctx| {
            super::commands::ingest::write_teams(ctx, &config)
        })
        .await?;
    }
    let mut failure = None;
    for source in &configured {
        let run = ctx
            .recorded(source.name(), &scope, async |ctx| {
                source.run(ctx, file, Some(&config), full, None).await
            })
            .await;
        match run {
            Ok(()) => {}
            Err(e @ Error::Token { .. }) if configured.len() == 1 => return Err(e),
            Err(e) if configured.len() > 1 => {
                eprintln!("error: {e}");
                failure.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The settings a source runs with: its flags over its section of the file.
/// A flag that was not given (null, or an empty list) leaves the file's
/// value; what neither sets stays unset for the source's defaults.
pub fn layer<T: Serialize + DeserializeOwned + Default>(
    flags: Option<&T>,
    file: Option<&T>,
) -> Result<T> {
    use serde_json::Value;
    let value = |t: Option<&T>| -> Value {
        t.map(|t| serde_json::to_value(t).expect("settings serialise"))
            .unwrap_or(Value::Null)
    };
    let mut merged = match value(file) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    if let Value::Object(flags) = value(flags) {
        for (key, v) in flags {
            let given = match &v {
                Value::Null => false,
                Value::Array(items) => !items.is_empty(),
                Value::Object(map) => !map.is_empty(),
                _ => true,
            };
            if given {
                merged.insert(key, v);
            }
        }
    }
    if merged.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_value(Value::Object(merged))
        .map_err(|e| Error::Internal(format!("settings: {e}")))
}

/// A source's flags from its subcommand's matches.
pub fn flags<T: FromArgMatches>(matches: Option<&ArgMatches>) -> Result<Option<T>> {
    matches
        .map(|m| T::from_arg_matches(m).map_err(|e| Error::Internal(format!("flags: {e}"))))
        .transpose()
}

/// The file when the caller has not read it: required or not.
pub fn read_config(file: &Path, config: Option<&Config>, required: bool) -> Result<Config> {
    match config {
        Some(c) => Ok(c.clone()),
        None => Config::load(file, required),
    }
}

/// The starter file's source sections, in registry order.
pub fn starter_sections() -> String {
    SOURCES.iter().map(|s| s.starter()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, serde::Deserialize, PartialEq)]
    struct S {
        a: Option<String>,
        #[serde(default)]
        list: Vec<String>,
        flag: Option<bool>,
    }

    #[test]
    fn flags_win_over_the_file_and_unset_flags_keep_it() {
        let file = S {
            a: Some("file".into()),
            list: vec!["x".into()],
            flag: Some(true),
        };
        let flags = S {
            a: Some("flag".into()),
            list: vec![],
            flag: None,
        };
        assert_eq!(
            layer(Some(&flags), Some(&file)).unwrap(),
            S {
                a: Some("flag".into()),
                list: vec!["x".into()],
                flag: Some(true)
            }
        );
        let flags = S {
            list: vec!["y".into()],
            flag: Some(false),
            ..S::default()
        };
        assert_eq!(
            layer(Some(&flags), Some(&file)).unwrap(),
            S {
                a: Some("file".into()),
                list: vec!["y".into()],
                flag: Some(false)
            }
        );
        assert_eq!(layer::<S>(None, None).unwrap(), S::default());
    }

    #[test]
    fn every_source_has_a_subcommand_and_a_unique_name() {
        let mut names: Vec<&str> = SOURCES.iter().map(|s| s.name()).collect();
        for s in SOURCES {
            assert_eq!(s.command().get_name(), s.name());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SOURCES.len());
    }
}
