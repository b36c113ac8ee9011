//! Feature-flag platforms, each a [`crate::ingest::source::Source`] writing
//! `flags` and `flag_events`: [`unleash`].

pub mod unleash;
