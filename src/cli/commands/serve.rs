//! `doralens serve`: the options resolved and checked, then `crate::serve`.

use crate::cli::args::ServeArgs;
use crate::error::{Error, Result};

use super::Context;

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<()> {
    let limits = limits(&args)?;
    let refresh = checked_seconds("--refresh", args.refresh, 86_400.0)?;
    let warehouse = ctx.existing()?;
    let options = crate::serve::ServeOptions {
        addr: args.addr,
        window_days: args.window_days,
        production: args.env.pattern()?,
        bots: args.bots.rule()?,
        limits,
        allow_anonymous: args.allow_anonymous,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(crate::serve::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
    };
    #[cfg(feature = "cloud")]
    if let Some(info) = &ctx.remote {
        let follow =
            crate::serve::follow::Follow::new(info.remote.clone(), info.checkout.clone(), refresh);
        return crate::serve::run_following(warehouse, options, std::sync::Arc::new(follow)).await;
    }
    let _ = refresh; // a directory is read as it is, always
    crate::serve::run(warehouse, options).await
}

/// `serve`'s bounds, each checked: a value that cannot be meant (zero,
/// infinite, not a number) is refused with exit 2.
fn limits(args: &ServeArgs) -> Result<crate::serve::Limits> {
    let window = "--window-days/--sql-max-rows/--sql-max-length/--sql-max-depth/--sql-max-value/\
                  --query-memory/--max-body/--dora-max-days/--max-connections/--max-queries";
    let counts = [
        args.window_days.max(0) as usize,
        args.sql_max_rows,
        args.sql_max_length,
        args.sql_max_depth,
        args.sql_max_value,
        args.query_memory.unwrap_or(1),
        args.max_body,
        args.dora_max_days.max(0) as usize,
        args.max_connections,
        args.max_queries.unwrap_or(1),
    ];
    if counts.contains(&0) || args.window_days > 36_600 || args.dora_max_days > 36_600 {
        return Err(Error::usage(
            window,
            "must all be positive (and day counts at most 36600)",
        ));
    }
    let timeout = checked_seconds("--sql-timeout", args.sql_timeout, 86_400.0)?;
    let answer_timeout = checked_seconds("--answer-timeout", args.answer_timeout, 86_400.0)?;
    let max_queries = args.max_queries.unwrap_or_else(crate::cores);
    let query_memory = match args.query_memory {
        Some(mib) => mib.saturating_mul(1 << 20),
        None => {
            let bytes = crate::serve::default_query_memory(max_queries);
            eprintln!(
                "query memory: {} MiB per query, {max_queries} at once (half this machine's \
                 memory; --query-memory sets it)",
                bytes >> 20
            );
            bytes
        }
    };
    let header_timeout = checked_seconds("--header-timeout", args.header_timeout, 3_600.0)?;
    Ok(crate::serve::Limits {
        sql: crate::serve::SqlLimits {
            max_bytes: args.sql_max_length,
            max_depth: args.sql_max_depth,
            max_value_bytes: args.sql_max_value,
        },
        sql_max_rows: args.sql_max_rows,
        sql_timeout: timeout,
        answer_timeout,
        query_memory,
        max_body: args.max_body,
        dora_max_days: args.dora_max_days,
        max_connections: args.max_connections,
        max_queries,
        header_timeout,
    })
}

/// A number of seconds that is finite, positive and at most `max`.
fn checked_seconds(option: &str, value: f64, max: f64) -> Result<std::time::Duration> {
    if !(value.is_finite() && value > 0.0 && value <= max) {
        return Err(Error::usage(
            option,
            format!("`{value}` is not a number of seconds between 0 and {max}"),
        ));
    }
    Ok(std::time::Duration::from_secs_f64(value))
}
