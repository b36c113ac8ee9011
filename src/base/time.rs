//! Time, the bottom layer's way: instants are `i64` microseconds since the
//! Unix epoch, UTC (what every table stores). One parser for RFC 3339, one
//! for the options' dates and durations, one formatter.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

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

// ISO weeks (the report's unit).

/// `2026-W46` → Monday 00:00 UTC of that ISO week.
pub fn parse_week(s: &str) -> crate::error::Result<i64> {
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
    Ok(monday
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros())
}

/// Monday 00:00 UTC → `2026-W46`.
pub fn week_name(monday: i64) -> String {
    let date = chrono::DateTime::from_timestamp_micros(monday)
        .unwrap_or_default()
        .date_naive();
    let iso = date.iso_week();
    format!("{}-W{:02}", iso.year(), iso.week())
}

/// The last complete ISO week before `now`.
pub fn last_complete_week(now: i64) -> i64 {
    // Monday 00:00 UTC of the week holding `now`, less a week.
    let day = now.div_euclid(MICROS_PER_DAY);
    // 1970-01-01 was a Thursday: days since a Monday are (day + 3) mod 7.
    (day - (day + 3).rem_euclid(7)) * MICROS_PER_DAY - 7 * MICROS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_round_trip_and_the_last_complete_week_is_the_one_before() {
        let monday = parse_week("2026-W46").unwrap();
        assert_eq!(format_instant(monday), "2026-11-09T00:00:00Z");
        assert_eq!(week_name(monday), "2026-W46");
        // Any moment of W47 (Mon 11-16 .. Sun 11-22) reports W46.
        for now in [
            "2026-11-16T00:00:00Z",
            "2026-11-18T12:00:00Z",
            "2026-11-22T23:59:59Z",
        ] {
            assert_eq!(
                last_complete_week(parse_rfc3339(now).unwrap()),
                monday,
                "{now}"
            );
        }
        assert!(parse_week("2026-46").is_err());
    }
}
