//! `ingest git`: local repositories (no section in doralens.toml).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use clap::{ArgMatches, Args, FromArgMatches};

use super::SourceEntry;
use crate::cli::args::GitSelection;
use crate::cli::commands::Context;
use crate::cli::config::Config;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct GitArgs {
    /// Repository paths (a clone's folder or a bare repository)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: GitSelection,
}

pub struct Git;

#[async_trait(?Send)]
impl SourceEntry for Git {
    fn name(&self) -> &'static str {
        "git"
    }

    fn command(&self) -> clap::Command {
        GitArgs::augment_args(clap::Command::new("git")).about(
            "A local git repository, bare or not: commits, and tags as deployments. \
             Offline, no token. Later runs read only what is new.",
        )
    }

    fn configured(&self, _: &Config) -> bool {
        false
    }

    fn starter(&self) -> &'static str {
        ""
    }

    async fn run(
        &self,
        ctx: &Context,
        _: &Path,
        _: Option<&Config>,
        full: bool,
        matches: Option<&ArgMatches>,
    ) -> Result<()> {
        let matches = matches.ok_or_else(|| Error::usage("ingest git", "name the repositories"))?;
        let args = GitArgs::from_arg_matches(matches)
            .map_err(|e| Error::Internal(format!("flags: {e}")))?;
        crate::cli::commands::ingest::git(ctx, &args, full)
    }
}
