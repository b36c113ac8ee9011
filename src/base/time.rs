//! Time, the bottom layer's way: instants are `i64` microseconds since the
//! Unix epoch, UTC (what every table stores). One parser for RFC 3339, one
//! for the options' dates and durations, one formatter.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// RFC 3339 with any offset (surrounding blanks allowed) → microseconds UTC.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Parses `--from`/`--to`: RFC 3339, or a date meaning its UTC midnight.
pub fn parse_instant(option: &str, s: &str) -> crate::Result<i64> {
    if let Some(v) = parse_rfc3339(s) {
        return Ok(v);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(Utc
            .from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .timestamp_micros());
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
