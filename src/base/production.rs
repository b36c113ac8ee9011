//! Which environments are production (docs/metrics.md section 2): used by
//! the ingestors (to store `production`), the configuration and the engine.

use regex::Regex;

use crate::error::{Error, Result};

/// Default production environments: `production` or `prod`, any case.
pub const DEFAULT_PRODUCTION: &str = "production|prod";

/// Which environments are production: the user's regex, matched against the
/// whole environment name, case-insensitively.
#[derive(Debug, Clone)]
pub struct ProductionPattern {
    pub source: String,
    pub anchored: String,
    pub regex: Regex,
}

impl ProductionPattern {
    pub fn new(source: &str) -> Result<Self> {
        let anchored = format!("(?i)^(?:{source})$");
        let regex = Regex::new(&anchored).map_err(|e| {
            Error::usage(
                "--environment",
                format!("`{source}` is not a valid regular expression: {e}"),
            )
        })?;
        Ok(ProductionPattern {
            source: source.to_string(),
            anchored,
            regex,
        })
    }
}

impl Default for ProductionPattern {
    fn default() -> Self {
        ProductionPattern::new(DEFAULT_PRODUCTION).expect("default pattern is valid")
    }
}
