//! The library's one error type. Every variant says what went wrong, where,
//! and (for input problems) what the expected form is, so the binary can show
//! it as-is with its causes.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value or header in an input file is wrong. `line` is 1-based; the
    /// header of a CSV file is line 1.
    #[error("{}:{line}: column `{column}`: {message}", file.display())]
    Input {
        file: PathBuf,
        line: usize,
        column: String,
        message: String,
    },

    /// A whole input file is unusable (unknown extension, empty, unreadable).
    #[error("{}: {message}", file.display())]
    InputFile { file: PathBuf, message: String },

    /// A command-line option has a bad value.
    #[error("option {option}: {message}")]
    Usage { option: String, message: String },

    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A git repository cannot be read as asked.
    #[error("{}: {message}", path.display())]
    Git { path: PathBuf, message: String },

    /// A forge (GitHub, GitLab) refused or failed a request. `resume` says
    /// what was kept and how to continue.
    #[error("{forge} {repo}: {message}")]
    Forge {
        forge: &'static str,
        repo: String,
        message: String,
    },

    /// The forge rejected the token (or there is none where one is needed).
    #[error("{forge}: {message}")]
    Token {
        forge: &'static str,
        message: String,
    },

    /// doralens.toml is missing or invalid.
    #[error("{}: {message}", file.display())]
    Config { file: PathBuf, message: String },

    /// The warehouse on disk is not in a state doralens can read.
    #[error("warehouse {}: {message}", path.display())]
    Warehouse { path: PathBuf, message: String },

    /// A query failed. `help` lists the tables and their columns so the user
    /// can fix the query without another command.
    #[error("query failed: {message}{help}")]
    Query { message: String, help: String },

    /// A query shipped with doralens (`queries/`) failed: a bug of ours or
    /// a fault of the environment (memory, files), never the user's input.
    #[error("queries/{file}: {message}")]
    BundledQuery { file: &'static str, message: String },

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),

    /// A fault of ours that should not happen (exit 1), said plainly.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A DataFusion error that the user's query text caused (a planning or
    /// SQL error, a bad cast), as opposed to the environment (a file that
    /// cannot be read, memory, a cancelled query).
    pub fn is_query_fault(e: &datafusion::error::DataFusionError) -> bool {
        use datafusion::error::DataFusionError as D;
        !matches!(
            e.find_root(),
            D::IoError(_)
                | D::ObjectStore(_)
                | D::ParquetError(_)
                | D::ResourcesExhausted(_)
                | D::External(_)
                | D::Internal(_)
        )
    }

    pub fn usage(option: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Usage {
            option: option.into(),
            message: message.into(),
        }
    }

    /// True for errors the user fixes by changing their input or options
    /// (exit code 2), as opposed to environment or internal failures (1).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Input { .. }
                | Error::InputFile { .. }
                | Error::Usage { .. }
                | Error::Query { .. }
                | Error::Git { .. }
                | Error::Token { .. }
                | Error::Config { .. }
        )
    }
}
