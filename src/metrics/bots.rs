//! Which reviewers are bots (docs/metrics.md section 8): `[bots] logins`
//! in doralens.toml or `--bot-logins`, globs where `*` stands for any
//! text, matched against the whole login, any case. The default, `*[bot]`,
//! is how GitHub spells an app's login (the forges store GraphQL's bare
//! bot logins in that spelling too, so one rule fits every source).

use crate::engine::queries::string_literal;

/// The default bot rule.
pub const DEFAULT_BOT_LOGINS: [&str; 1] = ["*[bot]"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRule {
    /// The globs, trimmed, none empty; no glob: no reviewer is a bot.
    pub globs: Vec<String>,
}

impl Default for BotRule {
    fn default() -> Self {
        BotRule::new(DEFAULT_BOT_LOGINS.iter().map(|s| s.to_string()))
    }
}

impl BotRule {
    pub fn new(globs: impl IntoIterator<Item = String>) -> Self {
        BotRule {
            globs: globs
                .into_iter()
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
        }
    }

    /// The anchored, case-insensitive regex of every glob (`None` without
    /// globs). Every character but `*` is escaped, so a login's `[`, `.`
    /// or `-` mean themselves.
    pub fn regex(&self) -> Option<String> {
        if self.globs.is_empty() {
            return None;
        }
        let alternatives: Vec<String> = self
            .globs
            .iter()
            .map(|g| {
                g.split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join(".*")
            })
            .collect();
        Some(format!("(?i)^(?:{})$", alternatives.join("|")))
    }

    /// Whether a login is a bot's by this rule.
    pub fn matches(&self, login: &str) -> bool {
        self.regex()
            .and_then(|r| regex::Regex::new(&r).ok())
            .is_some_and(|r| r.is_match(login))
    }

    /// The SQL parameters: `bots` (a boolean literal: is there a rule) and
    /// `bot_pattern` (a string literal: the regex, or one matching nothing
    /// that is never used).
    pub fn params(&self) -> [(&'static str, String); 2] {
        let regex = self.regex();
        [
            ("bots", regex.is_some().to_string()),
            ("bot_pattern", string_literal(&regex.unwrap_or_default())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_logins_in_any_case_and_nothing_else_is_special() {
        let rule = BotRule::default();
        assert!(rule.matches("dependabot[bot]"));
        assert!(rule.matches("Renovate[BOT]"));
        assert!(!rule.matches("dependabot"));
        assert!(!rule.matches("ada[bot]x"));
        let rule = BotRule::new(["ci-*".into(), "release.bot".into(), " ".into()]);
        assert_eq!(rule.globs.len(), 2);
        assert!(rule.matches("ci-runner"));
        assert!(rule.matches("release.bot"));
        assert!(!rule.matches("releasexbot"), "`.` is a dot");
        assert!(!rule.matches("my-ci-runner"), "anchored at the start");
        let none = BotRule::new(Vec::new());
        assert_eq!(none.regex(), None);
        assert!(!none.matches("dependabot[bot]"));
        assert_eq!(none.params()[0].1, "false");
    }
}
