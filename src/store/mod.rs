//! Storage: the canonical schemas and the Parquet warehouse.

pub mod buffer;
pub mod keys;
pub mod schema;
pub mod warehouse;
