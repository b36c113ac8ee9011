//! Bounds on what one `serve` request may cost: the default of its memory
//! (by the machine's), the SQL text's size and expression depth (checked
//! before DataFusion plans anything), and the string functions whose output
//! can grow without bound (`repeat`, `lpad`, `rpad`), which would otherwise
//! overflow Arrow's 32-bit offsets (a panic) or ask the allocator for
//! gigabytes (an abort no handler can catch).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};

use crate::error::{Error, Result};

/// Limits on one SQL request, each a `serve` option.
#[derive(Debug, Clone, Copy)]
pub struct SqlLimits {
    /// Longest query text, in bytes (`--sql-max-length`).
    pub max_bytes: usize,
    /// Deepest expression nesting (`--sql-max-depth`): `1+1+…+1` with n
    /// terms is n deep.
    pub max_depth: usize,
    /// Largest string one call of `repeat`/`lpad`/`rpad` may produce, and
    /// a tenth of what one batch of them may produce in all
    /// (`--sql-max-value`).
    pub max_value_bytes: usize,
}

impl Default for SqlLimits {
    fn default() -> Self {
        SqlLimits {
            max_bytes: 64 * 1024,
            max_depth: 256,
            max_value_bytes: 1 << 20,
        }
    }
}

/// Rejects a query that is too long or nested too deeply, before planning.
pub fn check_sql(sql: &str, limits: &SqlLimits) -> Result<()> {
    if sql.len() > limits.max_bytes {
        return Err(Error::usage(
            "q",
            format!(
                "the query is {} bytes; this server accepts at most {} (--sql-max-length)",
                sql.len(),
                limits.max_bytes
            ),
        ));
    }
    let statements =
        DFParser::parse_sql(sql).map_err(|e| Error::usage("q", format!("cannot parse: {e}")))?;
    let mut depth = Depth::default();
    for statement in &statements {
        if let Statement::Statement(s) = statement {
            let _ = s.visit(&mut depth);
        }
    }
    if depth.max > limits.max_depth {
        return Err(Error::usage(
            "q",
            format!(
                "the query nests expressions {} deep; this server accepts at most {} (--sql-max-depth): \
                 use IN (...) instead of long OR chains, or a table instead of long sums",
                depth.max, limits.max_depth
            ),
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Depth {
    now: usize,
    max: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now += 1;
        self.max = self.max.max(self.now);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

/// How a function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(text, n)`: len(text) × n bytes.
    Repeat,
    /// `lpad(text, n [, fill])`, `rpad`: n characters, at most 4n bytes.
    Pad,
}

/// Replaces `repeat`, `lpad` and `rpad` in `ctx` with versions that refuse
/// (with a query error) to produce more than the limits allow.
pub fn bound_string_functions(ctx: &SessionContext, limits: &SqlLimits) {
    for (name, growth) in [
        ("repeat", Growth::Repeat),
        ("lpad", Growth::Pad),
        ("rpad", Growth::Pad),
    ] {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(Bounded {
                inner,
                growth,
                max_value: limits.max_value_bytes,
            }));
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    max_value: usize,
}

impl Bounded {
    /// The largest output of one row and of the whole batch, in bytes.
    fn output_bytes(&self, args: &ScalarFunctionArgs) -> DfResult<(u128, u128)> {
        let rows = args.number_rows.max(1);
        let count = |row: usize| -> DfResult<u128> {
            let n = match &args.args[1] {
                ColumnarValue::Scalar(s) => scalar_count(s)?,
                ColumnarValue::Array(a) => {
                    let a = datafusion::arrow::compute::cast(a, &DataType::Int64)?;
                    let a = a.as_primitive::<Int64Type>();
                    if a.is_null(row) { 0 } else { a.value(row) }
                }
            };
            Ok(n.max(0) as u128)
        };
        let text_len = |row: usize| -> u128 {
            match &args.args[0] {
                ColumnarValue::Scalar(s) => scalar_len(s),
                ColumnarValue::Array(a) => array_len(a, row),
            }
        };
        let (mut max, mut total) = (0u128, 0u128);
        for row in 0..rows {
            let bytes = match self.growth {
                Growth::Repeat => text_len(row) * count(row)?,
                Growth::Pad => 4 * count(row)?,
            };
            max = max.max(bytes);
            total += bytes;
        }
        Ok((max, total))
    }
}

fn scalar_count(s: &ScalarValue) -> DfResult<i64> {
    if s.is_null() {
        return Ok(0);
    }
    match s.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(Some(v)) => Ok(v),
        _ => Ok(0),
    }
}

fn scalar_len(s: &ScalarValue) -> u128 {
    match s {
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => v.len() as u128,
        _ => 0,
    }
}

fn array_len(a: &Arc<dyn Array>, row: usize) -> u128 {
    if a.is_null(row) {
        return 0;
    }
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(row).len() as u128,
        DataType::LargeUtf8 => a.as_string::<i64>().value(row).len() as u128,
        DataType::Utf8View => a.as_string_view().value(row).len() as u128,
        _ => 0,
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if args.args.len() >= 2 {
            let (max, total) = self.output_bytes(&args)?;
            let batch_limit = self.max_value as u128 * 10;
            if max > self.max_value as u128 || total > batch_limit {
                return Err(DataFusionError::Plan(format!(
                    "{}() would produce {} bytes; this server allows {} per value and {} per batch \
                     (--sql-max-value)",
                    self.name(),
                    if max > self.max_value as u128 {
                        max
                    } else {
                        total
                    },
                    self.max_value,
                    batch_limit
                )));
            }
        }
        self.inner.invoke_with_args(args)
    }
}

/// `--query-memory`'s default: half the machine's memory (the cgroup's
/// limit in a container, when lower) shared by the `slots` queries that may
/// run at once, and at least 1 GiB. At the reference scale (9.7 M commits)
/// a 90-day window's metrics need about 2 GiB and a year's about 3 GiB,
/// where the old fixed default of 1 GiB refused every metrics answer.
pub fn default_query_memory(slots: usize) -> usize {
    query_memory_for(machine_memory(), slots)
}

fn query_memory_for(machine: Option<usize>, slots: usize) -> usize {
    (machine.unwrap_or(0) / 2 / slots.max(1)).max(1 << 30)
}

/// The memory this process may use: the machine's (`/proc/meminfo`), or
/// its cgroup's limit when lower; None where neither can be read.
fn machine_memory() -> Option<usize> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<usize>()
        .ok()?
        .saturating_mul(1024);
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|path| std::fs::read_to_string(path).ok())
    .filter_map(|text| text.trim().parse::<usize>().ok())
    .min();
    Some(limit.map_or(total, |l| l.min(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_sum_is_as_deep_as_its_terms() {
        let limits = SqlLimits {
            max_depth: 100,
            ..SqlLimits::default()
        };
        let sum = |n: usize| format!("SELECT {}", vec!["1"; n].join("+"));
        assert!(check_sql(&sum(50), &limits).is_ok());
        let err = check_sql(&sum(800), &limits).unwrap_err().to_string();
        assert!(err.contains("--sql-max-depth"), "{err}");
    }

    #[test]
    fn a_query_over_the_length_limit_is_refused_before_parsing() {
        let limits = SqlLimits {
            max_bytes: 20,
            ..SqlLimits::default()
        };
        let err = check_sql("SELECT 'aaaaaaaaaaaaaaaaaaaaaa'", &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--sql-max-length"), "{err}");
    }

    #[tokio::test]
    async fn repeat_is_bounded_and_still_works_within_the_bound() {
        let ctx = SessionContext::new();
        bound_string_functions(
            &ctx,
            &SqlLimits {
                max_value_bytes: 1000,
                ..SqlLimits::default()
            },
        );
        let ok = ctx.sql("SELECT repeat('ab', 3) AS r").await.unwrap();
        let batches = ok.collect().await.unwrap();
        assert_eq!(batches[0].column(0).as_string::<i32>().value(0), "ababab");
        for q in [
            "SELECT length(repeat('x', 2000000000))",
            "SELECT lpad('x', 2000000000)",
            "SELECT repeat(v, 600) FROM (VALUES ('ab'), ('cd')) t(v)",
        ] {
            let err = match ctx.sql(q).await {
                Ok(df) => df.collect().await.unwrap_err().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("--sql-max-value"), "{q}: {err}");
        }
    }

    #[test]
    fn the_default_query_memory_is_half_the_machine_over_the_slots_and_at_least_a_gib() {
        const GIB: usize = 1 << 30;
        // 23 GiB, two query slots: 5.75 GiB each, 11.5 GiB at most in all.
        assert_eq!(query_memory_for(Some(23 * GIB), 2), 23 * GIB / 4);
        // A small machine, or one whose memory cannot be read: 1 GiB.
        assert_eq!(query_memory_for(Some(4 * GIB), 8), GIB);
        assert_eq!(query_memory_for(None, 2), GIB);
        // No slot count divides by zero.
        assert_eq!(query_memory_for(Some(64 * GIB), 0), 32 * GIB);
    }
}
