//! Feature-flag platforms, each a [`crate::ingest::source::Source`] writing
//! `flags` and `flag_events`: [`unleash`], [`flagsmith`].

pub mod flagsmith;
pub mod unleash;
