//! A deadline every operator of a plan honours. Aborting the task that runs
//! a query is not enough to stop it: an operator that emits many batches per
//! input batch without yielding (a cross join, measured: both cores busy
//! for as long as we watched after the abort) never reaches a point where
//! the abort takes effect. With [`DeadlineRule`] in the session, each
//! operator's output passes through a check of the session's [`Deadline`]
//! (one clock read per batch), and the query fails with a "cancelled" error
//! once the deadline has passed, wherever it is busy.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures_util::Stream;

/// The message of the error a query fails with at its deadline.
pub const CANCELLED: &str = "the query was cancelled: it reached its time limit";

/// When the session's queries must stop (a `SessionConfig` extension).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// Wraps every operator of a physical plan in a [`DeadlineExec`]; runs
/// last, after DataFusion's own rules.
#[derive(Debug, Default)]
pub struct DeadlineRule;

impl PhysicalOptimizerRule for DeadlineRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(Transformed::yes(
                Arc::new(DeadlineExec { input: node }) as Arc<dyn ExecutionPlan>
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "deadline"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input's batches through, failing once the deadline passed.
#[derive(Debug)]
pub struct DeadlineExec {
    input: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for DeadlineExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DeadlineExec")
    }
}

impl ExecutionPlan for DeadlineExec {
    fn name(&self) -> &str {
        "DeadlineExec"
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.input.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(DeadlineExec {
            input: children.swap_remove(0),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let deadline = context.session_config().get_extension::<Deadline>();
        let input = self.input.execute(partition, context)?;
        Ok(match deadline {
            Some(d) => Box::pin(DeadlineStream {
                input,
                deadline: d.0,
            }),
            None => input,
        })
    }
}

struct DeadlineStream {
    input: SendableRecordBatchStream,
    deadline: Instant,
}

impl Stream for DeadlineStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(Some(Err(DataFusionError::Execution(CANCELLED.into()))));
        }
        self.input.as_mut().poll_next(cx)
    }
}

impl RecordBatchStream for DeadlineStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
