//! A view computed at most once per session, at its first use, and read
//! from memory after ([`super::Engine::keep_in_memory`]); and the rows kept
//! across the sessions of one snapshot ([`SharedRows`]).
//!
//! DataFusion inlines a view's query at every use: a view that twenty
//! later views read is planned, optimised and run twenty times, and the
//! plan of a query over them grows with every level. A [`SharedView`] is a
//! table to the planner (a leaf of the plan); its first scan runs the
//! view's query and keeps the rows, every later scan of the session reads
//! them. The rows are the view's rows, so every answer is the same.
//!
//! Sessions forked from one engine (one per `serve` request) read the same
//! snapshot, so a view whose query is the same in two sessions has the same
//! rows: [`SharedRows`] keeps them under a key that names the whole query,
//! the views it reads included (see [`view_key`]), and concurrent requests
//! asking for the same view wait for one computation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;

type Rows = Arc<tokio::sync::OnceCell<Arc<MemTable>>>;

pub struct SharedView {
    name: String,
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: Rows,
    /// Where the rows are kept across sessions, and under which key (None:
    /// this session only).
    kept: Option<(Arc<SharedRows>, String)>,
}

impl std::fmt::Debug for SharedView {
    // Not the rows: a view's key (the Debug text of plans that read it)
    // must not change once they are computed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedView")
            .field("name", &self.name)
            .field("plan", &self.plan)
            .finish()
    }
}

impl SharedView {
    /// The view `name` whose query is `plan` (a `ViewTable`'s logical
    /// plan), computed for this session only.
    pub fn new(name: &str, plan: LogicalPlan) -> Self {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        SharedView {
            name: name.to_string(),
            plan,
            schema,
            rows: Rows::default(),
            kept: None,
        }
    }

    /// [`SharedView::new`] whose rows are shared with every session of
    /// `cache` that has the same view (`key`, from [`view_key`]).
    pub fn kept_in(name: &str, plan: LogicalPlan, cache: Arc<SharedRows>, key: String) -> Self {
        let mut view = SharedView::new(name, plan);
        view.rows = cache.cell(&key);
        view.kept = Some((cache, key));
        view
    }

    /// The key of this view's rows, when they are kept across sessions.
    pub fn key(&self) -> Option<&str> {
        self.kept.as_ref().map(|(_, key)| key.as_str())
    }

    /// The view's rows, computed on the first call.
    async fn rows(&self, state: &dyn Session) -> Result<&Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
                let timer = super::PhaseTimer::new("shared view");
                let plan = state.create_physical_plan(&self.plan).await?;
                let parts =
                    datafusion::physical_plan::collect_partitioned(plan, state.task_ctx()).await?;
                // The batches under the view's declared schema (the physical
                // plan may differ in field nullability only).
                let parts = parts
                    .into_iter()
                    .map(|batches| {
                        batches
                            .into_iter()
                            .map(|b| {
                                let options =
                                    RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                                RecordBatch::try_new_with_options(
                                    self.schema.clone(),
                                    b.columns().to_vec(),
                                    &options,
                                )
                            })
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .and_then(|batches| compact(&self.schema, batches))
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let bytes: usize = parts
                    .iter()
                    .flatten()
                    .map(RecordBatch::get_array_memory_size)
                    .sum();
                timer.phase(&format!("{} ({} bytes)", self.name, bytes));
                if let Some((cache, key)) = &self.kept {
                    cache.computed(key, bytes);
                }
                Ok(Arc::new(MemTable::try_new(self.schema.clone(), parts)?))
            })
            .await
    }
}

/// A partition's batches as one batch of its own buffers. An aggregation
/// emits its rows as slices of one large array, and each slice reports
/// (and keeps alive) the whole of it: kept as they come, `change_lines`
/// (50 MB of rows at the benchmark's scale) counted as 774 MB against the
/// budget and pushed every other view out.
/// Copying into one batch holds exactly the rows, once.
fn compact(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> std::result::Result<Vec<RecordBatch>, datafusion::arrow::error::ArrowError> {
    if batches.len() < 2 {
        return Ok(batches);
    }
    Ok(vec![datafusion::arrow::compute::concat_batches(
        schema, &batches,
    )?])
}

/// Replaces the view `name` of `ctx` by a [`SharedView`] whose rows are
/// kept in `cache` (when [`view_key`] finds a key; else for this session
/// only). Nothing happens when `name` is not a view.
pub async fn keep(
    ctx: &datafusion::prelude::SessionContext,
    name: &str,
    cache: &Arc<SharedRows>,
    base: &(dyn Fn(&Arc<dyn TableProvider>) -> bool + Sync),
) -> Result<()> {
    let Ok(provider) = ctx.table_provider(name).await else {
        return Ok(());
    };
    let Some(view) = provider.downcast_ref::<datafusion::catalog::view::ViewTable>() else {
        return Ok(());
    };
    let plan = view.logical_plan().clone();
    let shared = match view_key(&plan, base) {
        Some(key) => SharedView::kept_in(name, plan, cache.clone(), key),
        None => SharedView::new(name, plan),
    };
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(shared))?;
    Ok(())
}

/// The key under which a view's rows are kept: a SHA-256 of the view's
/// plan (every node's text, those of its subqueries included) and of every
/// table it reads, views included, down to the engine's
/// own tables. `None` when the plan reads anything else (a table a user
/// registered, say), whose rows could differ between sessions.
///
/// A plan's text names the tables it scans but not what is behind the
/// name, hence the walk. `base` tells whether a provider is one of the
/// snapshot's tables.
pub fn view_key(
    plan: &LogicalPlan,
    base: &(dyn Fn(&Arc<dyn TableProvider>) -> bool + Sync),
) -> Option<String> {
    let mut text = format!("{plan:?}");
    if !describe_inputs(plan, base, &mut text) {
        return None;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    Some(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Appends what each table `plan` scans stands for; false when one of them
/// is not known to be the same in every session.
fn describe_inputs(
    plan: &LogicalPlan,
    base: &(dyn Fn(&Arc<dyn TableProvider>) -> bool + Sync),
    text: &mut String,
) -> bool {
    let mut known = true;
    let walked = plan.apply_with_subqueries(|node| {
        // Each node on a line of its own, subqueries' included: the plan's
        // text shows a subquery as `<subquery>`, and a team filter (`IN
        // (SELECT t.service FROM teams t WHERE t.team IN (...))`) differs
        // only there.
        text.push_str(&format!("\n{}", node.display()));
        let LogicalPlan::TableScan(scan) = node else {
            return Ok(TreeNodeRecursion::Continue);
        };
        let Ok(provider) = datafusion::datasource::source_as_provider(&scan.source) else {
            known = false;
            return Ok(TreeNodeRecursion::Stop);
        };
        if let Some(shared) = provider.downcast_ref::<SharedView>() {
            match shared.key() {
                Some(key) => text.push_str(&format!("\n{}={key}", scan.table_name)),
                None => known = false,
            }
        } else if let Some(view) = provider.downcast_ref::<datafusion::catalog::view::ViewTable>() {
            text.push_str(&format!(
                "\n{}=view {:?}",
                scan.table_name,
                view.logical_plan()
            ));
            known &= describe_inputs(view.logical_plan(), base, text);
        } else if base(&provider) {
            text.push_str(&format!("\n{}=table", scan.table_name));
        } else {
            known = false;
        }
        Ok(if known {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    walked.is_ok() && known
}

/// Rows of shared views kept across the sessions of one snapshot, at most
/// `budget` bytes of them: past it, the least recently used go (a session
/// already reading them keeps its copy).
pub struct SharedRows {
    budget: usize,
    state: Mutex<CacheState>,
}

/// Most keys kept, rows or not.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
struct CacheState {
    tick: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    rows: Rows,
    /// Zero until computed.
    bytes: usize,
    used: u64,
}

impl SharedRows {
    pub fn new(budget: usize) -> Self {
        SharedRows {
            budget,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The budget of `DORALENS_SHARED_VIEW_MB` (megabytes), else 2 GiB: at
    /// the benchmark's scale (1.2 M deployments) one 90-day window's views
    /// take about 450 MB, and the dashboard asks for two windows (the
    /// period and the one before); with 512 MiB each request pushed the
    /// other window's rows out. A small organisation never fills it.
    pub fn from_env() -> Self {
        let mb = std::env::var("DORALENS_SHARED_VIEW_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(2048);
        SharedRows::new(mb << 20)
    }

    fn cell(&self, key: &str) -> Rows {
        let mut state = self.state.lock().expect("no panic holds this lock");
        state.tick += 1;
        let tick = state.tick;
        if state.entries.len() >= MAX_ENTRIES && !state.entries.contains_key(key) {
            // Views registered but never read leave keys without rows.
            if let Some(oldest) = state
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                state.entries.remove(&oldest);
            }
        }
        let entry = state
            .entries
            .entry(key.to_string())
            .or_insert_with(|| Entry {
                rows: Rows::default(),
                bytes: 0,
                used: tick,
            });
        entry.used = tick;
        entry.rows.clone()
    }

    /// Records the size of rows just computed, then keeps the cache in its
    /// budget.
    fn computed(&self, key: &str, bytes: usize) {
        let mut state = self.state.lock().expect("no panic holds this lock");
        if let Some(entry) = state.entries.get_mut(key) {
            entry.bytes = bytes;
        }
        loop {
            let total: usize = state.entries.values().map(|e| e.bytes).sum();
            if total <= self.budget {
                break;
            }
            let oldest = state
                .entries
                .iter()
                .filter(|(k, e)| e.bytes > 0 && k.as_str() != key)
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    state.entries.remove(&k);
                }
                // Only the rows just computed are left: kept even over
                // budget (the session reads them anyway).
                None => break,
            }
        }
    }

    /// The bytes the kept rows count against the budget.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        let state = self.state.lock().expect("no panic holds this lock");
        state.entries.values().map(|e| e.bytes).sum()
    }

    /// How many views' rows are kept (computed or being computed).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .expect("no panic holds this lock")
            .entries
            .len()
    }
}

#[async_trait]
impl TableProvider for SharedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        // Not `View`: DataFusion would inline a view's plan again.
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.rows(state)
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A session whose view `v` counts, in `rows`, the rows its query
    /// computes.
    async fn session(rows: Arc<AtomicUsize>) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udf(create_udf(
            "counted",
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Volatile,
            Arc::new(move |args: &[ColumnarValue]| {
                let input = args[0].to_array(1)?;
                rows.fetch_add(input.len(), Ordering::SeqCst);
                Ok(ColumnarValue::Array(input))
            }),
        ));
        ctx.sql(
            "CREATE VIEW v AS SELECT counted(x) AS x FROM \
             (VALUES (arrow_cast(1, 'Int64')), (2), (3)) t(x)",
        )
        .await
        .unwrap();
        ctx
    }

    async fn self_join(ctx: &SessionContext) -> Vec<i64> {
        let batches = ctx
            .sql(
                "SELECT a.x FROM v a JOIN v b ON a.x = b.x JOIN v c ON c.x = a.x \
                 WHERE a.x > 1 ORDER BY a.x",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_shared_view_runs_its_query_once_and_gives_the_views_rows() {
        // As a view: the query runs at each of the three uses.
        let rows = Arc::new(AtomicUsize::new(0));
        let ctx = session(rows.clone()).await;
        assert_eq!(self_join(&ctx).await, vec![2, 3]);
        assert_eq!(rows.load(Ordering::SeqCst), 9);

        // Shared: once, whatever the uses; the same answer.
        let rows = Arc::new(AtomicUsize::new(0));
        let ctx = session(rows.clone()).await;
        let provider = ctx.table_provider("v").await.unwrap();
        let view = provider
            .downcast_ref::<datafusion::catalog::view::ViewTable>()
            .unwrap();
        let shared = SharedView::new("v", view.logical_plan().clone());
        ctx.deregister_table("v").unwrap();
        ctx.register_table("v", Arc::new(shared)).unwrap();
        assert_eq!(self_join(&ctx).await, vec![2, 3]);
        assert_eq!(rows.load(Ordering::SeqCst), 3);
        assert_eq!(self_join(&ctx).await, vec![2, 3]);
        assert_eq!(rows.load(Ordering::SeqCst), 3, "the rows are kept");
    }

    /// A session over the table `t` (the same provider in every session,
    /// as forks of one engine share the snapshot's tables) with `counted`.
    fn over(t: &Arc<dyn TableProvider>, rows: Arc<AtomicUsize>) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udf(create_udf(
            "counted",
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Volatile,
            Arc::new(move |args: &[ColumnarValue]| {
                let input = args[0].to_array(1)?;
                rows.fetch_add(input.len(), Ordering::SeqCst);
                Ok(ColumnarValue::Array(input))
            }),
        ));
        ctx.register_table("t", t.clone()).unwrap();
        ctx
    }

    fn table() -> Arc<dyn TableProvider> {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("x", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
    }

    async fn define(ctx: &SessionContext, sql: &str) {
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
    }

    async fn xs(ctx: &SessionContext, table: &str) -> Vec<i64> {
        let batches = ctx
            .sql(&format!("SELECT x FROM {table} ORDER BY x"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect()
    }

    #[tokio::test]
    async fn sessions_over_one_snapshot_compute_the_same_view_once() {
        let t = table();
        let base = |p: &Arc<dyn TableProvider>| Arc::ptr_eq(p, &t);
        let cache = Arc::new(SharedRows::new(1 << 20));
        let rows = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let ctx = over(&t, rows.clone());
            define(
                &ctx,
                "CREATE VIEW v AS SELECT counted(x) AS x FROM t WHERE x > 1",
            )
            .await;
            keep(&ctx, "v", &cache, &base).await.unwrap();
            assert_eq!(xs(&ctx, "v").await, vec![2, 3]);
        }
        // The filter runs before `counted`: two rows per computation.
        assert_eq!(
            rows.load(Ordering::SeqCst),
            2,
            "computed in the first session only"
        );
        assert_eq!(cache.len(), 1);

        // A table the snapshot does not know (a user's) may differ between
        // sessions: never kept across them.
        let rows = Arc::new(AtomicUsize::new(0));
        let not_ours = |_: &Arc<dyn TableProvider>| false;
        for _ in 0..2 {
            let ctx = over(&t, rows.clone());
            define(
                &ctx,
                "CREATE VIEW v AS SELECT counted(x) AS x FROM t WHERE x > 1",
            )
            .await;
            keep(&ctx, "v", &cache, &not_ours).await.unwrap();
            assert_eq!(xs(&ctx, "v").await, vec![2, 3]);
        }
        assert_eq!(rows.load(Ordering::SeqCst), 4, "computed in each session");
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_view_over_other_rows_of_the_same_name_is_not_taken_for_it() {
        // `w` has the same text in both sessions, but reads (through the
        // plain view `m`) a shared `u` whose rows differ: the key of `w`
        // must tell them apart.
        let t = table();
        let base = |p: &Arc<dyn TableProvider>| Arc::ptr_eq(p, &t);
        let cache = Arc::new(SharedRows::new(1 << 20));
        let rows = Arc::new(AtomicUsize::new(0));
        for (lowest, expected) in [(1, vec![2, 3]), (2, vec![3]), (1, vec![2, 3])] {
            let ctx = over(&t, rows.clone());
            define(
                &ctx,
                &format!("CREATE VIEW u AS SELECT counted(x) AS x FROM t WHERE x > {lowest}"),
            )
            .await;
            keep(&ctx, "u", &cache, &base).await.unwrap();
            define(&ctx, "CREATE VIEW m AS SELECT x FROM u").await;
            define(&ctx, "CREATE VIEW w AS SELECT x FROM m").await;
            keep(&ctx, "w", &cache, &base).await.unwrap();
            assert_eq!(xs(&ctx, "w").await, expected, "x > {lowest}");
        }
        // u and w for each of the two bounds; the third session reused the
        // first's (two rows counted for x > 1, one for x > 2).
        assert_eq!(cache.len(), 4);
        assert_eq!(rows.load(Ordering::SeqCst), 2 + 1);
    }

    #[tokio::test]
    async fn regression_views_that_differ_only_inside_a_subquery_are_not_taken_for_each_other() {
        // A team filter is `d.service IN (SELECT ... WHERE t.team IN (...))`:
        // the plan's text shows the subquery as `<subquery>`, so `serve`
        // answered every team after the first with the first team's rows.
        let t = table();
        let base = |p: &Arc<dyn TableProvider>| Arc::ptr_eq(p, &t);
        let cache = Arc::new(SharedRows::new(1 << 20));
        let rows = Arc::new(AtomicUsize::new(0));
        for (lowest, expected) in [(1, vec![2, 3]), (2, vec![3]), (1, vec![2, 3])] {
            let ctx = over(&t, rows.clone());
            define(
                &ctx,
                &format!(
                    "CREATE VIEW v AS SELECT counted(x) AS x FROM t \
                     WHERE x IN (SELECT s.x FROM t s WHERE s.x > {lowest})"
                ),
            )
            .await;
            keep(&ctx, "v", &cache, &base).await.unwrap();
            assert_eq!(xs(&ctx, "v").await, expected, "x > {lowest}");
        }
        assert_eq!(cache.len(), 2, "one entry per bound");
    }

    #[tokio::test]
    async fn past_the_budget_the_least_recently_used_rows_go() {
        let t = table();
        let base = |p: &Arc<dyn TableProvider>| Arc::ptr_eq(p, &t);
        // Room for one view's rows only.
        let cache = Arc::new(SharedRows::new(1));
        let rows = Arc::new(AtomicUsize::new(0));
        for lowest in [0, 1, 0] {
            let ctx = over(&t, rows.clone());
            define(
                &ctx,
                &format!("CREATE VIEW v AS SELECT counted(x) AS x FROM t WHERE x > {lowest}"),
            )
            .await;
            keep(&ctx, "v", &cache, &base).await.unwrap();
            xs(&ctx, "v").await;
            assert_eq!(cache.len(), 1);
        }
        // The first view's rows were dropped for the second's, so the third
        // session computed them again.
        assert_eq!(rows.load(Ordering::SeqCst), 3 + 2 + 3);
    }

    #[tokio::test]
    async fn regression_an_aggregated_view_counts_its_rows_once_against_the_budget() {
        // 100,000 distinct values, grouped: the aggregation emits its rows
        // as ~100 slices of one array, each of which reports the whole.
        let n = 100_000i64;
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new("x", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from((0..n).collect::<Vec<_>>()))],
        )
        .unwrap();
        let t: Arc<dyn TableProvider> =
            Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap());
        let base = |p: &Arc<dyn TableProvider>| Arc::ptr_eq(p, &t);
        let config = datafusion::prelude::SessionConfig::new()
            .with_batch_size(1024)
            .with_target_partitions(1);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_table("t", t.clone()).unwrap();
        define(&ctx, "CREATE VIEW g AS SELECT x FROM t GROUP BY x").await;
        let cache = Arc::new(SharedRows::new(1 << 30));
        keep(&ctx, "g", &cache, &base).await.unwrap();
        let count = ctx.sql("SELECT count(*) FROM g").await.unwrap();
        count.collect().await.unwrap();
        let data = n as usize * 8;
        let counted = cache.bytes();
        assert!(
            counted >= data && counted < 2 * data,
            "{counted} bytes counted for {data} bytes of rows"
        );
    }
}
