//! The reference patterns of `ingest flag-references`: rules with key
//! placeholders, the key's spellings they stand for, their checks, and the
//! compiled matchers that count a blob's referencing lines.

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

use super::super::paths::glob_match;

/// Blobs larger than this (1 MiB) are not searched: generated files,
/// bundles and data, not code that reads a flag.
pub const MAX_BLOB_BYTES: usize = 1024 * 1024;
/// git's binary test reads this many bytes for a NUL.
const BINARY_PROBE: usize = 8000;

/// One reference pattern: a regular expression with key placeholders,
/// applied to the files whose path matches `glob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    #[serde(default = "any_file")]
    pub glob: String,
    pub pattern: String,
}

fn any_file() -> String {
    "*".into()
}

/// The default patterns: the key as a quoted string literal, and its upper
/// snake case as a whole word, in every file.
pub fn default_rules() -> Vec<PatternRule> {
    vec![
        PatternRule {
            glob: "*".into(),
            pattern: r#"["'`]{key}["'`]"#.into(),
        },
        PatternRule {
            glob: "*".into(),
            pattern: r"\b{KEY}\b".into(),
        },
    ]
}

/// The words of a key: split at anything not a letter or digit, and where
/// a lower-case letter or digit meets an upper-case one (`newCheckout`).
fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `new-checkout` → `NEW_CHECKOUT`.
pub fn upper_snake(key: &str) -> String {
    words(key)
        .iter()
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `new-checkout` → `new_checkout`.
pub fn lower_snake(key: &str) -> String {
    words(key)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `new-checkout` → `newCheckout`.
pub fn lower_camel(key: &str) -> String {
    words(key)
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.to_lowercase();
            if i == 0 {
                return w;
            }
            let mut chars = w.chars();
            match chars.next() {
                Some(f) => f.to_uppercase().chain(chars).collect(),
                None => w,
            }
        })
        .collect()
}

const PLACEHOLDERS: [&str; 4] = ["{key}", "{KEY}", "{snake}", "{camel}"];

/// The spelling each placeholder stands for.
fn spellings(key: &str) -> [(&'static str, String); 4] {
    [
        ("{key}", key.to_string()),
        ("{KEY}", upper_snake(key)),
        ("{snake}", lower_snake(key)),
        ("{camel}", lower_camel(key)),
    ]
}

/// The pattern for one key: placeholders replaced by the escaped spelling,
/// and the spellings it uses (for a quick test before the regex).
fn instantiate(pattern: &str, key: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(pattern.len() + key.len());
    let mut used = Vec::new();
    let spelled = spellings(key);
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some((ph, word)) = spelled.iter().find(|(ph, _)| rest.starts_with(ph)) {
            out.push_str(&regex::escape(word));
            if !used.contains(word) {
                used.push(word.clone());
            }
            rest = &rest[ph.len()..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    (out, used)
}

/// Checks a pattern as the configuration gives it: it names the key and is
/// a valid regular expression once a key is put in. The message says what
/// to fix.
pub fn check_rule(rule: &PatternRule) -> std::result::Result<(), String> {
    if !PLACEHOLDERS.iter().any(|p| rule.pattern.contains(p)) {
        return Err(format!(
            "pattern `{}` has no placeholder, so it cannot tell one flag from another; put \
             {{key}}, {{KEY}}, {{snake}} or {{camel}} where the flag key appears",
            rule.pattern
        ));
    }
    if rule.glob.trim().is_empty() {
        return Err("glob is empty; use \"*\" for every file".into());
    }
    let (text, _) = instantiate(&rule.pattern, "example-flag");
    Regex::new(&text).map(|_| ()).map_err(|e| {
        let e = e.to_string();
        let last = e.lines().last().unwrap_or("").trim().to_string();
        format!(
            "pattern `{}` is not a valid regular expression ({last}); escape literal \
             parentheses and dots with a backslash (`\\\\(` in TOML)",
            rule.pattern
        )
    })
}

/// Compiled patterns of every key.
pub struct Matchers {
    globs: Vec<String>,
    keys: Vec<KeyMatcher>,
}

struct KeyMatcher {
    /// Lower-cased spellings the key's patterns use: a blob without any of
    /// them has no reference (lower case, so `(?i)` patterns keep working).
    needles: Vec<String>,
    /// One per rule.
    regexes: Vec<Regex>,
}

impl Matchers {
    pub fn new(rules: &[PatternRule], keys: &[String]) -> std::result::Result<Self, String> {
        for rule in rules {
            check_rule(rule)?;
        }
        let mut out = Matchers {
            globs: rules.iter().map(|r| r.glob.clone()).collect(),
            keys: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let mut needles: Vec<String> = Vec::new();
            let mut regexes = Vec::with_capacity(rules.len());
            for rule in rules {
                let (text, used) = instantiate(&rule.pattern, key);
                for u in used {
                    let u = u.to_lowercase();
                    if !needles.contains(&u) {
                        needles.push(u);
                    }
                }
                regexes
                    .push(Regex::new(&text).map_err(|e| format!("pattern for key `{key}`: {e}"))?);
            }
            out.keys.push(KeyMatcher { needles, regexes });
        }
        Ok(out)
    }

    /// The rules whose glob matches the path (bit i: rule i).
    pub fn rules_for(&self, path: &str) -> u64 {
        self.globs
            .iter()
            .enumerate()
            .filter(|(_, g)| glob_match(g, path))
            .fold(0, |m, (i, _)| m | (1 << i))
    }

    /// Lines of `text` referencing each key under the rules in `mask`:
    /// (key index, lines) for the keys with at least one.
    pub fn count(&self, text: &[u8], mask: u64) -> Vec<(usize, i64)> {
        if mask == 0 || is_skipped(text) {
            return Vec::new();
        }
        let lower = String::from_utf8_lossy(text).to_lowercase();
        let mut out = Vec::new();
        for (k, key) in self.keys.iter().enumerate() {
            if !key.needles.iter().any(|n| lower.contains(n.as_str())) {
                continue;
            }
            let active: Vec<&Regex> = key
                .regexes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| r)
                .collect();
            let lines = text
                .split(|&b| b == b'\n')
                .filter(|line| active.iter().any(|r| r.is_match(line)))
                .count() as i64;
            if lines > 0 {
                out.push((k, lines));
            }
        }
        out
    }
}

/// Binary or too large to search.
fn is_skipped(blob: &[u8]) -> bool {
    blob.len() > MAX_BLOB_BYTES || blob[..blob.len().min(BINARY_PROBE)].contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(upper_snake("new-checkout"), "NEW_CHECKOUT");
        assert_eq!(upper_snake("newCheckout"), "NEW_CHECKOUT");
        assert_eq!(upper_snake("new.checkout_v2"), "NEW_CHECKOUT_V2");
        assert_eq!(lower_snake("New Checkout"), "new_checkout");
        assert_eq!(lower_camel("new-checkout"), "newCheckout");
        assert_eq!(lower_camel("NEW_CHECKOUT"), "newCheckout");
        assert_eq!(lower_camel("checkout"), "checkout");
    }

    fn matchers(keys: &[&str]) -> Matchers {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        Matchers::new(&default_rules(), &keys).unwrap()
    }

    #[test]
    fn defaults_match_literals_and_constants_by_line() {
        let m = matchers(&["new-checkout", "new-checkout-v2"]);
        let text = b"if (isEnabled(\"new-checkout\")) {}\n\
                     x = flags.NEW_CHECKOUT  # 'new-checkout' again on the line\n\
                     y = flags.NEW_CHECKOUT_V2\n\
                     z = `new-checkout-v2`\n\
                     new-checkout unquoted does not count\n";
        assert_eq!(m.count(text, 0b11), vec![(0, 2), (1, 2)]);
        // Only the literal rule: the constant lines no longer count.
        assert_eq!(m.count(text, 0b01), vec![(0, 2), (1, 1)]);
        assert_eq!(m.count(text, 0), vec![]);
    }

    #[test]
    fn binary_and_huge_blobs_count_zero() {
        let m = matchers(&["a-flag"]);
        assert_eq!(m.count(b"\"a-flag\"\0", 0b11), vec![]);
        let mut huge = b"\"a-flag\"\n".to_vec();
        huge.resize(MAX_BLOB_BYTES + 1, b' ');
        assert_eq!(m.count(&huge, 0b11), vec![]);
    }

    #[test]
    fn custom_patterns_are_checked_and_use_placeholders() {
        let rule = |p: &str| PatternRule {
            glob: "*.py".into(),
            pattern: p.into(),
        };
        assert!(check_rule(&rule(r#"is_enabled\("{key}"\)"#)).is_ok());
        let e = check_rule(&rule("is_enabled(")).unwrap_err();
        assert!(e.contains("placeholder"), "{e}");
        let e = check_rule(&rule("is_enabled({key}")).unwrap_err();
        assert!(e.contains("not a valid regular expression"), "{e}");
        let m = Matchers::new(&[rule(r"(?i)feature_{camel}\b")], &["new-checkout".into()]).unwrap();
        assert_eq!(m.rules_for("src/app.py"), 1);
        assert_eq!(m.rules_for("src/app.js"), 0);
        assert_eq!(
            m.count(b"FEATURE_NEWCHECKOUT\nfeature_newCheckout2\n", 1),
            vec![(0, 1)]
        );
        // A key with regex metacharacters is matched literally.
        let m = Matchers::new(&default_rules(), &["a.b".into()]).unwrap();
        assert_eq!(m.count(b"\"a.b\" \"axb\"\n\"axb\"\n", 0b11), vec![(0, 1)]);
    }
}
