//! The DORA 2025 scores (`--benchmark dora-2025`; docs/metrics.md
//! section 5.1): each scored metric's 0-10 score from the Quick Check's
//! answers (`queries/levels/dora-2025.csv`, read by [`super::levels`]),
//! the two group scores, and the published 2025 averages they are compared
//! with (`queries/levels/dora-2025-averages.csv`).
//!
//! Every score is on the Quick Check's scale, 10 best. The group of change
//! failure rate and rework rate is what DORA calls *instability*; its
//! published figure (`software_delivery_instability`) grows as delivery gets
//! less stable, while the mean of the two scores grows as it gets more
//! stable, so the column is `stability_score`, compared with 10 minus the
//! published instability, as the Quick Check shows it.

use crate::error::{Error, Result};

use super::catalogue;
use super::levels::Benchmark;

/// A score computed from other scores.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub column: &'static str,
    pub title: &'static str,
    /// The metric columns whose scores it averages.
    pub metrics: &'static [&'static str],
}

/// The group scores, after the metrics' own in a row.
pub const GROUPS: [Group; 2] = [
    Group {
        column: "throughput_score",
        title: "Software delivery throughput",
        metrics: &["lead_time_p50_s", "deploys_per_day", "recovery_time_p50_s"],
    },
    Group {
        column: "stability_score",
        title: "Software delivery stability",
        metrics: &["change_failure_rate", "rework_rate"],
    },
];

/// Every score column in output order: the scored metrics' in catalogue
/// order, then the groups'.
pub fn columns() -> impl Iterator<Item = &'static str> {
    catalogue::scored()
        .map(|(_, s)| s)
        .chain(GROUPS.iter().map(|g| g.column))
}

/// A score column's title for people.
pub fn title(column: &str) -> Option<&'static str> {
    catalogue::METRICS
        .iter()
        .find(|m| m.score == Some(column))
        .map(|m| m.title)
        .or_else(|| GROUPS.iter().find(|g| g.column == column).map(|g| g.title))
}

/// A group's score: the mean of its metrics' scores, or null when any is
/// null (the published figure averages all of them; a mean over fewer
/// would not compare with it).
pub fn group_score(scores: &[Option<f64>]) -> Option<f64> {
    let known: Option<Vec<f64>> = scores.iter().copied().collect();
    let known = known?;
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// Every score of one row, in [`columns`] order, from the row's metric
/// values (`value(metric column)`).
pub fn row(benchmark: &Benchmark, value: impl Fn(&str) -> Option<f64>) -> Vec<Option<f64>> {
    let own: Vec<(&str, Option<f64>)> = catalogue::scored()
        .map(|(metric, _)| (metric, benchmark.score(metric, value(metric))))
        .collect();
    let mut out: Vec<Option<f64>> = own.iter().map(|(_, s)| *s).collect();
    for g in &GROUPS {
        let parts: Vec<Option<f64>> = g
            .metrics
            .iter()
            .map(|m| own.iter().find(|(c, _)| c == m).and_then(|(_, s)| *s))
            .collect();
        out.push(group_score(&parts));
    }
    out
}

/// One score beside its published average, for people (report, `serve`).
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    /// The score column.
    pub column: &'static str,
    /// The metric column it scores; `None` for a group score.
    pub metric: Option<&'static str>,
    pub title: &'static str,
    pub score: Option<f64>,
    /// The published 2025 average on the scores' scale.
    pub average: Option<Average>,
}

/// Every DORA 2025 score of one row of metric values, whatever benchmark
/// the levels come from, each beside its published average: how the report
/// and `serve` show the scores next to the levels.
pub fn compare(value: impl Fn(&str) -> Option<f64>) -> Result<Vec<Compared>> {
    let benchmark = Benchmark::load(super::levels::BenchmarkName::Dora2025)?;
    let averages = averages()?;
    let scores = row(&benchmark, value);
    Ok(columns()
        .zip(scores)
        .map(|(column, score)| Compared {
            column,
            metric: catalogue::scored()
                .find(|(_, s)| *s == column)
                .map(|(m, _)| m),
            title: title(column).unwrap_or(column),
            score,
            average: averages.of(column).cloned(),
        })
        .collect())
}

/// A published average of one score.
#[derive(Debug, Clone, PartialEq)]
pub struct Average {
    /// The score column it compares with.
    pub score: String,
    /// The Quick Check data file's field.
    pub field: String,
    pub published_mean: f64,
    pub published_std: f64,
    /// On the scores' scale (10 best).
    pub mean: f64,
    pub std: f64,
}

/// The published 2025 averages and where they come from.
#[derive(Debug, Clone)]
pub struct Averages {
    pub source: String,
    pub rows: Vec<Average>,
}

impl Averages {
    pub fn of(&self, score: &str) -> Option<&Average> {
        self.rows.iter().find(|a| a.score == score)
    }
}

const AVERAGES_FILE: &str = "queries/levels/dora-2025-averages.csv";

/// The bundled averages.
pub fn averages() -> Result<Averages> {
    parse_averages(include_str!("../../queries/levels/dora-2025-averages.csv"))
}

fn parse_averages(text: &str) -> Result<Averages> {
    let bad = |line: usize, message: String| Error::Input {
        file: AVERAGES_FILE.into(),
        line,
        column: "*".into(),
        message,
    };
    let mut source = String::new();
    let mut rows = Vec::new();
    let mut header_seen = false;
    let mut in_source = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if let Some(comment) = line.strip_prefix('#') {
            // The source: its line and the indented lines after it.
            if let Some(s) = comment.trim().strip_prefix("source:") {
                source = s.trim().to_string();
                in_source = true;
            } else if in_source && comment.starts_with("   ") {
                source = format!("{source} {}", comment.trim());
            } else {
                in_source = false;
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if !header_seen {
            if line != "score,field,published_mean,published_std,mean,std" {
                return Err(bad(
                    i + 1,
                    "expected the header score,field,published_mean,published_std,mean,std".into(),
                ));
            }
            header_seen = true;
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let number = |k: usize| -> Result<f64> {
            f.get(k)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| bad(i + 1, format!("column {} is not a number", k + 1)))
        };
        if f.len() != 6 {
            return Err(bad(i + 1, "expected 6 columns".into()));
        }
        rows.push(Average {
            score: f[0].to_string(),
            field: f[1].to_string(),
            published_mean: number(2)?,
            published_std: number(3)?,
            mean: number(4)?,
            std: number(5)?,
        });
    }
    Ok(Averages { source, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::levels::BenchmarkName;

    fn dora_2025() -> Benchmark {
        Benchmark::load(BenchmarkName::Dora2025).unwrap()
    }

    #[test]
    fn every_score_has_a_published_average_on_its_scale() {
        let a = averages().unwrap();
        assert!(a.source.contains("industry_metrics.json"), "{}", a.source);
        assert!(a.source.contains("2026-12-06"), "{}", a.source);
        for c in columns() {
            let avg = a.of(c).unwrap_or_else(|| panic!("{c} has no average"));
            assert!((0.0..=10.0).contains(&avg.mean), "{c}");
            assert!(title(c).is_some(), "{c}");
        }
        assert_eq!(a.rows.len(), columns().count());
        // The Quick Check shows the instability-side figures as 10 − mean.
        for (score, published) in [
            ("change_failure_rate_score", 1.9),
            ("rework_rate_score", 2.2),
            ("stability_score", 2.1),
        ] {
            let avg = a.of(score).unwrap();
            assert_eq!(avg.published_mean, published);
            assert!((avg.mean - (10.0 - published)).abs() < 1e-9, "{score}");
            assert_eq!(avg.std, avg.published_std);
        }
        assert_eq!(a.of("deployment_frequency_score").unwrap().mean, 4.8);
        assert_eq!(a.of("deployment_frequency_score").unwrap().std, 2.8);
        // The published throughput agrees with its parts (within rounding).
        let parts: f64 = GROUPS[0]
            .metrics
            .iter()
            .map(|m| {
                let s = catalogue::by_column(m).unwrap().score.unwrap();
                a.of(s).unwrap().mean
            })
            .sum::<f64>()
            / 3.0;
        assert!((parts - a.of("throughput_score").unwrap().mean).abs() < 0.2);
    }

    #[test]
    fn groups_average_all_their_scores_or_are_null() {
        assert_eq!(group_score(&[Some(10.0), Some(8.0), Some(0.0)]), Some(6.0));
        assert_eq!(group_score(&[Some(10.0), None]), None);
        let b = dora_2025();
        let values = |m: &str| match m {
            "deploys_per_day" => Some(2.0),       // hourly-to-daily: 8
            "lead_time_p50_s" => Some(7_200.0),   // less than a day: 8
            "recovery_time_p50_s" => Some(600.0), // less than an hour: 10
            "change_failure_rate" => Some(0.25),  // 7.5
            "rework_rate" => Some(0.05),          // 9.5
            _ => None,
        };
        let row = row(&b, values);
        let names: Vec<&str> = columns().collect();
        let at = |c: &str| row[names.iter().position(|n| *n == c).unwrap()];
        assert_eq!(at("deployment_frequency_score"), Some(8.0));
        assert_eq!(at("change_failure_rate_score"), Some(7.5));
        assert_eq!(at("throughput_score"), Some(26.0 / 3.0));
        assert_eq!(at("stability_score"), Some(8.5));
        let without_recovery = row_of(&b, |m| {
            (m != "recovery_time_p50_s").then(|| values(m)).flatten()
        });
        let at = |c: &str| without_recovery[names.iter().position(|n| *n == c).unwrap()];
        assert_eq!(at("throughput_score"), None);
        assert_eq!(at("stability_score"), Some(8.5));
    }

    fn row_of(b: &Benchmark, value: impl Fn(&str) -> Option<f64>) -> Vec<Option<f64>> {
        row(b, value)
    }

    #[test]
    fn compare_scores_any_row_beside_the_averages() {
        let c = compare(|m| (m == "deploys_per_day").then_some(1.0 / 7.0)).unwrap();
        assert_eq!(c.len(), columns().count());
        let df = c
            .iter()
            .find(|x| x.column == "deployment_frequency_score")
            .unwrap();
        assert_eq!(df.score, Some(6.0));
        assert_eq!(df.metric, Some("deploys_per_day"));
        assert_eq!(df.average.as_ref().unwrap().mean, 4.8);
        let t = c.iter().find(|x| x.column == "throughput_score").unwrap();
        assert_eq!((t.score, t.metric), (None, None));
        assert_eq!(t.title, "Software delivery throughput");
    }

    #[test]
    fn a_bad_averages_file_names_its_line() {
        let e =
            parse_averages("score,field,published_mean,published_std,mean,std\nx,y,1,2,three,4\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("dora-2025-averages.csv"), "{e}");
        assert!(e.contains('2'), "{e}");
    }
}
