//! Read tokens (`doralens token create|list|revoke`): who may read what
//! from `serve`.
//!
//! A token is `dlt_<id>_<secret>`: the id (12 hex digits) finds its record,
//! the secret (64 hex digits, 256 random bits) proves it. It is printed once,
//! when created; the warehouse keeps only a salted SHA-256 of it, in
//! `<warehouse>/_state/tokens.json` (a state document, never a table a SQL
//! query can read). The hash is compared in constant time. A revoked token
//! keeps its record (so `token list` and the audit log can name it) and
//! never authenticates again.

use std::fmt;
use std::str::FromStr;

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::base::time::{Span, Timestamp};
use crate::error::{Error, Result};
use crate::store::warehouse::Warehouse;

/// The state document holding the token records.
pub const STATE_NAME: &str = "tokens";
const PREFIX: &str = "dlt_";

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The dashboard, the DORA and list APIs and `/metrics`.
    Viewer,
    /// Adds `/api/v1/sql`.
    Analyst,
    /// Adds the push endpoints and the audit table in SQL.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(Error::usage(
                "--role",
                format!("unknown role `{other}`; valid: viewer, analyst, admin"),
            )),
        }
    }
}

/// One token as stored: everything but the token itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The teams it may read; empty: every team.
    #[serde(default)]
    pub teams: Vec<String>,
    pub created_at: String,
    /// RFC 3339; none: it does not expire.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// Hex: 16 random bytes, then SHA-256(salt ‖ token).
    salt: String,
    hash: String,
}

impl TokenRecord {
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .is_some_and(|t| t <= now)
    }

    pub fn status(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expired(now) {
            "expired"
        } else {
            "active"
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenFile {
    pub tokens: Vec<TokenRecord>,
}

/// What checking a presented token found.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Valid(TokenRecord),
    /// A real token past its expiry (or revoked): 401 all the same.
    Expired(String),
    Revoked(String),
    Unknown,
}

impl TokenFile {
    /// Reads the warehouse's tokens (none when the document is missing).
    pub fn load(warehouse: &Warehouse) -> Result<TokenFile> {
        match warehouse.read_state(STATE_NAME)? {
            None => Ok(TokenFile::default()),
            Some(v) => serde_json::from_value(v).map_err(|e| Error::Warehouse {
                path: warehouse.root().join("_state/tokens.json"),
                message: format!("the token file is not what doralens writes: {e}"),
            }),
        }
    }

    /// Checks a presented token: its id finds the record, the salted hash
    /// is compared in constant time.
    pub fn check(&self, token: &str, now: Timestamp) -> Check {
        let Some((id, _)) = token
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Check::Unknown;
        };
        let Some(record) = self.tokens.iter().find(|r| r.id == id) else {
            return Check::Unknown;
        };
        let Some(salt) = from_hex(&record.salt) else {
            return Check::Unknown;
        };
        let given = hash(&salt, token);
        if !same_secret(to_hex(&given).as_bytes(), record.hash.as_bytes()) {
            return Check::Unknown;
        }
        if record.revoked_at.is_some() {
            Check::Revoked(record.name.clone())
        } else if record.expired(now) {
            Check::Expired(record.name.clone())
        } else {
            Check::Valid(record.clone())
        }
    }
}

/// Creates a token and stores its record; returns the token, to be shown
/// once. Names are unique among tokens that are not revoked.
pub fn create(
    warehouse: &Warehouse,
    name: &str,
    role: Role,
    teams: Vec<String>,
    expires: Option<Span>,
) -> Result<(TokenRecord, String)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Error::usage(
            "--name",
            "give the token a name of 1 to 100 printable characters (it names the token in `token list` and the audit log)",
        ));
    }
    if let Some(span) = expires
        && span <= Span::ZERO
    {
        return Err(Error::usage(
            "--expires",
            "must be a positive duration such as 90d",
        ));
    }
    let _lock = warehouse.lock()?;
    let mut file = TokenFile::load(warehouse)?;
    if file
        .tokens
        .iter()
        .any(|t| t.name == name && t.revoked_at.is_none())
    {
        return Err(Error::usage(
            "--name",
            format!("a token named `{name}` exists; revoke it first or choose another name"),
        ));
    }
    let rng = SystemRandom::new();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    let mut salt = [0u8; 16];
    for buf in [&mut id[..], &mut secret[..], &mut salt[..]] {
        rng.fill(buf).map_err(|_| {
            Error::io(
                "cannot read random bytes for",
                "<token>",
                std::io::Error::other("the system random source failed"),
            )
        })?;
    }
    let token = format!("{PREFIX}{}_{}", to_hex(&id), to_hex(&secret));
    let now = Timestamp::now();
    let record = TokenRecord {
        id: to_hex(&id),
        name: name.to_string(),
        role,
        teams: teams
            .into_iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        created_at: now.to_string(),
        expires_at: expires.map(|s| (now + s).to_string()),
        revoked_at: None,
        salt: to_hex(&salt),
        hash: to_hex(&hash(&salt, &token)),
    };
    file.tokens.push(record.clone());
    save(warehouse, &file)?;
    Ok((record, token))
}

/// Revokes the tokens with this name or id; returns how many.
pub fn revoke(warehouse: &Warehouse, name_or_id: &str) -> Result<usize> {
    let _lock = warehouse.lock()?;
    let mut file = TokenFile::load(warehouse)?;
    let now = Timestamp::now().to_string();
    let mut n = 0;
    for t in file
        .tokens
        .iter_mut()
        .filter(|t| t.revoked_at.is_none() && (t.name == name_or_id || t.id == name_or_id))
    {
        t.revoked_at = Some(now.clone());
        n += 1;
    }
    if n == 0 {
        let names: Vec<&str> = file
            .tokens
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|t| t.name.as_str())
            .collect();
        return Err(Error::usage(
            "<name>",
            format!(
                "no active token named `{name_or_id}`; active: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    save(warehouse, &file)?;
    Ok(n)
}

fn save(warehouse: &Warehouse, file: &TokenFile) -> Result<()> {
    warehouse.write_state(
        STATE_NAME,
        &serde_json::to_value(file).expect("token records serialize"),
    )?;
    // Only the owner reads the hashes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = warehouse.root().join("_state/tokens.json");
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

fn hash(salt: &[u8], token: &str) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(token.as_bytes());
    ctx.finish().as_ref().to_vec()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares two secrets without stopping at the first difference.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_checks_and_expiry_and_revocation_count() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open(dir.path().join("w")).unwrap();
        let (record, token) = create(&wh, "grafana", Role::Viewer, vec!["a".into()], None).unwrap();
        assert!(token.starts_with("dlt_"));
        let file = TokenFile::load(&wh).unwrap();
        let stored = std::fs::read_to_string(wh.root().join("_state/tokens.json")).unwrap();
        assert!(!stored.contains(&token[16..]), "the secret is never stored");
        let now = Timestamp::now();
        assert_eq!(file.check(&token, now), Check::Valid(record.clone()));
        let mut wrong = token.clone();
        wrong.pop();
        wrong.push(if token.ends_with('0') { '1' } else { '0' });
        assert_eq!(file.check(&wrong, now), Check::Unknown);
        assert_eq!(file.check("dlt_", now), Check::Unknown);
        assert_eq!(file.check("", now), Check::Unknown);
        // Same name twice refused; revoke by name, then it is refused.
        assert!(create(&wh, "grafana", Role::Admin, vec![], None).is_err());
        assert_eq!(revoke(&wh, "grafana").unwrap(), 1);
        let file = TokenFile::load(&wh).unwrap();
        assert_eq!(file.check(&token, now), Check::Revoked("grafana".into()));
        // Expiry.
        let (_, short) = create(
            &wh,
            "short",
            Role::Admin,
            vec![],
            Some(Span::from_micros(60_000_000)),
        )
        .unwrap();
        let file = TokenFile::load(&wh).unwrap();
        assert!(matches!(file.check(&short, now), Check::Valid(_)));
        assert_eq!(
            file.check(&short, now + Span::from_micros(61_000_000)),
            Check::Expired("short".into())
        );
    }
}
