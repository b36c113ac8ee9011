//! Batch size settings (docs/metrics.md section 9.2): which files do not
//! count towards a change's lines, and the size over which a change is
//! large. The exclusions are globs, turned here into one regular
//! expression that `queries/batch_size.sql` matches against
//! `change_files.path` at query time, so changing them needs no re-sync.

use crate::error::{Error, Result};

/// Lock files, vendored and generated code, build output and snapshots:
/// lines nobody reviews by reading them (docs/metrics.md section 9.2).
pub const DEFAULT_EXCLUDE: [&str; 16] = [
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "go.sum",
    "poetry.lock",
    "Gemfile.lock",
    "composer.lock",
    "*.lock",
    "*.snap",
    "*.min.js",
    "vendor/",
    "node_modules/",
    "generated/",
    "dist/",
];

/// A change is large over this many lines (added + deleted, exclusions
/// left out).
pub const DEFAULT_LARGE_CHANGE_LINES: i64 = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    /// Globs of paths whose lines do not count.
    pub exclude: Vec<String>,
    /// A change with more lines than this is large.
    pub large_change_lines: i64,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            exclude: DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect(),
            large_change_lines: DEFAULT_LARGE_CHANGE_LINES,
        }
    }
}

impl BatchOptions {
    pub fn validate(&self) -> Result<()> {
        if self.large_change_lines < 0 {
            return Err(Error::usage(
                "--large-change-lines",
                "must be a number of lines, 0 or more",
            ));
        }
        for glob in &self.exclude {
            if glob.trim().is_empty() {
                return Err(Error::usage(
                    "--batch-exclude",
                    "an empty pattern; remove it or write a glob such as `*.lock` or `vendor/`",
                ));
            }
        }
        Ok(())
    }

    /// One regular expression matching every excluded path; None when
    /// nothing is excluded.
    pub fn exclude_regex(&self) -> Option<String> {
        let parts: Vec<String> = self
            .exclude
            .iter()
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
            .map(glob_regex)
            .collect();
        (!parts.is_empty()).then(|| format!("^(?:{})", parts.join("|")))
    }
}

/// One glob as a regular expression over a path (no leading `/`):
/// - ending in `/`: a directory of that name at any depth (`vendor/`
///   matches `vendor/a.go` and `web/vendor/a.js`);
/// - containing `/` otherwise: the whole path (`docs/*.svg`, `a/**/b.rs`);
/// - else: the file name, in any directory (`*.snap`, `Cargo.lock`).
///
/// `*` is any run of characters but `/`, `**` any run at all, `?` one
/// character but `/`; everything else is literal.
pub fn glob_regex(glob: &str) -> String {
    let glob = glob.trim().trim_start_matches("./").trim_start_matches('/');
    if let Some(dir) = glob.strip_suffix('/') {
        format!("(?:.*/)?{}/.*", translate(dir))
    } else if glob.contains('/') {
        format!("{}$", translate(glob))
    } else {
        format!("(?:.*/)?{}$", translate(glob))
    }
}

fn translate(glob: &str) -> String {
    let mut out = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` also matches no directory at all.
                if chars.peek() == Some(&'/') {
                    chars.next();
                    out.push_str("(?:.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(opts: &BatchOptions, path: &str) -> bool {
        let re = regex::Regex::new(&opts.exclude_regex().unwrap()).unwrap();
        re.is_match(path)
    }

    #[test]
    fn the_default_list_excludes_lock_vendored_and_generated_files() {
        let o = BatchOptions::default();
        for path in [
            "Cargo.lock",
            "crates/core/Cargo.lock",
            "web/package-lock.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "go.sum",
            "src/__snapshots__/ui.test.ts.snap",
            "flake.lock",
            "vendor/github.com/x/y.go",
            "web/vendor/jquery.js",
            "api/generated/client.ts",
            "dist/app.js",
            "assets/app.min.js",
        ] {
            assert!(excluded(&o, path), "{path} should be excluded");
        }
        for path in [
            "src/main.rs",
            "Cargo.toml",
            "go.mod",
            "docs/vendoring.md",
            "src/generated_ids.rs",
            "lockfile.rs",
            "package.json",
            "distance.go",
        ] {
            assert!(!excluded(&o, path), "{path} should count");
        }
    }

    #[test]
    fn globs_with_a_slash_match_the_whole_path() {
        let o = BatchOptions {
            exclude: vec!["docs/*.svg".into(), "proto/**/gen.go".into()],
            large_change_lines: 400,
        };
        assert!(excluded(&o, "docs/a.svg"));
        assert!(!excluded(&o, "web/docs/a.svg"));
        assert!(!excluded(&o, "docs/img/a.svg"));
        assert!(excluded(&o, "proto/gen.go"));
        assert!(excluded(&o, "proto/a/b/gen.go"));
    }

    #[test]
    fn regex_characters_in_globs_are_literal_and_empty_lists_exclude_nothing() {
        let o = BatchOptions {
            exclude: vec!["a+b(1).txt".into()],
            large_change_lines: 400,
        };
        assert!(excluded(&o, "x/a+b(1).txt"));
        assert!(!excluded(&o, "aab1.txt"));
        let none = BatchOptions {
            exclude: vec![],
            large_change_lines: 400,
        };
        assert_eq!(none.exclude_regex(), None);
        assert!(
            BatchOptions {
                large_change_lines: -1,
                ..BatchOptions::default()
            }
            .validate()
            .is_err()
        );
    }
}
