//! What the benchmarks share: the generated organisation they measure,
//! cached under `$CARGO_TARGET_DIR/doralens-bench/` by size, so that every
//! benchmark reuses the one another generated.

use std::path::{Path, PathBuf};
use std::time::Instant;

use doralens::base::time::Timestamp;
use doralens::ingest::synthetic::{self, GeneratorConfig, WarehouseSink};
use doralens::store::warehouse::Warehouse;

/// The generated year's end: 2026-01-01T00:00:00Z.
pub const END: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

/// The organisation of `teams` teams at `scale` (seed 7, a year ending at
/// [`END`]), generated once: its directory and the generator's counts.
pub fn organisation(teams: usize, scale: f64, incident_rate: f64) -> (PathBuf, String) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = Path::new(&target)
        .join("doralens-bench")
        .join(format!("t{teams}-s{scale}-i{incident_rate}"));
    let marker = dir.join("generated.txt");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let wh = Warehouse::open(&dir).unwrap();
        let config = GeneratorConfig {
            seed: 7,
            teams,
            days: 365,
            scale,
            end: END,
            incident_rate,
        };
        let started = Instant::now();
        let counts = synthetic::generate(&config, &mut WarehouseSink { warehouse: &wh }).unwrap();
        eprintln!(
            "generated {counts:?} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        std::fs::write(&marker, format!("{counts:?}\n")).unwrap();
    }
    let counts = std::fs::read_to_string(&marker).unwrap().trim().to_string();
    (dir, counts)
}
