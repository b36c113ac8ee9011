//! Time, the bottom layer's way. Table cells are `i64` microseconds since
//! the Unix epoch, UTC (what every table stores, Arrow's
//! `Timestamp(Microsecond, UTC)`); everything above the cells (options,
//! windows, weeks, reports) holds a [`Timestamp`], and lengths of time a
//! [`Span`], so an instant is never mistaken for a duration or for seconds.
//! One parser for RFC 3339, one for the options' dates and durations, one
//! formatter.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub, SubAssign};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// An instant: microseconds since the Unix epoch, UTC. Displays as
/// RFC 3339 (`2026-11-09T00:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A length of time in microseconds (may be negative as a difference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From a table cell's microseconds.
    pub const fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// As a table cell's microseconds.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The one wall clock every part of doralens reads. `DORALENS_NOW`
    /// (RFC 3339) stops it at that instant for the whole process: tests
    /// and reproducible runs (default windows, "the last complete week",
    /// a first sync's start) without passing dates everywhere.
    pub fn now() -> Timestamp {
        static FIXED: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
        let fixed = *FIXED.get_or_init(|| {
            std::env::var("DORALENS_NOW")
                .ok()
                .and_then(|v| parse_rfc3339(&v))
        });
        Timestamp(fixed.unwrap_or_else(|| Utc::now().timestamp_micros()))
    }

    /// RFC 3339 with any offset (surrounding blanks allowed).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        parse_rfc3339(s).map(Timestamp)
    }

    /// 00:00 UTC of the same day.
    pub fn start_of_day(self) -> Timestamp {
        Timestamp(self.0.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY)
    }

    /// Monday 00:00 UTC of the ISO week holding this instant.
    pub fn start_of_week(self) -> Timestamp {
        let day = self.0.div_euclid(MICROS_PER_DAY);
        // 1970-01-01 was a Thursday: days since a Monday are (day + 3) mod 7.
        Timestamp((day - (day + 3).rem_euclid(7)) * MICROS_PER_DAY)
    }

    /// `2026-11-09`.
    pub fn date(self) -> String {
        self.to_string()[..10].to_string()
    }

    /// `2026-11-09 14:05` (UTC), for tables people read.
    pub fn minute(self) -> String {
        let s = self.to_string();
        format!("{} {}", &s[..10], &s[11..16])
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_instant(self.0))
    }
}

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_micros(micros: i64) -> Span {
        Span(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub const fn days(days: i64) -> Span {
        Span(days * MICROS_PER_DAY)
    }

    pub const fn hours(hours: i64) -> Span {
        Span(hours * MICROS_PER_HOUR)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SECOND as f64
    }

    pub fn as_days_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_DAY as f64
    }
}

impl Add<Span> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Span) -> Timestamp {
        Timestamp(self.0 + rhs.0)
    }
}

impl Sub<Span> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Span) -> Timestamp {
        Timestamp(self.0 - rhs.0)
    }
}

impl AddAssign<Span> for Timestamp {
    fn add_assign(&mut self, rhs: Span) {
        self.0 += rhs.0;
    }
}

impl SubAssign<Span> for Timestamp {
    fn sub_assign(&mut self, rhs: Span) {
        self.0 -= rhs.0;
    }
}

impl Sub for Timestamp {
    type Output = Span;
    fn sub(self, rhs: Timestamp) -> Span {
        Span(self.0 - rhs.0)
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0 + rhs.0)
    }
}

impl Mul<i64> for Span {
    type Output = Span;
    fn mul(self, rhs: i64) -> Span {
        Span(self.0 * rhs)
    }
}

/// RFC 3339 with any offset (surrounding blanks allowed) → a table cell's
/// microseconds, UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Parses `--from`/`--to`: RFC 3339, or a date meaning its UTC midnight.
pub fn parse_instant(option: &str, s: &str) -> crate::Result<Timestamp> {
    if let Some(v) = Timestamp::parse_rfc3339(s) {
        return Ok(v);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(Timestamp(
            Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .timestamp_micros(),
        ));
    }
    Err(crate::Error::usage(
        option,
        format!(
            "`{s}` is neither an RFC 3339 timestamp (2026-01-05T09:30:00Z) nor a date (2026-01-05)"
        ),
    ))
}

/// Parses a duration such as `24h`, `90m`, `3600s`, `2d`, or `0`.
pub fn parse_span(option: &str, s: &str) -> crate::Result<Span> {
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
        return Ok(Span::ZERO);
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
    Ok(Span((n * seconds * 1e6).round() as i64))
}

/// A table cell's microseconds as RFC 3339 (`Timestamp` displays the same).
pub fn format_instant(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

// ISO weeks (the report's unit).

/// `2026-W46` → Monday 00:00 UTC of that ISO week.
pub fn parse_week(s: &str) -> crate::error::Result<Timestamp> {
    let bad = || {
        crate::error::Error::usage(
            "--week",
            format!("`{s}` is not an ISO week; write it like 2026-W46"),
        )
    };
    let (year, week) = s.split_once("-W").ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let week: u32 = week.parse().map_err(|_| bad())?;
    let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
    Ok(Timestamp(
        monday
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros(),
    ))
}

/// Monday 00:00 UTC → `2026-W46`.
pub fn week_name(monday: Timestamp) -> String {
    let date = chrono::DateTime::from_timestamp_micros(monday.0)
        .unwrap_or_default()
        .date_naive();
    let iso = date.iso_week();
    format!("{}-W{:02}", iso.year(), iso.week())
}

/// The last complete ISO week before `now`.
pub fn last_complete_week(now: Timestamp) -> Timestamp {
    now.start_of_week() - Span::days(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_round_trip_and_the_last_complete_week_is_the_one_before() {
        let monday = parse_week("2026-W46").unwrap();
        assert_eq!(monday.to_string(), "2026-11-09T00:00:00Z");
        assert_eq!(week_name(monday), "2026-W46");
        // Any moment of W47 (Mon 11-16 .. Sun 11-22) reports W46.
        for now in [
            "2026-11-16T00:00:00Z",
            "2026-11-18T12:00:00Z",
            "2026-11-22T23:59:59Z",
        ] {
            assert_eq!(
                last_complete_week(Timestamp::parse_rfc3339(now).unwrap()),
                monday,
                "{now}"
            );
        }
        assert!(parse_week("2026-46").is_err());
    }

    #[test]
    fn instants_and_spans_do_arithmetic_in_microseconds() {
        let t = Timestamp::parse_rfc3339("2026-11-18T14:05:30+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-18T13:05:30Z");
        assert_eq!(t.date(), "2026-11-18");
        assert_eq!(t.minute(), "2026-11-18 13:05");
        assert_eq!(t.start_of_day().to_string(), "2026-11-18T00:00:00Z");
        assert_eq!(t.start_of_week().to_string(), "2026-11-16T00:00:00Z");
        assert_eq!((t + Span::days(1)) - t, Span::hours(24));
        assert_eq!(Span::days(2).as_secs_f64(), 172_800.0);
        assert_eq!(
            parse_span("w", "90m").unwrap(),
            Span::from_micros(5_400_000_000)
        );
        assert_eq!(parse_span("w", "0").unwrap(), Span::ZERO);
        assert!(parse_span("w", "24").is_err());
        assert_eq!(
            parse_instant("--to", "2026-11-18").unwrap(),
            t.start_of_day()
        );
    }
}
