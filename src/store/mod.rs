//! Storage: the canonical schemas and the Parquet warehouse.

pub mod buffer;
pub mod keys;
pub mod links;
pub mod rows;
pub mod schema;
pub mod warehouse;
