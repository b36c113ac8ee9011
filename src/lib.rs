//! doralens: DORA metrics from delivery data.
//!
//! Pipeline: [`ingest`] (files, generator) → [`store`] (Parquet warehouse) →
//! [`engine`] (DataFusion, attribution) → [`metrics`] (the SQL in `queries/`)
//! → [`render`] (table, JSON, CSV, Parquet). [`cli`] wires them to commands.

pub mod base;
pub mod cli;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod render;
pub mod serve;
pub mod store;

pub use error::{Error, Result};

/// How many threads doralens's own parallel work uses (reads, attribution,
/// DataFusion partitions): one per core, 2 when the count is unknown.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `f` applied to every item, each on its own scoped thread, results in the
/// items' order. Callers split their work into about [`cores`] items.
pub fn on_threads<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || f(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}
