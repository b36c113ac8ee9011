//! `doralens token create|list|revoke` and `doralens audit`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::base::time::{Timestamp, parse_instant, parse_span};
use crate::cli::args::{AuditArgs, TokenCommand};
use crate::cli::output::emit;
use crate::error::Result;
use crate::serve::{audit, tokens};

use super::Context;

pub fn run(ctx: &Context, command: TokenCommand) -> Result<()> {
    let warehouse = ctx.open()?;
    match command {
        TokenCommand::Create {
            role,
            teams,
            expires,
            name,
        } => {
            let role: tokens::Role = role.parse()?;
            let expires = expires.map(|e| parse_span("--expires", &e)).transpose()?;
            let (record, token) = tokens::create(&warehouse, &name, role, teams, expires)?;
            // The token on stdout, once; what it is on stderr.
            println!("{token}");
            eprintln!(
                "created {} token `{}`{}{}; it is shown only now: keep it in a secret store",
                record.role,
                record.name,
                if record.teams.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", record.teams.join(", "))
                },
                record
                    .expires_at
                    .as_deref()
                    .map(|t| format!(", expiring {t}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        TokenCommand::List { out } => {
            let file = tokens::TokenFile::load(&warehouse)?;
            let now = Timestamp::now();
            let column = |f: &dyn Fn(&tokens::TokenRecord) -> Option<String>| -> ArrayRef {
                Arc::new(StringArray::from(
                    file.tokens.iter().map(f).collect::<Vec<Option<String>>>(),
                ))
            };
            let names = [
                "name",
                "id",
                "role",
                "teams",
                "status",
                "created_at",
                "expires_at",
                "revoked_at",
            ];
            let schema = Arc::new(Schema::new(
                names
                    .iter()
                    .map(|n| Field::new(*n, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    column(&|t| Some(t.name.clone())),
                    column(&|t| Some(t.id.clone())),
                    column(&|t| Some(t.role.to_string())),
                    column(&|t| Some(t.teams.join(","))),
                    column(&|t| Some(t.status(now).to_string())),
                    column(&|t| Some(t.created_at.clone())),
                    column(&|t| t.expires_at.clone()),
                    column(&|t| t.revoked_at.clone()),
                ],
            )?;
            emit(out.format, out.output.as_deref(), &schema, &[batch])
        }
        TokenCommand::Revoke { name } => {
            let n = tokens::revoke(&warehouse, &name)?;
            eprintln!("revoked {n} token(s) named `{name}`; a running server refuses them at once");
            Ok(())
        }
    }
}

pub fn audit(ctx: &Context, args: &AuditArgs) -> Result<()> {
    let warehouse = ctx.existing()?;
    let since = match parse_span("--since", &args.since) {
        Ok(span) => Timestamp::now() - span,
        Err(_) => parse_instant("--since", &args.since)?,
    };
    // A server following an object store keeps its log beside the
    // location's cache (`serve::follow`), not in a working copy.
    #[cfg(feature = "cloud")]
    let root = match &ctx.remote {
        Some(info) => info.remote.cache_dir().to_path_buf(),
        None => warehouse.root().to_path_buf(),
    };
    #[cfg(not(feature = "cloud"))]
    let root = warehouse.root().to_path_buf();
    let batches = audit::read(&root, Some(since))?;
    emit(
        args.out.format,
        args.out.output.as_deref(),
        &audit::schema(),
        &batches,
    )
}
