//! The query layer: a DataFusion `SessionContext` over the warehouse.
//!
//! Registered tables: the six canonical tables, and the derived
//! `deployment_commits` / `deployment_warnings` produced by attribution
//! (materialised in the warehouse and recomputed only when `commits`,
//! `deployments` or the production pattern changed).

pub mod attribution;
mod commit_graph;
pub mod deadline;
mod materialised;
pub mod queries;
mod shared_view;

pub use materialised::{attribute_shard, attribution_shard_set, ensure_attribution, repo_shard};

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::config::SessionConfig;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::store::schema::Table;
use crate::store::warehouse::{Derived, ReadGuard, Snapshot, Warehouse};

use crate::base::production::ProductionPattern;

/// A query session over one pinned snapshot of the warehouse: while an
/// `Engine` (or a fork of it) lives, every file it reads stays on disk.
pub struct Engine {
    pub ctx: SessionContext,
    /// The queries run in this process (not on a cluster): views may be
    /// kept as in-memory tables ([`Engine::keep_in_memory`]).
    pub in_process: bool,
    /// Production deployments whose sha is not among the repo's commits.
    pub unknown_sha_deployments: usize,
    /// The table versions this engine reads.
    pub snapshot: Snapshot,
    tables: Vec<(String, Arc<dyn TableProvider>)>,
    /// The rows of shared views, kept across this engine's forks.
    shared_rows: Arc<shared_view::SharedRows>,
    _derived: Derived,
    _guard: Arc<ReadGuard>,
}

/// Prints phase durations to stderr when `DORALENS_TIMINGS` is set (for
/// profiling the engine; silent otherwise).
pub struct PhaseTimer {
    name: &'static str,
    enabled: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl PhaseTimer {
    pub fn new(name: &'static str) -> Self {
        PhaseTimer {
            name,
            enabled: std::env::var_os("DORALENS_TIMINGS").is_some(),
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    pub fn phase(&self, what: &str) {
        if self.enabled {
            let now = std::time::Instant::now();
            eprintln!(
                "[{}] {what}: {:.3}s",
                self.name,
                (now - self.last.get()).as_secs_f64()
            );
            self.last.set(now);
        }
    }
}

/// `sha_key(sha VARCHAR) -> FIXED_SIZE_BINARY(16)`: the key
/// `deployment_commits.sha_key` holds (store::keys::sha_key), so SQL joins
/// the large table on 16 bytes instead of a 40-character string.
pub fn sha_key_udf() -> datafusion::logical_expr::ScalarUDF {
    use crate::store::keys::{SHA_KEY_BYTES, sha_key, sha_key_bytes};
    use datafusion::arrow::array::{Array, AsArray, FixedSizeBinaryBuilder};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    create_udf(
        "sha_key",
        vec![DataType::Utf8],
        DataType::FixedSizeBinary(SHA_KEY_BYTES),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let scalar = matches!(args[0], ColumnarValue::Scalar(_));
            let input = args[0].to_array(1)?;
            let strings = input.as_string::<i32>();
            let mut keys = FixedSizeBinaryBuilder::with_capacity(strings.len(), SHA_KEY_BYTES);
            for sha in strings.iter() {
                match sha {
                    Some(sha) => keys.append_value(sha_key_bytes(sha_key(sha)))?,
                    None => keys.append_null(),
                }
            }
            let keys: datafusion::arrow::array::ArrayRef = Arc::new(keys.finish());
            Ok(if scalar {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&keys, 0)?)
            } else {
                ColumnarValue::Array(keys)
            })
        }),
    )
}

/// Where an engine's queries run when not here: a session factory (a
/// Ballista cluster's) and the URL each warehouse file is read at there.
pub struct Placement<'a> {
    pub context: SessionFactory<'a>,
    pub url_of: FileUrl<'a>,
    /// The URL of an empty Parquet file with a table's schema, for a table
    /// with no rows (an in-memory table cannot be sent to a cluster).
    pub empty_file: TableUrl<'a>,
}

/// Makes the session a [`Placement`]'s queries run in.
pub type SessionFactory<'a> = Box<
    dyn FnOnce(
            SessionConfig,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<SessionContext>> + Send + 'a>,
        > + Send
        + 'a,
>;
/// The URL a warehouse file is read at (None: not published there).
pub type FileUrl<'a> = Box<dyn Fn(&std::path::Path) -> Option<String> + Send + Sync + 'a>;
/// A URL for a table, by name.
pub type TableUrl<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

impl Engine {
    pub async fn open(warehouse: &Warehouse, production: &ProductionPattern) -> Result<Engine> {
        Engine::open_with(warehouse, production, None).await
    }

    /// [`Engine::open`] whose queries run in `placement` (a Ballista
    /// cluster, `cluster` feature), reading each file at the URL `url_of`
    /// gives for its path in the warehouse; `None`: here, from the paths.
    pub async fn open_with(
        warehouse: &Warehouse,
        production: &ProductionPattern,
        placement: Option<Placement<'_>>,
    ) -> Result<Engine> {
        // The readers lock first, then one consistent snapshot: the files it
        // names stay on disk until this engine (and every fork) is dropped.
        let guard = Arc::new(warehouse.read_guard()?);
        let snapshot = warehouse.snapshot()?;
        snapshot.verify()?;
        let (derived, unknown) = ensure_attribution(warehouse, &snapshot, production)?;
        let (context, file_url, empty_file) = match placement {
            Some(p) => (Some(p.context), Some(p.url_of), Some(p.empty_file)),
            None => (None, None, None),
        };
        // A table with no files: an empty file where the queries run
        // elsewhere, an in-memory table here.
        let empty_or = |name: &str, urls: Vec<String>| match &empty_file {
            Some(empty) if urls.is_empty() => empty(name).into_iter().collect(),
            _ => urls,
        };
        let url_of = |files: Vec<std::path::PathBuf>| -> Result<Vec<String>> {
            files
                .iter()
                .map(|f| match &file_url {
                    Some(url_of) => url_of(f).ok_or_else(|| Error::Warehouse {
                        path: f.clone(),
                        message: "the cluster has no URL for this file (it was not published)"
                            .into(),
                    }),
                    None => Ok(f.to_string_lossy().to_string()),
                })
                .collect()
        };
        let mut tables: Vec<(String, Arc<dyn TableProvider>)> = Vec::new();
        for table in Table::ALL {
            let urls = empty_or(table.name(), url_of(snapshot.files(table))?);
            tables.push((
                table.name().to_string(),
                table_provider(table.stored_schema(), &urls).await?,
            ));
        }
        for (name, schema) in [
            ("deployment_commits", attribution::shipped_schema()),
            ("deployment_warnings", attribution::warnings_schema()),
        ] {
            let urls = empty_or(name, url_of(derived.files(name))?);
            tables.push((name.to_string(), table_provider(schema, &urls).await?));
        }
        let in_process = context.is_none();
        let ctx = match context {
            Some(context) => {
                let ctx = context(session_config()?).await?;
                for (name, provider) in &tables {
                    ctx.register_table(name.as_str(), provider.clone())?;
                }
                ctx
            }
            None => new_context(None, &tables)?,
        };
        Ok(Engine {
            ctx,
            in_process,
            unknown_sha_deployments: unknown,
            snapshot,
            tables,
            shared_rows: Arc::new(shared_view::SharedRows::from_env()),
            _derived: derived,
            _guard: guard,
        })
    }

    /// A fresh session over the same snapshot and tables (nothing is read
    /// again), optionally with its own runtime (e.g. a memory limit). Views
    /// registered on the fork do not affect this engine, so concurrent
    /// requests with different windows each get one.
    pub fn fork(&self, runtime: Option<Arc<RuntimeEnv>>) -> Result<Engine> {
        self.fork_until(runtime, None)
    }

    /// [`Engine::fork`] whose queries fail once `deadline` has passed,
    /// wherever they are busy (see [`deadline`]).
    pub fn fork_until(
        &self,
        runtime: Option<Arc<RuntimeEnv>>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Engine> {
        Ok(Engine {
            ctx: new_context_until(runtime, &self.tables, deadline)?,
            // A fork's session is always this process's.
            in_process: true,
            unknown_sha_deployments: self.unknown_sha_deployments,
            snapshot: self.snapshot.clone(),
            tables: self.tables.clone(),
            shared_rows: self.shared_rows.clone(),
            _derived: self._derived.clone(),
            _guard: self._guard.clone(),
        })
    }

    /// Runs one statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let timer = PhaseTimer::new("sql");
        let df = self.ctx.sql(sql).await?;
        timer.phase("logical plan");
        // Profiling aid: DORALENS_EXPLAIN=1 prints each query's executed plan
        // with per-operator times and row counts to stderr.
        if std::env::var_os("DORALENS_EXPLAIN").is_some() {
            let explained = df.clone().explain(false, true)?.collect().await?;
            eprintln!(
                "{}",
                datafusion::arrow::util::pretty::pretty_format_batches(&explained)?
            );
        }
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let (state, plan) = df.into_parts();
        let optimized = state.optimize(&plan)?;
        if timer.enabled {
            timer.phase(&format!("optimize ({})", plan_shape(&optimized)));
        }
        let physical = state
            .query_planner()
            .create_physical_plan(&optimized, &state)
            .await?;
        timer.phase("physical plan");
        let batches = datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
        timer.phase("run");
        Ok((schema, batches))
    }

    /// Replaces the view `name` by a [`shared_view::SharedView`]: its query
    /// runs once, at its first use in this session or in any other fork of
    /// the same engine that has the same view, and the views defined
    /// after it read those rows instead of inlining (and planning, and
    /// running) the query at each use. Nothing happens when the queries run
    /// on a cluster (in-memory rows cannot be sent there) or when `name` is
    /// not a view.
    pub async fn keep_in_memory(&self, name: &str) -> Result<()> {
        if !self.in_process {
            return Ok(());
        }
        // The same view over the same snapshot in another fork (another
        // `serve` request) has the same rows.
        let base = |p: &Arc<dyn TableProvider>| self.tables.iter().any(|(_, t)| Arc::ptr_eq(t, p));
        shared_view::keep(&self.ctx, name, &self.shared_rows, &base).await?;
        Ok(())
    }

    /// Runs a bundled query file with its parameters. A failure is a bug of
    /// ours or a fault of the environment, never the user's input
    /// (`Error::BundledQuery`, exit 1), and names the file.
    pub async fn bundled(
        &self,
        file: &queries::QueryFile,
        params: &std::collections::HashMap<&str, String>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let sql = queries::render(file, params)?;
        self.bundled_statement(file, &sql).await
    }

    /// One statement of a bundled file, its failure ours.
    pub async fn bundled_statement(
        &self,
        file: &queries::QueryFile,
        statement: &str,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.sql(statement).await.map_err(|e| Error::BundledQuery {
            file: file.path,
            message: e.to_string(),
        })
    }

    /// Statements of a bundled file, in order, with each answer.
    pub async fn run_statements(
        &self,
        file: &queries::QueryFile,
        statements: &[String],
    ) -> Result<Vec<Vec<RecordBatch>>> {
        let mut out = Vec::with_capacity(statements.len());
        for statement in statements {
            out.push(self.bundled_statement(file, statement).await?.1);
        }
        Ok(out)
    }

    /// Runs a user's query; on failure the error lists every table and its
    /// columns, so the query can be fixed without another command.
    pub async fn user_sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        match self.sql(sql).await {
            Ok(r) => Ok(r),
            Err(Error::DataFusion(e)) if !Error::is_query_fault(&e) => Err(Error::DataFusion(e)),
            Err(e) => Err(Error::Query {
                message: match e {
                    Error::DataFusion(e) => e.to_string(),
                    other => other.to_string(),
                },
                help: format!("\n\nTables and columns:\n{}", self.describe_tables().await),
            }),
        }
    }

    /// `table(col type, ...)` for every table and view, one per line.
    pub async fn describe_tables(&self) -> String {
        let q = "SELECT table_name, column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY table_name, ordinal_position";
        let Ok((_, batches)) = self.sql(q).await else {
            return String::new();
        };
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for b in &batches {
            use datafusion::arrow::array::AsArray;
            let (t, c, d) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_string::<i32>(),
                b.column(2).as_string::<i32>(),
            );
            for i in 0..b.num_rows() {
                let col = format!("{} {}", c.value(i), d.value(i));
                match out.last_mut() {
                    Some((name, cols)) if name == t.value(i) => cols.push(col),
                    _ => out.push((t.value(i).to_string(), vec![col])),
                }
            }
        }
        out.iter()
            .map(|(t, cols)| format!("  {t}({})", cols.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// How many operators a logical plan has and how many scans, per table
/// (what `DORALENS_TIMINGS` prints beside the optimizer's time).
fn plan_shape(plan: &datafusion::logical_expr::LogicalPlan) -> String {
    let text = plan.display_indent().to_string();
    let mut scans: std::collections::BTreeMap<&str, usize> = Default::default();
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("TableScan: ") {
            *scans
                .entry(rest.split_whitespace().next().unwrap_or(""))
                .or_default() += 1;
        }
    }
    let scans: Vec<String> = scans.iter().map(|(t, n)| format!("{t} {n}")).collect();
    format!(
        "{} nodes; scans: {}",
        text.lines().count(),
        scans.join(", ")
    )
}

/// The session settings every engine uses, here or on a cluster.
pub fn session_config() -> Result<SessionConfig> {
    // DATAFUSION_* environment variables tune the engine (e.g.
    // DATAFUSION_EXECUTION_BATCH_SIZE); ours are applied on top.
    let mut config = SessionConfig::from_env()?
        .with_information_schema(true)
        .with_target_partitions(crate::cores());
    // Larger batches than DataFusion's 8192 amortise per-batch work in
    // the joins over per-commit rows (bench: 5.46 s → 5.12 s for
    // metrics --by team --interval week on 10 M commits; 65536 was
    // slower). The environment still wins.
    if std::env::var_os("DATAFUSION_EXECUTION_BATCH_SIZE").is_none() {
        config = config.with_batch_size(32 * 1024);
    }
    // DataFusion 55's join dynamic filter pushdown drops matching rows
    // when a join key's filter passes through a projection over
    // duplicate column names (apache/datafusion#25262). It silently
    // dropped two failed deployments from the first version of our
    // `deployment_recovery` view; the current views no longer trigger it,
    // but the bug class is open upstream, so correctness comes first.
    config
        .options_mut()
        .optimizer
        .enable_join_dynamic_filter_pushdown = false;
    Ok(config)
}

/// The session configuration every engine uses, with the tables and our
/// scalar functions registered.
fn new_context(
    runtime: Option<Arc<RuntimeEnv>>,
    tables: &[(String, Arc<dyn TableProvider>)],
) -> Result<SessionContext> {
    new_context_until(runtime, tables, None)
}

fn new_context_until(
    runtime: Option<Arc<RuntimeEnv>>,
    tables: &[(String, Arc<dyn TableProvider>)],
    deadline: Option<std::time::Instant>,
) -> Result<SessionContext> {
    let mut config = session_config()?;
    let mut builder = datafusion::execution::SessionStateBuilder::new().with_default_features();
    if let Some(d) = deadline {
        config = config.with_extension(Arc::new(deadline::Deadline(d)));
        builder = builder.with_physical_optimizer_rule(Arc::new(deadline::DeadlineRule));
    }
    if let Some(rt) = runtime {
        builder = builder.with_runtime_env(rt);
    }
    let ctx = SessionContext::new_with_state(builder.with_config(config).build());
    ctx.register_udf(sha_key_udf());
    for (name, provider) in tables {
        ctx.register_table(name.as_str(), provider.clone())?;
    }
    Ok(ctx)
}

/// A Parquet-backed table over exactly the given files (an empty in-memory
/// table when there are none), always with the canonical schema.
async fn table_provider(schema: SchemaRef, files: &[String]) -> Result<Arc<dyn TableProvider>> {
    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    let urls = files
        .iter()
        .map(ListingTableUrl::parse)
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A generated organisation (`config`) in a temporary directory, opened
/// with the default production pattern: what the tests that run the
/// bundled SQL compute from.
#[cfg(test)]
pub(crate) async fn generated_engine(
    config: &crate::ingest::synthetic::GeneratorConfig,
) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path()).unwrap();
    let mut sink = crate::ingest::synthetic::WarehouseSink {
        warehouse: &warehouse,
    };
    crate::ingest::synthetic::generate(config, &mut sink).unwrap();
    let engine = Engine::open(&warehouse, &ProductionPattern::default())
        .await
        .unwrap();
    (dir, engine)
}
