//! Performance levels (docs/metrics.md section 5) from versioned benchmark
//! tables shipped as data in `queries/levels/*.csv`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BenchmarkName {
    Dora2021,
    #[default]
    Dora2023,
    Dora2024,
}

impl BenchmarkName {
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
}

#[derive(Debug, Clone)]
struct Band {
    metric: String,
    level: String,
    comparison: Comparison,
    threshold: f64,
}

#[derive(Debug, Clone)]
pub struct Benchmark {
    pub name: &'static str,
    pub source: String,
    bands: Vec<Band>,
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
        let mut header_seen = false;
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
            if !header_seen {
                header_seen = true;
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 4 {
                return Err(bad(
                    i + 1,
                    "expected metric,level,comparison,threshold".into(),
                ));
            }
            let comparison = match f[2] {
                ">=" => Comparison::Ge,
                ">" => Comparison::Gt,
                "<=" => Comparison::Le,
                "<" => Comparison::Lt,
                other => return Err(bad(i + 1, format!("bad comparison `{other}`"))),
            };
            let threshold = parse_number(f[3])
                .ok_or_else(|| bad(i + 1, format!("bad threshold `{}`", f[3])))?;
            bands.push(Band {
                metric: f[0].to_string(),
                level: f[1].to_string(),
                comparison,
                threshold,
            });
        }
        Ok(Benchmark {
            name,
            source,
            bands,
        })
    }

    /// The level of one statistic; null statistics have no level.
    pub fn level(&self, metric: &str, value: Option<f64>) -> Option<&str> {
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
            };
            if holds {
                return Some(&band.level);
            }
        }
        Some("low")
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
        let bands: Vec<&Band> = self.bands.iter().filter(|b| b.metric == metric).collect();
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
        out.push(("low".into(), last.0, last.1));
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
        assert_eq!(b.level("deploys_per_day", Some(1.0)), Some("elite"));
        assert_eq!(b.level("deploys_per_day", Some(1.0 / 7.0)), Some("high"));
        assert_eq!(b.level("deploys_per_day", Some(0.1)), Some("medium"));
        assert_eq!(b.level("deploys_per_day", Some(0.01)), Some("low"));
        assert_eq!(b.level("lead_time_p50_s", Some(86_399.0)), Some("elite"));
        assert_eq!(b.level("lead_time_p50_s", Some(86_400.0)), Some("high"));
        assert_eq!(b.level("change_failure_rate", Some(0.05)), Some("elite"));
        assert_eq!(b.level("change_failure_rate", Some(0.151)), Some("low"));
        assert_eq!(b.level("recovery_time_p50_s", Some(3600.0)), Some("high"));
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
        for name in [
            BenchmarkName::Dora2021,
            BenchmarkName::Dora2023,
            BenchmarkName::Dora2024,
        ] {
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
}
