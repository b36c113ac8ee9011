//! doralens: DORA metrics from delivery data.
//!
//! Pipeline: [`ingest`] (files, generator) → [`store`] (Parquet warehouse) →
//! [`engine`] (DataFusion, attribution) → [`metrics`] (the SQL in `queries/`)
//! → [`render`] (table, JSON, CSV, Parquet). [`cli`] wires them to commands.

pub mod base;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod engine;
pub mod error;
pub mod explain;
pub mod ingest;
#[cfg(feature = "polars")]
pub mod interop;
pub mod metrics;
pub mod render;
pub mod report;
pub mod serve;
pub mod store;
/// The test that every metric of the catalogue reaches every output: it
/// reads every layer, so it sits above them all.
#[cfg(test)]
mod surfaces;

pub use error::{Error, Result};

/// How many partitions DataFusion uses, and how finely doralens splits its
/// own parallel work (done with rayon): one per core, 2 when unknown.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
