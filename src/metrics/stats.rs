//! Statistical honesty: 95% intervals for the rates and the medians.
//!
//! - **Rates** (`change_failure_rate`, `rework_rate`) get the Wilson score
//!   interval of `x` successes in `n` trials, which stays inside [0, 1] and
//!   behaves at 0 and n (unlike the normal approximation).
//! - **Medians** (`lead_time_p50_s`, `recovery_time_p50_s`,
//!   `time_to_restore_p50_s`) get the distribution-free order-statistic
//!   interval [x(j), x(k)] of the sorted sample, with ranks
//!   j = ⌊n/2 − 1.96·√n/2⌋ and k = ⌈1 + n/2 + 1.96·√n/2⌉ clamped to 1..n
//!   (the normal approximation to the binomial count below the median). Below
//!   6 samples no pair of order statistics reaches 95% coverage; the interval
//!   is then [min, max], and the report marks such groups as too small to
//!   rank.
//!
//! `duration_summary(x)` is the aggregate the metric SQL uses for every
//! duration: p50, p90 and the median's interval from one buffer of values.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `x` of `n`; None when n = 0.
pub fn wilson(x: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// 1-based ranks (j, k) of the median's order-statistic interval.
pub fn median_ranks(n: usize) -> Option<(usize, usize)> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let spread = Z95 * nf.sqrt() / 2.0;
    let j = (nf / 2.0 - spread).floor().max(1.0) as usize;
    let k = (1.0 + nf / 2.0 + spread).ceil().min(nf) as usize;
    Some((j.min(n), k.max(1)))
}

/// What `duration_summary` reports of a sample: its p50 and p90 (numpy's
/// type 7, the contract's quantiles) and the median's 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub p50: f64,
    pub p90: f64,
    pub p50_low: f64,
    pub p50_high: f64,
}

/// The `k`-th smallest value (0-based) of `v`, by selection: `v` is
/// reordered, never fully sorted.
fn kth(v: &mut [f64], k: usize) -> f64 {
    *v.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Quantile `p` with linear interpolation between closest ranks
/// (h = (n − 1)·p), as numpy's default and DataFusion's `percentile_cont`.
pub fn quantile(v: &mut [f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let x_lo = kth(v, lo);
    if lo + 1 >= v.len() || h == lo as f64 {
        return x_lo;
    }
    // After selecting `lo`, its successor is the minimum of the right part.
    let x_hi = v[lo + 1..].iter().copied().fold(f64::INFINITY, f64::min);
    x_lo + (h - lo as f64) * (x_hi - x_lo)
}

/// p50, p90 and the median's interval of a sample (None when empty). The
/// sample is reordered. Selection instead of sorting keeps this linear:
/// lead time summarises ~10 million values per metrics run.
pub fn summarise(v: &mut [f64]) -> Option<Summary> {
    let (j, k) = median_ranks(v.len())?;
    Some(Summary {
        p50: quantile(v, 0.5),
        p90: quantile(v, 0.9),
        p50_low: kth(v, j - 1),
        p50_high: kth(v, k - 1),
    })
}

const SUMMARY_FIELDS: [&str; 4] = ["p50", "p90", "p50_low", "p50_high"];

fn summary_type() -> DataType {
    DataType::Struct(Fields::from(
        SUMMARY_FIELDS
            .iter()
            .map(|name| Field::new(*name, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ))
}

fn values_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// Summaries of many samples as one struct column (null fields for empty
/// samples).
fn summaries_array(samples: &mut [Vec<f64>]) -> ArrayRef {
    let mut columns: [Vec<Option<f64>>; 4] = Default::default();
    for sample in samples.iter_mut() {
        let s = summarise(sample);
        columns[0].push(s.map(|s| s.p50));
        columns[1].push(s.map(|s| s.p90));
        columns[2].push(s.map(|s| s.p50_low));
        columns[3].push(s.map(|s| s.p50_high));
    }
    let DataType::Struct(fields) = summary_type() else {
        unreachable!("summary_type is a struct")
    };
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
        .collect();
    Arc::new(StructArray::new(fields, arrays, None))
}

/// Samples as a list column: the partial aggregate's state.
fn samples_list(samples: Vec<Vec<f64>>) -> ArrayRef {
    let lengths: Vec<usize> = samples.iter().map(Vec::len).collect();
    let values = Float64Array::from(samples.concat());
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None,
    ))
}

/// `duration_summary(x DOUBLE) -> {p50, p90, p50_low, p50_high}`: the
/// quantiles and the median's interval from one buffer of values (three
/// separate aggregates would each copy every value). Nulls are ignored.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DurationSummary {
    signature: Signature,
}

impl DurationSummary {
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::from(DurationSummary {
            signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
        })
    }
}

impl AggregateUDFImpl for DurationSummary {
    fn name(&self) -> &str {
        "duration_summary"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(summary_type())
    }

    fn accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> datafusion::error::Result<Box<dyn Accumulator>> {
        Ok(Box::<OneSample>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> datafusion::error::Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_values", args.name),
            values_list_type(),
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> datafusion::error::Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::<GroupSamples>::default())
    }
}

/// One group's sample (used without GROUP BY).
#[derive(Debug, Default)]
struct OneSample {
    values: Vec<f64>,
}

impl Accumulator for OneSample {
    fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::error::Result<()> {
        self.values
            .extend(values[0].as_primitive::<Float64Type>().iter().flatten());
        Ok(())
    }

    fn evaluate(&mut self) -> datafusion::error::Result<ScalarValue> {
        let array = summaries_array(std::slice::from_mut(&mut self.values));
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }

    fn state(&mut self) -> datafusion::error::Result<Vec<ScalarValue>> {
        let list = samples_list(vec![std::mem::take(&mut self.values)]);
        Ok(vec![ScalarValue::try_from_array(&list, 0)?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> datafusion::error::Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                let values = lists.value(i);
                self.values
                    .extend(values.as_primitive::<Float64Type>().iter().flatten());
            }
        }
        Ok(())
    }
}

/// Every group's sample, by group index.
#[derive(Debug, Default)]
struct GroupSamples {
    samples: Vec<Vec<f64>>,
}

impl GroupsAccumulator for GroupSamples {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> datafusion::error::Result<()> {
        self.samples.resize_with(total_num_groups, Vec::new);
        let v = values[0].as_primitive::<Float64Type>();
        if v.null_count() == 0 && opt_filter.is_none() {
            for (&g, &x) in group_indices.iter().zip(v.values().iter()) {
                self.samples[g].push(x);
            }
            return Ok(());
        }
        for (row, &g) in group_indices.iter().enumerate() {
            let keep = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if keep && v.is_valid(row) {
                self.samples[g].push(v.value(row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> datafusion::error::Result<ArrayRef> {
        let mut samples = emit_to.take_needed(&mut self.samples);
        Ok(summaries_array(&mut samples))
    }

    fn state(&mut self, emit_to: EmitTo) -> datafusion::error::Result<Vec<ArrayRef>> {
        Ok(vec![samples_list(emit_to.take_needed(&mut self.samples))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> datafusion::error::Result<()> {
        self.samples.resize_with(total_num_groups, Vec::new);
        let lists = values[0].as_list::<i32>();
        let offsets = lists.value_offsets();
        let child = lists.values().as_primitive::<Float64Type>();
        for (row, &g) in group_indices.iter().enumerate() {
            if lists.is_null(row) {
                continue;
            }
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            if child.null_count() == 0 {
                self.samples[g].extend_from_slice(&child.values()[start..end]);
            } else {
                self.samples[g].extend(
                    (start..end)
                        .filter(|&i| child.is_valid(i))
                        .map(|i| child.value(i)),
                );
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> datafusion::error::Result<Vec<ArrayRef>> {
        let v = values[0].as_primitive::<Float64Type>();
        let samples: Vec<Vec<f64>> = (0..v.len())
            .map(|row| {
                let keep = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
                if keep && v.is_valid(row) {
                    vec![v.value(row)]
                } else {
                    Vec::new()
                }
            })
            .collect();
        Ok(vec![samples_list(samples)])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.samples.capacity() * std::mem::size_of::<Vec<f64>>()
            + self.samples.iter().map(|s| s.capacity() * 8).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // 1 of 10: (0.0179, 0.4042) (Wilson 1927; e.g. Newcombe 1998 table I).
        let (lo, hi) = wilson(1, 10).unwrap();
        assert!((lo - 0.017_875).abs() < 1e-5, "{lo}");
        assert!((hi - 0.404_155).abs() < 1e-5, "{hi}");
        // 0 of 5 starts at 0; 5 of 5 ends at 1.
        assert_eq!(wilson(0, 5).unwrap().0, 0.0);
        assert_eq!(wilson(5, 5).unwrap().1, 1.0);
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn median_ranks_follow_the_binomial_approximation() {
        // n = 100: 50 ± 9.8 → ranks 40 and 61.
        assert_eq!(median_ranks(100), Some((40, 61)));
        // Small samples fall back to [min, max].
        assert_eq!(median_ranks(1), Some((1, 1)));
        assert_eq!(median_ranks(4), Some((1, 4)));
        assert_eq!(median_ranks(0), None);
        let mut shuffled: Vec<f64> = (1..=100).map(|i| f64::from((i * 37) % 100 + 1)).collect();
        let s = summarise(&mut shuffled).unwrap();
        assert_eq!((s.p50_low, s.p50_high), (40.0, 61.0));
    }

    #[test]
    fn quantiles_interpolate_between_closest_ranks() {
        // The contract's example: the p50 of [1, 2, 3, 4] is 2.5.
        let s = summarise(&mut [4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.p50, 2.5);
        // h = 3 · 0.9 = 2.7 → 3 + 0.7 · (4 − 3).
        assert!((s.p90 - 3.7).abs() < 1e-12, "{}", s.p90);
        assert_eq!((s.p50_low, s.p50_high), (1.0, 4.0));
        let one = summarise(&mut [7.0]).unwrap();
        assert_eq!(
            (one.p50, one.p90, one.p50_low, one.p50_high),
            (7.0, 7.0, 7.0, 7.0)
        );
        assert_eq!(summarise(&mut []), None);
    }

    proptest::proptest! {
        #[test]
        fn intervals_contain_their_estimate(x in 0u64..200, extra in 0u64..200) {
            let n = x + extra;
            if let Some((lo, hi)) = wilson(x, n) {
                let p = x as f64 / n as f64;
                proptest::prop_assert!(lo <= p + 1e-12 && p <= hi + 1e-12 && 0.0 <= lo && hi <= 1.0);
            }
        }

        #[test]
        fn summary_by_selection_equals_summary_of_the_sorted_sample(
            v in proptest::collection::vec(0.0f64..1e6, 1..300)
        ) {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let type7 = |p: f64| {
                let h = (n - 1) as f64 * p;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
            };
            let (j, k) = median_ranks(n).unwrap();
            let s = summarise(&mut v.clone()).unwrap();
            proptest::prop_assert!((s.p50 - type7(0.5)).abs() <= 1e-9 * type7(0.5).abs().max(1.0));
            proptest::prop_assert!((s.p90 - type7(0.9)).abs() <= 1e-9 * type7(0.9).abs().max(1.0));
            proptest::prop_assert_eq!((s.p50_low, s.p50_high), (sorted[j - 1], sorted[k - 1]));
            proptest::prop_assert!(s.p50_low <= s.p50 && s.p50 <= s.p50_high);
        }
    }
}
