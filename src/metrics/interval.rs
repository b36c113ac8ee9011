//! Interval buckets (docs/metrics.md section 2): UTC calendar days, ISO weeks
//! (Monday 00:00), months and quarters.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

pub use crate::base::time::{
    MICROS_PER_DAY, Span, Timestamp, format_instant, parse_instant, parse_span,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Day,
    Week,
    Month,
    Quarter,
}

fn to_date(micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .expect("timestamp in range")
        .date_naive()
}

fn from_date(d: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
        .timestamp_micros()
}

/// Start of the bucket containing `micros` (a table cell's instant).
pub fn floor(micros: i64, interval: Interval) -> i64 {
    match interval {
        Interval::Day => Timestamp::from_micros(micros).start_of_day().micros(),
        Interval::Week => Timestamp::from_micros(micros).start_of_week().micros(),
        Interval::Month => {
            let d = to_date(micros);
            from_date(NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("valid"))
        }
        Interval::Quarter => {
            let d = to_date(micros);
            let m = (d.month0() / 3) * 3 + 1;
            from_date(NaiveDate::from_ymd_opt(d.year(), m, 1).expect("valid"))
        }
    }
}

/// Start of the bucket after the one starting at `start`.
pub fn next(start: i64, interval: Interval) -> i64 {
    match interval {
        Interval::Day => start + MICROS_PER_DAY,
        Interval::Week => start + 7 * MICROS_PER_DAY,
        Interval::Month | Interval::Quarter => {
            let months = if interval == Interval::Month { 1 } else { 3 };
            let d = to_date(start);
            let total = d.year() * 12 + d.month0() as i32 + months;
            from_date(
                NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
                    .expect("valid"),
            )
        }
    }
}

/// One output bucket: its calendar start and how many days of it lie inside
/// the window (fractional for partial days).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub start: i64,
    pub days_in_window: f64,
}

/// Every bucket overlapping `[from, to)`; with no interval, the whole
/// window as one bucket starting at `from`.
pub fn buckets(from: Timestamp, to: Timestamp, interval: Option<Interval>) -> Vec<Bucket> {
    let (from, to) = (from.micros(), to.micros());
    let days = |a: i64, b: i64| (b - a) as f64 / MICROS_PER_DAY as f64;
    let Some(interval) = interval else {
        return vec![Bucket {
            start: from,
            days_in_window: days(from, to),
        }];
    };
    let mut out = Vec::new();
    let mut start = floor(from, interval);
    while start < to {
        let end = next(start, interval);
        out.push(Bucket {
            start,
            days_in_window: days(start.max(from), end.min(to)),
        });
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        parse_instant("t", s).unwrap().micros()
    }

    #[test]
    fn weeks_start_monday_utc() {
        // 2026-01-07 is a Wednesday; its ISO week starts Monday 2026-01-05.
        assert_eq!(
            floor(t("2026-01-07T15:00:00Z"), Interval::Week),
            t("2026-01-05")
        );
        assert_eq!(
            floor(t("2026-01-05T00:00:00Z"), Interval::Week),
            t("2026-01-05")
        );
        assert_eq!(
            floor(t("2026-01-04T23:59:59Z"), Interval::Week),
            t("2025-12-29")
        );
    }

    #[test]
    fn offsets_are_converted_to_utc_before_bucketing() {
        // 00:30 at +01:00 is still the previous UTC day.
        assert_eq!(
            floor(t("2026-01-05T00:30:00+01:00"), Interval::Day),
            t("2026-01-04")
        );
    }

    #[test]
    fn months_and_quarters() {
        assert_eq!(
            floor(t("2026-05-17T01:00:00Z"), Interval::Quarter),
            t("2026-04-01")
        );
        assert_eq!(next(t("2026-10-01"), Interval::Quarter), t("2027-01-01"));
        assert_eq!(next(t("2026-12-01"), Interval::Month), t("2027-01-01"));
    }

    #[test]
    fn buckets_cover_the_window_with_partial_days() {
        let b = buckets(
            Timestamp::from_micros(t("2026-01-07T12:00:00Z")),
            Timestamp::from_micros(t("2026-01-20")),
            Some(Interval::Week),
        );
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].start, t("2026-01-05"));
        assert_eq!(b[0].days_in_window, 4.5);
        assert_eq!(b[1].days_in_window, 7.0);
        assert_eq!(b[2].days_in_window, 1.0);
    }
}
