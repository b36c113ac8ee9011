//! The library's choices as command-line values. The library names each
//! choice and carries no clap; this module lists the values clap offers
//! (`[possible values: …]`, with their help) and maps them back.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::metrics::catalogue::{self, Metric};
use crate::metrics::interval::Interval;
use crate::metrics::levels::BenchmarkName;
use crate::metrics::{Grouping, interval_name};
use crate::render::Format;
use crate::render::metric_chart::ChartKind;

/// A library enum offered on the command line.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every value, in the order `--help` lists them.
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
    /// A line for `--help`, when the name does not say enough.
    fn help(self) -> Option<&'static str> {
        None
    }
}

/// The value parser of a [`Choice`].
pub fn choice<T: Choice>() -> impl TypedValueParser<Value = T> {
    let values = T::ALL.iter().map(|c| {
        let value = PossibleValue::new(c.name());
        match c.help() {
            Some(help) => value.help(help),
            None => value,
        }
    });
    PossibleValuesParser::new(values).map(|name| {
        *T::ALL
            .iter()
            .find(|c| c.name() == name)
            .expect("one of the possible values")
    })
}

/// `doralens chart <metric>`: the catalogue's charted metrics.
pub fn charted_metric() -> impl TypedValueParser<Value = &'static Metric> {
    PossibleValuesParser::new(catalogue::charted().map(|(_, c)| c.name))
        .map(|name| catalogue::by_chart(&name).expect("one of the possible values"))
}

impl Choice for Grouping {
    const ALL: &'static [Self] = &[Grouping::Team, Grouping::Service, Grouping::Repo];
    fn name(self) -> &'static str {
        self.column()
    }
}

impl Choice for Interval {
    const ALL: &'static [Self] = &[
        Interval::Day,
        Interval::Week,
        Interval::Month,
        Interval::Quarter,
    ];
    fn name(self) -> &'static str {
        interval_name(Some(self))
    }
}

impl Choice for BenchmarkName {
    const ALL: &'static [Self] = &BenchmarkName::EVERY;
    fn name(self) -> &'static str {
        self.id()
    }
}

impl Choice for Format {
    const ALL: &'static [Self] = &[Format::Table, Format::Json, Format::Csv, Format::Parquet];
    fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

impl Choice for ChartKind {
    const ALL: &'static [Self] = &[
        ChartKind::Series,
        ChartKind::Distribution,
        ChartKind::Comparison,
    ];
    fn name(self) -> &'static str {
        match self {
            ChartKind::Series => "series",
            ChartKind::Distribution => "distribution",
            ChartKind::Comparison => "comparison",
        }
    }
    fn help(self) -> Option<&'static str> {
        Some(match self {
            ChartKind::Series => "One line per group over the buckets, level bands shaded",
            ChartKind::Distribution => {
                "Histogram of per-commit lead times with p50 and p90 (lead-time only)"
            }
            ChartKind::Comparison => "One bar per group with its 95% interval",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Choice + PartialEq + std::fmt::Debug>() {
        let cmd = clap::Command::new("t");
        for c in T::ALL {
            let parsed = choice::<T>()
                .parse_ref(&cmd, None, std::ffi::OsStr::new(c.name()))
                .unwrap();
            assert_eq!(parsed, *c);
        }
        assert!(
            choice::<T>()
                .parse_ref(&cmd, None, std::ffi::OsStr::new("nope"))
                .is_err()
        );
    }

    #[test]
    fn every_choice_parses_back_to_itself() {
        round_trip::<Grouping>();
        round_trip::<Interval>();
        round_trip::<BenchmarkName>();
        round_trip::<Format>();
        round_trip::<ChartKind>();
    }

    #[test]
    fn chart_names_are_the_catalogues() {
        let cmd = clap::Command::new("t");
        for (m, c) in catalogue::charted() {
            let parsed = charted_metric()
                .parse_ref(&cmd, None, std::ffi::OsStr::new(c.name))
                .unwrap();
            assert_eq!(parsed.column, m.column);
        }
    }
}
