//! `ingest flag-references` and `[flag_references]`: where local
//! repositories' code first referenced each flag key and removed its last
//! reference (`crate::ingest::git::flag_refs` holds the rules).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use clap::{ArgMatches, Args};
use serde::{Deserialize, Serialize};

use super::{SourceEntry, flags, layer, read_config};
use crate::cli::commands::Context;
use crate::cli::config::Config;
use crate::error::{Error, Result};
use crate::ingest::git::flag_refs::{self, FlagRefOptions, PatternRule, check_rule};

/// The settings: flags, or the `[flag_references]` section.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagReferencesSettings {
    /// Repository paths (a clone's folder or a bare repository); `repos` in the file
    #[arg(value_name = "PATH")]
    #[serde(default)]
    pub repos: Vec<PathBuf>,
    /// Repository name in the warehouse, with one path [default: the folder name]
    #[arg(long = "repo", value_name = "NAME")]
    #[serde(skip)]
    pub repo_name: Option<String>,
    /// Branch whose first-parent history is scanned [default: the branch HEAD points to]
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,
    /// A flag key to search besides the warehouse's flags (repeatable)
    #[arg(long = "flag", value_name = "KEY")]
    #[serde(default)]
    pub flags: Vec<String>,
    /// Keep the default patterns beside `patterns` (file only) [default: true]
    #[arg(skip)]
    pub default_patterns: Option<bool>,
    /// Reference patterns, `{ glob, pattern }` (file only).
    #[arg(skip)]
    #[serde(default)]
    pub patterns: Vec<PatternRule>,
}

impl FlagReferencesSettings {
    /// Checks the patterns of the file's section; `text` is the file, to
    /// name the line of a bad pattern.
    pub fn validate(&self, text: &str) -> std::result::Result<(), String> {
        for (i, rule) in self.patterns.iter().enumerate() {
            if let Err(e) = check_rule(rule) {
                let line = nth_pattern_line(text, i)
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                return Err(format!("{line}[flag_references] patterns[{i}]: {e}"));
            }
        }
        if self.default_patterns == Some(false) && self.patterns.is_empty() {
            return Err(
                "[flag_references] default_patterns = false leaves no pattern; add `patterns` \
                 or drop default_patterns"
                    .into(),
            );
        }
        Ok(())
    }

    /// The library's options: these settings, then the defaults.
    fn options(&self, file: &Path, full: bool) -> Result<FlagRefOptions> {
        self.validate("").map_err(|message| Error::Config {
            file: file.to_path_buf(),
            message,
        })?;
        let mut rules = if self.default_patterns.unwrap_or(true) {
            flag_refs::default_rules()
        } else {
            Vec::new()
        };
        rules.extend(self.patterns.iter().cloned());
        if rules.len() > 64 {
            return Err(Error::Config {
                file: file.to_path_buf(),
                message: "[flag_references] patterns: at most 64 patterns with the defaults; \
                          merge some with `|`"
                    .into(),
            });
        }
        Ok(FlagRefOptions {
            repo_name: self.repo_name.clone(),
            branch: self.branch.clone(),
            keys: self.flags.clone(),
            rules,
            full,
        })
    }
}

/// The line (1-based) of the `n`th `pattern =` after the section's name.
fn nth_pattern_line(text: &str, n: usize) -> Option<usize> {
    let start = text.find("flag_references")?;
    let re = regex::Regex::new(r"\bpattern\s*=").expect("valid");
    let m = re.find_iter(&text[start..]).nth(n)?;
    Some(text[..start + m.start()].matches('\n').count() + 1)
}

pub struct FlagReferencesEntry;

const ABOUT: &str = "Flag code references in local git repositories: for each flag key (the \
     warehouse's flags and --flag), the commit that first referenced it and the one that \
     removed its last reference. Offline; later runs scan only new commits.";

#[async_trait(?Send)]
impl SourceEntry for FlagReferencesEntry {
    fn name(&self) -> &'static str {
        "flag-references"
    }

    fn command(&self) -> clap::Command {
        FlagReferencesSettings::augment_args(clap::Command::new("flag-references")).about(ABOUT)
    }

    fn configured(&self, config: &Config) -> bool {
        config
            .flag_references
            .as_ref()
            .is_some_and(|s| !s.repos.is_empty())
    }

    fn starter(&self) -> &'static str {
        STARTER
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
        let given: Option<FlagReferencesSettings> = flags(matches)?;
        let mut settings = layer(given.as_ref(), config.flag_references.as_ref())?;
        // `--repo` is a flag only (serde skips it).
        settings.repo_name = given.and_then(|g| g.repo_name);
        if settings.repos.is_empty() {
            return Err(Error::usage(
                "PATH",
                "name the repositories: `doralens ingest flag-references PATH`, or `repos` \
                 in [flag_references]",
            ));
        }
        if settings.repo_name.is_some() && settings.repos.len() > 1 {
            return Err(Error::usage(
                "--repo",
                "names one repository; pass one path with it",
            ));
        }
        let opts = settings.options(file, full)?;
        let warehouse = ctx.open()?;
        for path in &settings.repos {
            // Provenance: the repository's path is its rows' scope and origin.
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            let scoped = warehouse.in_scope(
                format!("git:{}", shown.display()),
                Some(format!("git repository {}", shown.display())),
            );
            let report = flag_refs::ingest(&scoped, path, &opts, &|line| eprintln!("{line}"))?;
            if report.keys == 0 {
                eprintln!(
                    "flag-references: no flag keys to search: the warehouse has no flags \
                     (ingest unleash or flagsmith first) and no --flag KEY was given; \
                     nothing written"
                );
                return Ok(());
            }
            eprintln!(
                "{}: {} {}commits scanned, {} flag keys ({} referenced), {} rows written",
                report.repo,
                report.commits,
                if report.incremental { "new " } else { "" },
                report.keys,
                report.referenced,
                report.rows
            );
        }
        Ok(())
    }
}

const STARTER: &str = r#"
# Flag code references in local clones: for each flag key (the warehouse's
# flags, from [unleash] or [flagsmith], and `flags`), the commit that first
# referenced it and the one that removed its last reference.
# [flag_references]
# repos = ["../api", "../web"]     # local paths
# branch = "main"                  # default: the branch HEAD points to
# flags = ["new-checkout"]         # searched besides the warehouse's flags
# default_patterns = true          # "the-key" quoted, THE_KEY as a word
# patterns = [                     # {key} {KEY} {snake} {camel}
#   { glob = "*.py", pattern = "is_enabled\\(\"{key}\"\\)" },
# ]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_section_uncommented_is_a_valid_config() {
        let text: String = STARTER
            .lines()
            .skip(4)
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let config: Config = toml::from_str(&text).unwrap();
        let settings = config.flag_references.unwrap();
        assert_eq!(settings.repos.len(), 2);
        assert_eq!(settings.patterns[0].pattern, r#"is_enabled\("{key}"\)"#);
        settings.validate(&text).unwrap();
        let options = settings.options(Path::new("doralens.toml"), false).unwrap();
        assert_eq!(options.rules.len(), 3);
        assert_eq!(options.keys, ["new-checkout"]);
    }

    #[test]
    fn a_bad_pattern_names_its_line_and_index() {
        let text = "[flag_references]\nrepos = [\".\"]\npatterns = [\n  { glob = \"*.js\", \
                    pattern = \"on\\\\({key}\\\\)\" },\n  { glob = \"*.py\", pattern = \
                    \"is_enabled({key}\" },\n]\n";
        let config: Config = toml::from_str(text).unwrap();
        let e = config.flag_references.unwrap().validate(text).unwrap_err();
        assert!(
            e.starts_with("line 5: [flag_references] patterns[1]:"),
            "{e}"
        );
    }
}
