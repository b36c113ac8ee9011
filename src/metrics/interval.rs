//! Interval buckets (docs/metrics.md section 2): UTC calendar days, ISO weeks
//! (Monday 00:00), months and quarters.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Start of the bucket containing `micros`.
pub fn floor(micros: i64, interval: Interval) -> i64 {
    match interval {
        Interval::Day => micros.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY,
        Interval::Week => {
            // 1970-01-01 was a Thursday: Monday-based weeks are offset by 3 days.
            let day = micros.div_euclid(MICROS_PER_DAY);
            (day - (day + 3).rem_euclid(7)) * MICROS_PER_DAY
        }
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
pub fn buckets(from: i64, to: i64, interval: Option<Interval>) -> Vec<Bucket> {
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

/// Parses `--from`/`--to`: RFC 3339, or a date meaning its UTC midnight.
pub fn parse_instant(option: &str, s: &str) -> crate::Result<i64> {
    if let Some(v) = crate::ingest::rows::parse_timestamp_micros(s) {
        return Ok(v);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(from_date(d));
    }
    Err(crate::Error::usage(
        option,
        format!(
            "`{s}` is neither an RFC 3339 timestamp (2026-01-05T09:30:00Z) nor a date (2026-01-05)"
        ),
    ))
}

/// Parses a duration such as `24h`, `90m`, `3600s`, `2d`, or `0`.
pub fn parse_duration_micros(option: &str, s: &str) -> crate::Result<i64> {
    let t = s.trim();
    let bad = || {
        crate::Error::usage(
            option,
            format!(
                "`{s}` is not a duration; write a number with a unit: 90s, 30m, 24h, 7d (0 turns it off)"
            ),
        )
    };
    if t == "0" {
        return Ok(0);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        _ => return Err(bad()),
    };
    Ok((n * seconds * 1e6).round() as i64)
}

pub fn format_instant(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn days_micros(days: i64) -> i64 {
    Duration::days(days).num_microseconds().expect("small")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        parse_instant("t", s).unwrap()
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
            t("2026-01-07T12:00:00Z"),
            t("2026-01-20"),
            Some(Interval::Week),
        );
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].start, t("2026-01-05"));
        assert_eq!(b[0].days_in_window, 4.5);
        assert_eq!(b[1].days_in_window, 7.0);
        assert_eq!(b[2].days_in_window, 1.0);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_micros("w", "24h").unwrap(), 86_400_000_000);
        assert_eq!(parse_duration_micros("w", "90m").unwrap(), 5_400_000_000);
        assert_eq!(parse_duration_micros("w", "0s").unwrap(), 0);
        assert_eq!(parse_duration_micros("w", "0").unwrap(), 0);
        assert!(parse_duration_micros("w", "24").is_err());
        assert!(parse_duration_micros("w", "h").is_err());
    }
}
