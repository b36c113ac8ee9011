//! Feature-flag platforms, each a [`crate::ingest::source::Source`] writing
//! `flags` and `flag_events`: [`unleash`], [`flagsmith`].

pub mod flagsmith;
pub mod unleash;

/// A path segment, percent-encoded.
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Checks one page of a list whose answers state its length in `field`
/// (`total`, `count`): `seen` items so far, `got` on this page, `last` when
/// the answer says no page follows. An empty page before the end, more
/// items than stated, or a last page short of it means the list changed
/// while it was read (or the server pages differently): never a silently
/// shorter list. The message says what to do.
fn check_paging(
    field: &str,
    seen: usize,
    got: usize,
    stated: usize,
    last: bool,
) -> std::result::Result<(), String> {
    if seen > stated || (got == 0 && !last) || (last && seen != stated) {
        return Err(format!(
            "the pages hold {seen} items but `{field}` says {stated}; the list changed while \
             it was read or the server pages differently: run the sync again"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_paging;

    #[test]
    fn paging_that_disagrees_with_the_stated_length_fails() {
        assert!(check_paging("total", 100, 100, 250, false).is_ok());
        assert!(check_paging("total", 250, 50, 250, true).is_ok());
        assert!(check_paging("total", 0, 0, 0, true).is_ok());
        // An empty page before the end.
        let e = check_paging("total", 100, 0, 250, false).unwrap_err();
        assert!(e.contains("100 items but `total` says 250"), "{e}");
        // More than stated, and a last page short of it.
        assert!(check_paging("count", 260, 60, 250, false).is_err());
        assert!(check_paging("count", 240, 40, 250, true).is_err());
    }
}
