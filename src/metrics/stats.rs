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
//! `median_interval(x)` is an aggregate for the metric SQL returning
//! `[low, high]`; nulls are ignored and no values give null.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Accumulator, AggregateUDF, Volatility, create_udaf};

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

/// The interval of a sorted sample.
pub fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    let (j, k) = median_ranks(sorted.len())?;
    Some((sorted[j - 1], sorted[k - 1]))
}

#[derive(Debug, Default)]
struct MedianInterval {
    values: Vec<f64>,
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

impl Accumulator for MedianInterval {
    fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::error::Result<()> {
        let v = values[0].as_primitive::<Float64Type>();
        self.values.extend(v.iter().flatten());
        Ok(())
    }

    fn evaluate(&mut self) -> datafusion::error::Result<ScalarValue> {
        self.values.sort_unstable_by(f64::total_cmp);
        let list = match median_interval(&self.values) {
            Some((low, high)) => {
                ListArray::from_iter_primitive::<Float64Type, _, _>([Some([Some(low), Some(high)])])
            }
            None => {
                ListArray::new_null(Arc::new(Field::new_list_field(DataType::Float64, true)), 1)
            }
        };
        Ok(ScalarValue::List(Arc::new(list)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }

    fn state(&mut self) -> datafusion::error::Result<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Float64, true)),
            datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]),
            Arc::new(values),
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
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

/// `median_interval(x DOUBLE) -> [low, high]`.
pub fn median_interval_udaf() -> AggregateUDF {
    create_udaf(
        "median_interval",
        vec![DataType::Float64],
        Arc::new(list_type()),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::<MedianInterval>::default())),
        Arc::new(vec![list_type()]),
    )
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
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(median_interval(&sorted), Some((40.0, 61.0)));
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
        fn median_interval_contains_the_median(mut v in proptest::collection::vec(0.0f64..1e6, 1..300)) {
            v.sort_by(f64::total_cmp);
            let (lo, hi) = median_interval(&v).unwrap();
            let n = v.len();
            let median = (v[(n - 1) / 2] + v[n / 2]) / 2.0;
            proptest::prop_assert!(lo <= median && median <= hi);
        }
    }
}
