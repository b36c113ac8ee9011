//! Performance levels (docs/metrics.md section 5) from versioned benchmark
//! tables shipped as data in `queries/levels/*.csv`.

use std::borrow::Cow;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BenchmarkName {
    Dora2021,
    #[default]
    Dora2023,
    Dora2024,
    /// The DORA 2025 Quick Check's answers and 0-10 scores.
    Dora2025,
}

impl BenchmarkName {
    /// Every benchmark, oldest first.
    pub const EVERY: [BenchmarkName; 4] = [
        BenchmarkName::Dora2021,
        BenchmarkName::Dora2023,
        BenchmarkName::Dora2024,
        BenchmarkName::Dora2025,
    ];

    /// The benchmark whose [`id`](Self::id) is `id`.
    pub fn from_id(id: &str) -> Option<BenchmarkName> {
        Self::EVERY.into_iter().find(|b| b.id() == id)
    }

    /// `dora-2023`: the file's name and the `--benchmark` value.
    pub fn id(self) -> &'static str {
        self.data().0
    }

    fn data(self) -> (&'static str, &'static str) {
        match self {
            BenchmarkName::Dora2021 => (
                "dora-2021",
                include_str!("../../queries/levels/dora-2021.csv"),
            ),
            BenchmarkName::Dora2023 => (
                "dora-2023",
                include_str!("../../queries/levels/dora-2023.csv"),
            ),
            BenchmarkName::Dora2024 => (
                "dora-2024",
                include_str!("../../queries/levels/dora-2024.csv"),
            ),
            BenchmarkName::Dora2025 => (
                "dora-2025",
                include_str!("../../queries/levels/dora-2025.csv"),
            ),
        }
    }
}

/// The metrics that carry a level, with their output column names (from
/// the metric catalogue).
pub fn levelled() -> impl Iterator<Item = (&'static str, &'static str)> {
    super::catalogue::levelled()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Ge,
    Gt,
    Le,
    Lt,
    /// The metric's worst answer: what no row above held (dora-2025).
    Else,
    /// A 0-100 % slider (dora-2025): the level is the rate as a whole
    /// percent, the score 10 × (1 − rate).
    Slider,
}

#[derive(Debug, Clone)]
struct Band {
    metric: String,
    level: String,
    comparison: Comparison,
    threshold: f64,
    /// The 0-10 score of the answer (files with a `score` column).
    score: Option<f64>,
    /// The answer's own words (files with an `answer` column).
    answer: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Benchmark {
    pub name: &'static str,
    pub source: String,
    bands: Vec<Band>,
    /// The file has scores (dora-2025): metrics rows carry score columns.
    scored: bool,
}

impl Benchmark {
    pub fn load(name: BenchmarkName) -> Result<Benchmark> {
        let (id, text) = name.data();
        Benchmark::parse(id, text)
    }

    fn parse(name: &'static str, text: &str) -> Result<Benchmark> {
        let bad = |line: usize, msg: String| Error::Input {
            file: format!("queries/levels/{name}.csv").into(),
            line,
            column: "*".into(),
            message: msg,
        };
        let mut source = String::new();
        let mut bands = Vec::new();
        let mut header: Option<Vec<String>> = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(s) = comment.trim().strip_prefix("source:") {
                    source = s.trim().to_string();
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let Some(columns) = &header else {
                let names: Vec<String> = line.split(',').map(str::to_string).collect();
                let known = ["metric", "level", "comparison", "threshold"];
                let scored = ["score", "answer"];
                if names.len() < 4
                    || names[..4] != known
                    || (names.len() > 4 && names[4..] != scored)
                {
                    return Err(bad(
                        i + 1,
                        "expected the header metric,level,comparison,threshold[,score,answer]"
                            .into(),
                    ));
                }
                header = Some(names);
                continue;
            };
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != columns.len() {
                return Err(bad(i + 1, format!("expected {}", columns.join(","))));
            }
            let comparison = match f[2] {
                ">=" => Comparison::Ge,
                ">" => Comparison::Gt,
                "<=" => Comparison::Le,
                "<" => Comparison::Lt,
                "else" if f.len() > 4 => Comparison::Else,
                "slider" if f.len() > 4 => Comparison::Slider,
                other => return Err(bad(i + 1, format!("bad comparison `{other}`"))),
            };
            let threshold = match comparison {
                Comparison::Else | Comparison::Slider => f64::NAN,
                _ => parse_number(f[3])
                    .ok_or_else(|| bad(i + 1, format!("bad threshold `{}`", f[3])))?,
            };
            let score = match f.get(4) {
                None => None,
                Some(_) if comparison == Comparison::Slider => None,
                Some(s) => Some(
                    parse_number(s)
                        .filter(|v| (0.0..=10.0).contains(v))
                        .ok_or_else(|| bad(i + 1, format!("bad score `{s}` (0 to 10)")))?,
                ),
            };
            bands.push(Band {
                metric: f[0].to_string(),
                level: f[1].to_string(),
                comparison,
                threshold,
                score,
                answer: f.get(5).map(|a| a.to_string()),
            });
        }
        let scored = header.is_some_and(|h| h.len() > 4);
        Ok(Benchmark {
            name,
            source,
            bands,
            scored,
        })
    }

    /// The benchmark scores as well as levels (dora-2025): the metrics
    /// rows carry the score columns of `src/metrics/scores.rs`.
    pub fn scored(&self) -> bool {
        self.scored
    }

    /// The level of one statistic; null statistics have no level.
    pub fn level(&self, metric: &str, value: Option<f64>) -> Option<Cow<'_, str>> {
        let (band, v) = self.band(metric, value)?;
        Some(match band {
            Some(b) if b.comparison == Comparison::Slider => {
                Cow::Owned(format!("{}%", (v.clamp(0.0, 1.0) * 100.0).round()))
            }
            Some(b) => Cow::Borrowed(&b.level),
            None => Cow::Borrowed("low"),
        })
    }

    /// The 0-10 score of one statistic (10 best), for a scored benchmark;
    /// null statistics have no score.
    pub fn score(&self, metric: &str, value: Option<f64>) -> Option<f64> {
        if !self.scored {
            return None;
        }
        let (band, v) = self.band(metric, value)?;
        let band = band?;
        match band.comparison {
            // data-service.ts: recode_numeric_range(percent, 0, 100, 10, 0).
            Comparison::Slider => Some(10.0 * (1.0 - v.clamp(0.0, 1.0))),
            _ => band.score,
        }
    }

    /// The band a value falls in (`None` for the implicit `low`), and the
    /// value; `None` for a null or NaN value.
    fn band(&self, metric: &str, value: Option<f64>) -> Option<(Option<&Band>, f64)> {
        let v = value?;
        if v.is_nan() {
            return None;
        }
        for band in self.bands.iter().filter(|b| b.metric == metric) {
            let holds = match band.comparison {
                Comparison::Ge => v >= band.threshold,
                Comparison::Gt => v > band.threshold,
                Comparison::Le => v <= band.threshold,
                Comparison::Lt => v < band.threshold,
                Comparison::Else | Comparison::Slider => true,
            };
            if holds {
                return Some((Some(band), v));
            }
        }
        Some((None, v))
    }

    /// How good a level is, to compare two of one metric (a trend): the
    /// answer's score in a scored benchmark (a percent `p%` as
    /// 10 × (1 − p/100)), else low < medium < high < elite.
    pub fn rank(&self, metric: &str, level: &str) -> Option<f64> {
        if !self.scored {
            const ORDER: [&str; 4] = ["low", "medium", "high", "elite"];
            return ORDER.iter().position(|l| *l == level).map(|i| i as f64);
        }
        if let Some(p) = level.strip_suffix('%') {
            return p.parse::<f64>().ok().map(|p| 10.0 - p / 10.0);
        }
        self.bands
            .iter()
            .find(|b| b.metric == metric && b.level == level)
            .and_then(|b| b.score)
    }

    /// The Quick Check's words for a level, where the file gives them.
    pub fn answer(&self, metric: &str, level: &str) -> Option<&str> {
        self.bands
            .iter()
            .find(|b| {
                b.metric == metric && (b.level == level || b.comparison == Comparison::Slider)
            })
            .and_then(|b| b.answer.as_deref())
    }
}

impl Benchmark {
    /// The metric columns the bands judge, each once, in file order.
    pub fn metrics(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for band in &self.bands {
            if !out.contains(&band.metric.as_str()) {
                out.push(&band.metric);
            }
        }
        out
    }

    /// The value ranges of each level of `metric`, best level first, for
    /// shading charts: `(level, low, high)` with open ends as infinities.
    pub fn ranges(&self, metric: &str) -> Vec<(String, f64, f64)> {
        let bands: Vec<&Band> = self
            .bands
            .iter()
            .filter(|b| b.metric == metric && b.comparison != Comparison::Else)
            .collect();
        // A slider has no bands to shade.
        if bands.iter().any(|b| b.comparison == Comparison::Slider) {
            return Vec::new();
        }
        let worst = self
            .bands
            .iter()
            .find(|b| b.metric == metric && b.comparison == Comparison::Else)
            .map_or("low", |b| b.level.as_str());
        let higher_is_better = bands
            .first()
            .is_some_and(|b| matches!(b.comparison, Comparison::Ge | Comparison::Gt));
        let mut out = Vec::new();
        let mut edge = if higher_is_better { f64::INFINITY } else { 0.0 };
        for band in &bands {
            let (low, high) = if higher_is_better {
                (band.threshold, edge)
            } else {
                (edge, band.threshold)
            };
            out.push((band.level.clone(), low, high));
            edge = band.threshold;
        }
        let last = if higher_is_better {
            (0.0, edge)
        } else {
            (edge, f64::INFINITY)
        };
        out.push((worst.to_string(), last.0, last.1));
        out
    }
}

/// `0.5`, `86400` or a fraction such as `1/7`.
fn parse_number(s: &str) -> Option<f64> {
    match s.split_once('/') {
        Some((a, b)) => Some(a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?),
        None => s.trim().parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dora_2023_bands_follow_metrics_md() {
        let b = Benchmark::load(BenchmarkName::Dora2023).unwrap();
        assert_eq!(
            b.level("deploys_per_day", Some(1.0)).as_deref(),
            Some("elite")
        );
        assert_eq!(
            b.level("deploys_per_day", Some(1.0 / 7.0)).as_deref(),
            Some("high")
        );
        assert_eq!(
            b.level("deploys_per_day", Some(0.1)).as_deref(),
            Some("medium")
        );
        assert_eq!(
            b.level("deploys_per_day", Some(0.01)).as_deref(),
            Some("low")
        );
        assert_eq!(
            b.level("lead_time_p50_s", Some(86_399.0)).as_deref(),
            Some("elite")
        );
        assert_eq!(
            b.level("lead_time_p50_s", Some(86_400.0)).as_deref(),
            Some("high")
        );
        assert_eq!(
            b.level("change_failure_rate", Some(0.05)).as_deref(),
            Some("elite")
        );
        assert_eq!(
            b.level("change_failure_rate", Some(0.151)).as_deref(),
            Some("low")
        );
        assert_eq!(
            b.level("recovery_time_p50_s", Some(3600.0)).as_deref(),
            Some("high")
        );
        assert_eq!(b.level("recovery_time_p50_s", None), None);
        assert!(b.source.contains("2023"));
    }

    #[test]
    fn ranges_tile_the_axis() {
        let b = Benchmark::load(BenchmarkName::Dora2023).unwrap();
        let lt = b.ranges("lead_time_p50_s");
        assert_eq!(lt[0], ("elite".to_string(), 0.0, 86_400.0));
        assert_eq!(lt[3], ("low".to_string(), 2_592_000.0, f64::INFINITY));
        let df = b.ranges("deploys_per_day");
        assert_eq!(df[0], ("elite".to_string(), 1.0, f64::INFINITY));
        assert_eq!(df[3].0, "low");
        assert_eq!(df[3].1, 0.0);
    }

    #[test]
    fn every_benchmark_names_its_source_and_covers_four_metrics() {
        for name in BenchmarkName::EVERY {
            let b = Benchmark::load(name).unwrap();
            assert!(!b.source.is_empty(), "{} has no source", b.name);
            for (metric, _) in levelled() {
                assert!(
                    b.bands.iter().any(|x| x.metric == metric),
                    "{} lacks {metric}",
                    b.name
                );
            }
        }
    }

    #[test]
    fn dora_2025_answers_follow_metrics_md_5_1() {
        let b = Benchmark::load(BenchmarkName::Dora2025).unwrap();
        assert!(b.scored());
        assert_eq!(
            BenchmarkName::from_id("dora-2025"),
            Some(BenchmarkName::Dora2025)
        );
        let at = |m: &str, v: f64| {
            (
                b.level(m, Some(v)).unwrap().into_owned(),
                b.score(m, Some(v)).unwrap(),
            )
        };
        for m in ["lead_time_p50_s", "recovery_time_p50_s"] {
            for (v, level, score) in [
                (0.0, "less-than-1-hour", 10.0),
                (3_599.0, "less-than-1-hour", 10.0),
                (3_600.0, "less-than-1-day", 8.0),
                (86_400.0, "1-day-to-1-week", 6.0),
                (604_800.0, "1-day-to-1-week", 6.0),
                (604_800.5, "1-week-to-1-month", 4.0),
                (2_592_000.0, "1-week-to-1-month", 4.0),
                (15_724_800.0, "1-to-6-months", 2.0),
                (15_724_801.0, "more-than-6-months", 0.0),
            ] {
                assert_eq!(at(m, v), (level.to_string(), score), "{m} {v}");
            }
        }
        for (v, level, score) in [
            (24.0, "on-demand", 10.0),
            (23.9, "hourly-to-daily", 8.0),
            (1.0, "hourly-to-daily", 8.0),
            (1.0 / 7.0, "daily-to-weekly", 6.0),
            (1.0 / 30.0, "weekly-to-monthly", 4.0),
            (1.0 / 182.0, "monthly-to-6-monthly", 2.0),
            (1.0 / 183.0, "less-than-6-monthly", 0.0),
            (0.0, "less-than-6-monthly", 0.0),
        ] {
            assert_eq!(at("deploys_per_day", v), (level.to_string(), score), "{v}");
        }
        // Sliders: the whole percent, the score from the unrounded rate.
        assert_eq!(at("change_failure_rate", 0.125), ("13%".into(), 8.75));
        assert_eq!(at("rework_rate", 0.0), ("0%".into(), 10.0));
        assert_eq!(at("rework_rate", 1.0), ("100%".into(), 0.0));
        assert_eq!(b.score("change_failure_rate", None), None);
        assert_eq!(b.rank("change_failure_rate", "13%"), Some(8.7));
        assert_eq!(b.rank("deploys_per_day", "on-demand"), Some(10.0));
        assert_eq!(
            b.answer("lead_time_p50_s", "1-to-6-months"),
            Some("One to six months")
        );
        // Earlier benchmarks have no scores.
        let old = Benchmark::load(BenchmarkName::Dora2023).unwrap();
        assert!(!old.scored());
        assert_eq!(old.score("deploys_per_day", Some(1.0)), None);
    }

    #[test]
    fn dora_2025_ranges_tile_the_axis_with_six_answers() {
        let b = Benchmark::load(BenchmarkName::Dora2025).unwrap();
        let lt = b.ranges("lead_time_p50_s");
        assert_eq!(lt.len(), 6);
        assert_eq!(lt[0], ("less-than-1-hour".to_string(), 0.0, 3_600.0));
        assert_eq!(
            lt[5],
            (
                "more-than-6-months".to_string(),
                15_724_800.0,
                f64::INFINITY
            )
        );
        let df = b.ranges("deploys_per_day");
        assert_eq!(df[0], ("on-demand".to_string(), 24.0, f64::INFINITY));
        assert_eq!(df[5], ("less-than-6-monthly".to_string(), 0.0, 1.0 / 182.0));
        assert!(b.ranges("change_failure_rate").is_empty());
    }

    #[test]
    fn else_and_slider_need_a_scored_file() {
        let e = Benchmark::parse(
            "x",
            "metric,level,comparison,threshold\ndeploys_per_day,low,else,\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("else"), "{e}");
    }
}
