//! `serve`'s flags, and `token` and `audit`, which manage and read what
//! `serve` checks and records.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::shared::{BotsArg, EnvironmentArg, OutputArgs};

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the URL is printed on stdout)
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    /// Window of /metrics and of the SQL endpoint's metric views
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub window_days: i64,
    #[command(flatten)]
    pub env: EnvironmentArg,
    #[command(flatten)]
    pub bots: BotsArg,
    /// Most rows one SQL answer carries
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub sql_max_rows: usize,
    /// Longest a query of /api/v1/sql may run; it is cancelled then (400)
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub sql_timeout: f64,
    /// Longest one of serve's own answers may take (the metrics, the
    /// dashboard's lists, an explanation, /metrics); it is cancelled then
    /// (503)
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub answer_timeout: f64,
    /// Longest SQL text accepted, in bytes
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub sql_max_length: usize,
    /// Deepest expression nesting accepted (`1+1+…` with n terms is n deep)
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub sql_max_depth: usize,
    /// Largest string one repeat/lpad/rpad call may produce, in bytes
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub sql_max_value: usize,
    /// Memory one query may use, in MiB (it fails with a message past
    /// that). Default: half the machine's memory (or its cgroup's limit)
    /// over --max-queries, at least 1024
    #[arg(long, value_name = "MIB")]
    pub query_memory: Option<usize>,
    /// Largest request body, in bytes (413 past that)
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    pub max_body: usize,
    /// Longest date range the DORA API answers, in days
    #[arg(long, default_value_t = 3_700, value_name = "DAYS")]
    pub dora_max_days: i64,
    /// Connections open at once (more wait until one closes)
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Queries running at once (more queue in arrival order; default: one per core)
    #[arg(long, value_name = "N")]
    pub max_queries: Option<usize>,
    /// Longest a client may take to send a request's headers (idle
    /// connections are closed after it)
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,
    /// On an object-store warehouse (`--warehouse s3://…`): how often the
    /// commit log is checked for commits from other machines
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub refresh: f64,
    /// Serve without read tokens on an address other machines can reach
    /// (refused otherwise: create a token with `doralens token create`)
    #[arg(long)]
    pub allow_anonymous: bool,
    /// HTTPS: the certificate chain (PEM); with --tls-key. Or put a reverse
    /// proxy in front (README)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: the certificate's private key (PEM); with --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once: only a salted hash is kept).
    Create {
        /// viewer (dashboard, DORA and list APIs, /metrics), analyst (adds
        /// /api/v1/sql) or admin (adds pushes and the audit table)
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Only these teams' rows (comma-separated; default: every team)
        #[arg(long, value_delimiter = ',', value_name = "TEAMS")]
        teams: Vec<String>,
        /// Stop working after this long (e.g. 90d, 12h; default: never)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// What the token is for (shown in `token list` and the audit log)
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// List the tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Revoke a token by name or id; a running server refuses it at once.
    Revoke {
        /// The token's name or id
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Entries from this long ago (e.g. 7d, 24h) or since a date / RFC 3339 time
    #[arg(long, default_value = "7d", value_name = "DURATION|DATE")]
    pub since: String,
    #[command(flatten)]
    pub out: OutputArgs,
}
