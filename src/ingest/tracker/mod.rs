//! Incident trackers, each a [`crate::ingest::source::Source`] over the
//! shared JSON client ([`crate::ingest::client`]): [`pagerduty`],
//! [`jira`] and [`incident_io`], with the explicit-link rule they share
//! ([`link_field`]).

pub mod incident_io;
pub mod jira;
pub mod link_field;
pub mod pagerduty;
