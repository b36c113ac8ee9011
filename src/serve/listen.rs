//! Listening: binds the address, refuses an open port without read tokens,
//! bounds connections, and serves each connection's requests with
//! [`Server::handle`](super::Server) on a runtime the queries do not share.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use hyper::StatusCode;
use serde_json::json;
use tokio::sync::{Mutex, Semaphore};

use super::follow::Follow;
use super::{ServeOptions, Server, audit, auth, cache, json_reply, tls};
use crate::error::{Error, Result};
use crate::store::warehouse::Warehouse;

/// The query runtime, shut down without waiting when `run` ends (a runtime
/// may not be dropped the ordinary way inside another one).
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Serves until the process is stopped. Must be called inside a tokio
/// runtime; the queries get a runtime of their own.
pub async fn run(warehouse: Warehouse, options: ServeOptions) -> Result<()> {
    serve(warehouse, options, None).await
}

/// [`run`] on the working copy of an object-store warehouse, following it
/// (`follow.rs`).
pub async fn run_following(
    warehouse: Warehouse,
    options: ServeOptions,
    follow: Arc<Follow>,
) -> Result<()> {
    serve(warehouse, options, Some(follow)).await
}

async fn serve(
    warehouse: Warehouse,
    options: ServeOptions,
    follow: Option<Arc<Follow>>,
) -> Result<()> {
    let ingest_token = std::env::var("DORALENS_INGEST_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let access = auth::Access::new(warehouse.clone(), ingest_token)?;
    let protected = access.required()?;
    if !protected && !options.addr.ip().is_loopback() {
        if !options.allow_anonymous {
            return Err(Error::usage(
                "--addr",
                format!(
                    "{} is reachable from other machines and this warehouse has no read tokens, \
                     so anyone could read every team's numbers; create one first \
                     (doralens token create --role viewer --name NAME, then send it as \
                     `Authorization: Bearer <token>`), listen on 127.0.0.1, or pass \
                     --allow-anonymous to serve without tokens anyway",
                    options.addr
                ),
            ));
        }
        eprintln!(
            "warning: serving {} without tokens (--allow-anonymous): anyone who reaches it reads every team's numbers",
            options.addr
        );
    }
    let audit = audit::AuditLog::open(match &follow {
        Some(f) => &f.audit_root,
        None => warehouse.root(),
    })?;
    let tls = options.tls.as_ref().map(tls::acceptor).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::io("cannot listen on", options.addr.to_string(), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("cannot listen on", options.addr.to_string(), e))?;
    let query_runtime = QueryRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(crate::cores())
            .thread_name("doralens-query")
            // Deep (but admitted) expressions recurse in the planner; DataFusion's
            // recursion protection grows the stack on the heap, this is margin.
            .thread_stack_size(64 << 20)
            .enable_all()
            .build()
            .map_err(|e| Error::io("cannot start runtime", "<tokio>", e))?,
    ));
    // The address on stdout (a script or test reads it); the rest on stderr.
    println!("{scheme}://{local}");
    let served = match &follow {
        Some(f) => format!(
            "{} (version {}, checked every {} s)",
            f.url,
            f.version(),
            f.every.as_secs_f64()
        ),
        None => warehouse.root().display().to_string(),
    };
    eprintln!(
        "serving {served} at {scheme}://{local}: the dashboard at /, /metrics, /api/v1/... (Ctrl-C stops)"
    );
    let connections = Arc::new(Semaphore::new(options.limits.max_connections));
    let header_timeout = options.limits.header_timeout;
    if protected {
        eprintln!("read tokens exist: every data route needs `Authorization: Bearer <token>`");
    }
    eprintln!("audit log: {}", audit.path().display());
    if access.has_ingest_token() {
        eprintln!(
            "DORALENS_INGEST_TOKEN is set: POST /api/v1/deployments and /api/v1/incidents accept pushed rows"
        );
    }
    let server = Arc::new(Server {
        warehouse,
        follow: follow.clone(),
        access,
        audit,
        answers: cache::Answers::default(),
        writes: std::sync::Mutex::new(()),
        queries: Semaphore::new(options.limits.max_queries),
        options,
        cache: Mutex::new(None),
        query_runtime: query_runtime.0.as_ref().expect("built").handle().clone(),
    });
    if let Some(follow) = follow {
        tokio::spawn(follow.run(server.clone()));
    }
    let mut last_accept_error: Option<tokio::time::Instant> = None;
    loop {
        // Back-pressure: no accept while every connection slot is taken.
        let permit = connections
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors (or another transient error):
                // pause accepting, say so at most once a second, go on.
                let now = tokio::time::Instant::now();
                if last_accept_error.is_none_or(|t| now - t > Duration::from_secs(1)) {
                    eprintln!("warning: cannot accept a connection on {local}: {e}; retrying");
                    last_accept_error = Some(now);
                }
                drop(permit);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(server, stream, header_timeout).await,
                // The handshake is bounded like the headers that follow it.
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
                    {
                        connection(server, stream, header_timeout).await;
                    }
                }
            }
        });
    }
}

/// Serves one connection's requests (HTTP/1.1, plain or TLS).
async fn connection<S>(server: Arc<Server>, stream: S, header_timeout: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let server = server.clone();
        async move {
            let response = std::panic::AssertUnwindSafe(server.handle(request))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| {
                            json_reply(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                &json!({ "message": "internal error while answering this request (a bug in doralens; the server goes on)" }),
                            )
                        });
            Ok::<_, Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}
