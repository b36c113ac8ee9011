//! Storage: the canonical schemas and the Parquet warehouse.

pub mod buffer;
pub mod keys;
pub mod links;
#[cfg(feature = "cloud")]
pub mod remote;
pub mod rows;
pub mod schema;
pub mod warehouse;

/// True when a `--warehouse` value names an object store (`scheme://...`,
/// see [`remote`] with the `cloud` feature) rather than a directory.
pub fn is_url(location: &str) -> bool {
    location.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_told_from_directories() {
        assert!(super::is_url("s3://bucket/prefix"));
        assert!(super::is_url("file:///tmp/w"));
        assert!(!super::is_url("doralens-warehouse"));
        assert!(!super::is_url("./a://b"));
        assert!(!super::is_url("/tmp/x"));
    }
}
