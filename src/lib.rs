//! doralens: DORA metrics from delivery data.
//!
//! Pipeline: [`ingest`] (files, generator) → [`store`] (Parquet warehouse) →
//! [`engine`] (DataFusion, attribution) → [`metrics`] (the SQL in `queries/`)
//! → [`render`] (table, JSON, CSV, Parquet). [`cli`] wires them to commands.

pub mod cli;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod render;
pub mod store;

pub use error::{Error, Result};
