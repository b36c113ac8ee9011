//! Who may read what from `serve` ([`Access`]).
//!
//! Without a token in the warehouse (`doralens token create`), `serve` is
//! open as before (and listens on loopback only unless `--allow-anonymous`).
//! Once any token exists, every route but the dashboard's static files
//! (which hold no data) needs `Authorization: Bearer <token>`:
//!
//! | route | needs |
//! |---|---|
//! | `/`, `/assets/*` (the page) | nothing |
//! | `/metrics`, `/api/v1/dora/metrics`, `/api/v1/metrics`, `/api/v1/deployments` (GET), `/api/v1/incidents` (GET), `/api/v1/changes/slowest`, `/api/v1/explain/deployment` | viewer |
//! | `/api/v1/sql` | analyst with no team limit |
//! | `POST /api/v1/deployments`, `POST /api/v1/incidents` | admin, or `DORALENS_INGEST_TOKEN` |
//!
//! A missing, unknown, expired or revoked token is 401; a valid token
//! without the role is 403. The token file is checked for changes on every
//! request (one `stat`), so a revoked token stops working at once on a
//! running server. Tokens never appear in answers or logs: a principal
//! carries the token's name.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap};

use super::tokens::{Check, Role, TokenFile, same_secret};
use crate::base::time::Timestamp;
use crate::error::Result;
use crate::store::warehouse::Warehouse;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The dashboard's page and assets: no data.
    Nothing,
    Role(Role),
    /// A push: an admin token or the ingest token.
    Push,
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The token's name ("-" without one, "ingest" for the ingest token).
    pub name: String,
    /// `None`: no token (an open server, or the page's static files).
    pub role: Option<Role>,
    /// The teams it may read; empty: all.
    pub teams: Vec<String>,
}

impl Principal {
    fn anonymous() -> Principal {
        Principal {
            name: "-".into(),
            role: None,
            teams: Vec::new(),
        }
    }

    /// The role as the audit log shows it.
    pub fn role_name(&self) -> &str {
        match (self.role, self.name.as_str()) {
            (Some(r), _) => r.name(),
            (None, "ingest") => "ingest",
            (None, _) => "anonymous",
        }
    }
}

/// A refusal: 401 or 403 with a message that names no token.
#[derive(Debug, Clone)]
pub struct Denied {
    pub status: StatusCode,
    pub message: String,
    /// Who was refused (a valid token without the role), for the audit log.
    pub principal: Principal,
}

/// The token file as last read, and how to tell it changed.
struct Loaded {
    signature: Option<(SystemTime, u64)>,
    file: TokenFile,
}

pub struct Access {
    warehouse: Warehouse,
    ingest_token: Option<String>,
    loaded: Mutex<Loaded>,
}

impl Access {
    pub fn new(warehouse: Warehouse, ingest_token: Option<String>) -> Result<Access> {
        let access = Access {
            warehouse,
            ingest_token,
            loaded: Mutex::new(Loaded {
                signature: None,
                file: TokenFile::default(),
            }),
        };
        access.tokens()?;
        Ok(access)
    }

    fn path(&self) -> PathBuf {
        self.warehouse
            .root()
            .join("_state")
            .join(format!("{}.json", super::tokens::STATE_NAME))
    }

    /// The token file, read again when its modification time or size
    /// changed (a `token revoke` rewrites it by rename).
    fn tokens(&self) -> Result<TokenFile> {
        let signature = std::fs::metadata(self.path())
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.signature != signature || signature.is_none() {
            loaded.file = TokenFile::load(&self.warehouse)?;
            loaded.signature = signature;
        }
        Ok(loaded.file.clone())
    }

    /// True once any token exists: every data route needs one.
    pub fn required(&self) -> Result<bool> {
        Ok(!self.tokens()?.tokens.is_empty())
    }

    pub fn has_ingest_token(&self) -> bool {
        self.ingest_token.is_some()
    }

    /// Who sent these headers and whether they may have `need`.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        need: Need,
    ) -> std::result::Result<Principal, Denied> {
        let tokens = self.tokens().map_err(|e| Denied {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("cannot read the token file: {e}"),
            principal: Principal::anonymous(),
        })?;
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let unauthorized = |message: &str| Denied {
            status: StatusCode::UNAUTHORIZED,
            message: message.to_string(),
            principal: Principal::anonymous(),
        };
        if need == Need::Nothing {
            return Ok(Principal::anonymous());
        }
        let is_ingest = |g: &str| {
            self.ingest_token
                .as_deref()
                .is_some_and(|t| same_secret(g.as_bytes(), t.as_bytes()))
        };
        if need == Need::Push
            && let Some(g) = given
            && is_ingest(g)
        {
            return Ok(Principal {
                name: "ingest".into(),
                role: None,
                teams: Vec::new(),
            });
        }
        if tokens.tokens.is_empty() {
            // No read tokens: the open server of before (pushes still need
            // the ingest token).
            return match need {
                Need::Push => Err(unauthorized(
                    "send the ingest token as `Authorization: Bearer <DORALENS_INGEST_TOKEN>`",
                )),
                _ => Ok(Principal::anonymous()),
            };
        }
        let Some(given) = given else {
            return Err(unauthorized(
                "this server needs a token: send `Authorization: Bearer <token>` \
                 (an admin creates one with `doralens token create`)",
            ));
        };
        if is_ingest(given) {
            return Err(Denied {
                status: StatusCode::FORBIDDEN,
                message: "the ingest token may only push deployments and incidents".into(),
                principal: Principal {
                    name: "ingest".into(),
                    role: None,
                    teams: Vec::new(),
                },
            });
        }
        let record = match tokens.check(given, Timestamp::now()) {
            Check::Valid(r) => r,
            Check::Expired(_) => {
                return Err(unauthorized(
                    "this token has expired; ask an admin for a new one (doralens token create)",
                ));
            }
            Check::Revoked(_) | Check::Unknown => {
                return Err(unauthorized("this token is not valid (unknown or revoked)"));
            }
        };
        let principal = Principal {
            name: record.name.clone(),
            role: Some(record.role),
            teams: record.teams.clone(),
        };
        let forbidden = |message: String| Denied {
            status: StatusCode::FORBIDDEN,
            message,
            principal: principal.clone(),
        };
        match need {
            Need::Nothing => Ok(principal),
            Need::Push if record.role < Role::Admin => Err(forbidden(format!(
                "pushing rows needs an admin token; `{}` is a {} token",
                record.name, record.role
            ))),
            Need::Push => Ok(principal),
            Need::Role(role) if record.role < role => Err(forbidden(format!(
                "this route needs a{} {role} token; `{}` is a {} token",
                if role == Role::Admin || role == Role::Analyst {
                    "n"
                } else {
                    ""
                },
                record.name,
                record.role
            ))),
            Need::Role(Role::Analyst | Role::Admin) if !record.teams.is_empty() => {
                Err(forbidden(format!(
                    "SQL reads every team's rows, and `{}` is limited to {}; \
                     use a token without --teams for /api/v1/sql",
                    record.name,
                    record.teams.join(", ")
                )))
            }
            Need::Role(_) => Ok(principal),
        }
    }
}
