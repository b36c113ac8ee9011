//! What the incident trackers' entries share: a tracker declares its name,
//! help, starter section, settings and how its library source is built,
//! and [`SourceEntry`] follows for every [`TrackerEntry`] (one way to read
//! the settings, sync and report what could not be mapped).

use std::path::Path;

use async_trait::async_trait;
use clap::{ArgMatches, Args, FromArgMatches};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{SourceEntry, flags, layer, read_config};
use crate::cli::commands::Context;
use crate::cli::commands::ingest::{run_tracker, stderr_lines};
use crate::cli::config::Config;
use crate::error::Result;
use crate::ingest::client::http::Notify;
use crate::ingest::source::Source;

/// An incident tracker's entry.
pub trait TrackerEntry: Sync {
    /// Its flags and its section of doralens.toml.
    type Settings: Args + FromArgMatches + Serialize + DeserializeOwned + Default;
    /// The library's source.
    type Source: Source;
    /// The subcommand: `doralens ingest <NAME>`.
    const NAME: &'static str;
    /// The subcommand's help.
    const ABOUT: &'static str;
    /// The commented section `doralens init` writes.
    const STARTER: &'static str;
    /// Its section of the file, when present.
    fn section(config: &Config) -> Option<&Self::Settings>;
    /// The source these settings describe.
    fn source(settings: Self::Settings, notify: Notify) -> Result<Self::Source>;
    /// Said on stderr once the sync ends (what could not be mapped).
    fn after_sync(source: &Self::Source, notify: &Notify);
}

#[async_trait(?Send)]
impl<T: TrackerEntry> SourceEntry for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn command(&self) -> clap::Command {
        T::Settings::augment_args(clap::Command::new(T::NAME)).about(T::ABOUT)
    }

    fn configured(&self, config: &Config) -> bool {
        T::section(config).is_some()
    }

    fn starter(&self) -> &'static str {
        T::STARTER
    }

    async fn run(
        &self,
        ctx: &Context,
        file: &Path,
        config: Option<&Config>,
        full: bool,
        matches: Option<&ArgMatches>,
    ) -> Result<()> {
        let config = read_config(file, config, false)?;
        let flags: Option<T::Settings> = flags(matches)?;
        let settings = layer(flags.as_ref(), T::section(&config))?;
        let notify = stderr_lines();
        let source = T::source(settings, notify.clone())?;
        run_tracker(ctx, full, &source, &notify).await?;
        T::after_sync(&source, &notify);
        Ok(())
    }
}
