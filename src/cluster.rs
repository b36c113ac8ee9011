//! The metric SQL on a DataFusion Ballista cluster (cargo feature
//! `cluster`, which implies `cloud`).
//!
//! - `doralens cluster scheduler` and `doralens cluster executor` start
//!   Ballista's scheduler and executor with doralens's functions
//!   ([`crate::metrics::functions`]: `bucket_start`, `sha_key`,
//!   `duration_summary`) in their registries and object stores from the
//!   environment, so no separate Ballista build is needed.
//! - `--cluster df://host:50050` on `metrics`, `sql`, `report`, `export`,
//!   `chart`, `benchmark` and `explain` plans the same `queries/*.sql` on the
//!   client and runs them on the cluster; the tables are the object-store
//!   warehouse's files, read by the executors directly.
//! - `--cluster standalone` starts an in-process scheduler and executor
//!   (tests, and trying it out).
//!
//! Attribution (a graph walk, not SQL) runs where the command runs, split by
//! repository over threads, or over machines with `doralens attribute
//! --shard I/N`; its parts are published in the warehouse's commit before
//! the cluster reads them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::SessionState;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{FunctionRegistry, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use url::Url;

use crate::error::{Error, Result};

/// Ballista's log lines on stderr, at the level `DORALENS_LOG` names
/// (error, warn, info, debug, trace); silent when it is unset.
pub fn init_log() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            eprintln!("{} {}: {}", record.level(), record.target(), record.args());
        }
        fn flush(&self) {}
    }
    let Some(level) = std::env::var("DORALENS_LOG")
        .ok()
        .and_then(|l| l.parse::<log::LevelFilter>().ok())
    else {
        return;
    };
    if log::set_boxed_logger(Box::new(Stderr)).is_ok() {
        log::set_max_level(level);
    }
}

/// Object stores by scheme and bucket, made on first use from the
/// environment's settings (`AWS_*`, `GOOGLE_*`, `AZURE_*`), as the
/// warehouse makes its own. `file://` is DataFusion's local store.
#[derive(Debug, Default)]
pub struct EnvObjectStores {
    local: DefaultObjectStoreRegistry,
    made: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl ObjectStoreRegistry for EnvObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return self.local.register_store(url, store);
        }
        let key = format!("{}://{}", url.scheme(), url.authority());
        self.made.lock().expect("not poisoned").insert(key, store)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return self.local.get_store(url);
        }
        let key = format!("{}://{}", url.scheme(), url.authority());
        let mut made = self.made.lock().expect("not poisoned");
        if let Some(store) = made.get(&key) {
            return Ok(store.clone());
        }
        let (store, _) = crate::store::remote::store_for(&key)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        made.insert(key, store.clone());
        Ok(store)
    }
}

/// A runtime whose object stores come from the environment.
pub fn runtime(temp_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let mut builder =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvObjectStores::default()));
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir);
    }
    Ok(Arc::new(builder.build()?))
}

/// DataFusion's and Ballista's functions, DataFusion's array functions
/// (Ballista's default registry leaves them out, and an executor cannot
/// decode a task that calls one: `array_to_string` in `flag_debt.sql`),
/// and doralens's.
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in datafusion::functions_nested::all_default_nested_functions() {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    let (scalars, aggregates) = crate::metrics::functions();
    for f in scalars {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    for f in aggregates {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}

/// A session state with doralens's functions and environment object
/// stores, on `config` (Ballista's settings included).
pub fn session_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    // Ballista 55's adaptive planner re-plans a join with an empty side
    // forever (stage after stage of a one-row LEFT JOIN against an empty
    // `rollbacks`): the static distributed planner runs every metric query.
    let config = config.upgrade_for_ballista().set_str(
        ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
        "false",
    );
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .build();
    register_functions(&mut state);
    state
}

/// Adds doralens's functions to a session (beside DataFusion's).
fn register_functions(registry: &mut dyn FunctionRegistry) {
    let (scalars, aggregates) = crate::metrics::functions();
    for f in scalars {
        let _ = registry.register_udf(Arc::new(f));
    }
    for f in aggregates {
        let _ = registry.register_udaf(Arc::new(f));
    }
}

fn cluster_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Warehouse {
        path: "<cluster>".into(),
        message: format!("{what}: {e}"),
    }
}

/// A session that runs its queries on the cluster `target` names:
/// `df://host:port`, or `standalone` (an in-process scheduler and executor).
pub async fn context(target: &str, state: SessionState) -> Result<SessionContext> {
    let ctx = if target == "standalone" {
        SessionContext::standalone_with_state(state)
            .await
            .map_err(|e| cluster_error("cannot start the standalone cluster", e))?
    } else if target.starts_with("df://") {
        SessionContext::remote_with_state(target, state)
            .await
            .map_err(|e| {
                Error::usage(
                    "--cluster",
                    format!("cannot reach the scheduler {target}: {e}"),
                )
            })?
    } else {
        return Err(Error::usage(
            "--cluster",
            format!("{target}: give the scheduler as df://host:port, or `standalone`"),
        ));
    };
    // Ballista's client state keeps only its own function list: ours again,
    // for planning here (the scheduler and executors have theirs).
    let mut state = ctx.state();
    register_functions(&mut state);
    Ok(SessionContext::new_with_state(state))
}

/// `doralens cluster scheduler`: serves until stopped.
pub async fn run_scheduler(bind: SocketAddr) -> Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let config_producer: ballista_core::ConfigProducer = Arc::new(SessionConfig::new_with_ballista);
    let session_builder: ballista_scheduler::scheduler_server::SessionBuilder =
        Arc::new(|config: SessionConfig| {
            Ok(session_state(
                config,
                runtime(None)
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
            ))
        });
    let cluster = BallistaCluster::new_memory(bind.to_string(), session_builder, config_producer);
    let config = SchedulerConfig::default()
        .with_hostname(bind.ip().to_string())
        .with_port(bind.port());
    eprintln!("doralens cluster scheduler listening on {bind} (df://{bind})");
    ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| cluster_error("the scheduler stopped", e))
}

/// What `doralens cluster executor` is told.
pub struct ExecutorOptions {
    pub scheduler: SocketAddr,
    pub bind: SocketAddr,
    /// The Arrow Flight port the executor serves shuffle data on.
    pub grpc_port: u16,
    pub concurrency: usize,
    pub work_dir: Option<String>,
}

/// `doralens cluster executor`: works for the scheduler until stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let work_dir = options.work_dir.clone();
    let runtime_producer: ballista_core::RuntimeProducer =
        Arc::new(move |_config: &SessionConfig| {
            runtime(work_dir.as_deref())
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
        });
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: Some(options.bind.ip().to_string()),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        scheduler_connect_timeout_seconds: 30,
        vcores: options.concurrency,
        work_dir: options.work_dir,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(function_registry())),
        override_runtime_producer: Some(runtime_producer),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "doralens cluster executor on {} working for df://{}",
        options.bind, options.scheduler
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| cluster_error("the executor stopped", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (stop 30): a task calling `array_to_string` was planned
    /// by the client but rejected by every executor process, whose
    /// registry lacked the array functions. Every function the planner
    /// knows must be one an executor can decode.
    #[test]
    fn executors_know_every_function_the_planner_knows() {
        let state = session_state(SessionConfig::new_with_ballista(), runtime(None).unwrap());
        let registry = function_registry();
        let missing = |known: Vec<String>, have: &dyn Fn(&str) -> bool| -> Vec<String> {
            known.into_iter().filter(|n| !have(n)).collect()
        };
        let scalars = missing(
            state
                .scalar_functions()
                .values()
                .map(|f| f.name().to_string())
                .collect(),
            &|n| registry.scalar_functions.contains_key(n),
        );
        let aggregates = missing(
            state
                .aggregate_functions()
                .values()
                .map(|f| f.name().to_string())
                .collect(),
            &|n| registry.aggregate_functions.contains_key(n),
        );
        let windows = missing(
            state
                .window_functions()
                .values()
                .map(|f| f.name().to_string())
                .collect(),
            &|n| registry.window_functions.contains_key(n),
        );
        assert_eq!(
            (scalars, aggregates, windows),
            (vec![], vec![], vec![]),
            "functions an executor could not decode"
        );
        assert!(registry.scalar_functions.contains_key("array_to_string"));
        assert!(registry.scalar_functions.contains_key("bucket_start"));
    }
}
