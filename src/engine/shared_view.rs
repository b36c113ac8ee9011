//! A view computed at most once per session, at its first use, and read
//! from memory after ([`super::Engine::keep_in_memory`]).
//!
//! DataFusion inlines a view's query at every use: a view that twenty
//! later views read is planned, optimised and run twenty times, and the
//! plan of a query over them grows with every level. A [`SharedView`] is a
//! table to the planner (a leaf of the plan); its first scan runs the
//! view's query and keeps the rows, every later scan of the session reads
//! them. The rows are the view's rows, so every answer is the same.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;

#[derive(Debug)]
pub struct SharedView {
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: tokio::sync::OnceCell<Arc<MemTable>>,
}

impl SharedView {
    /// The view whose query is `plan` (a `ViewTable`'s logical plan).
    pub fn new(plan: LogicalPlan) -> Self {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        SharedView {
            plan,
            schema,
            rows: tokio::sync::OnceCell::new(),
        }
    }

    /// The view's rows, computed on the first call.
    async fn rows(&self, state: &dyn Session) -> Result<&Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
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
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Arc::new(MemTable::try_new(self.schema.clone(), parts)?))
            })
            .await
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
        let shared = SharedView::new(view.logical_plan().clone());
        ctx.deregister_table("v").unwrap();
        ctx.register_table("v", Arc::new(shared)).unwrap();
        assert_eq!(self_join(&ctx).await, vec![2, 3]);
        assert_eq!(rows.load(Ordering::SeqCst), 3);
        assert_eq!(self_join(&ctx).await, vec![2, 3]);
        assert_eq!(rows.load(Ordering::SeqCst), 3, "the rows are kept");
    }
}
