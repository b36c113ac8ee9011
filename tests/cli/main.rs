//! The integration tests: one binary (see Cargo.toml), one module per area.

mod mock_api;
mod mock_flagsmith;
mod mock_forge;
mod mock_unleash;
mod util;

mod access;
#[cfg(feature = "cloud")]
mod cloud;
#[cfg(feature = "cluster")]
mod cluster;
mod conformance;
mod dashboard_page;
mod dashboards;
mod filters;
mod flag_recovery;
mod flag_refs;
mod flags;
mod flagsmith;
mod forge_governance;
mod forge_reviews;
mod forges;
mod generate;
mod git;
mod governance;
mod import_errors;
mod properties;
mod provenance;
mod push;
mod reliability;
mod reports;
mod scenarios;
#[cfg(feature = "cloud")]
mod serve_remote;
mod tls;
mod trackers;
mod warehouse;

mod smoke {
    use crate::util::Workspace;

    #[test]
    fn tables_lists_every_canonical_table() {
        let ws = Workspace::new();
        let out = ws
            .doralens(&["tables"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        for t in [
            "commits",
            "changes",
            "deployments",
            "incidents",
            "rollbacks",
            "teams",
            "reviews",
            "deployment_approvals",
            "change_files",
            "syncs",
            "flags",
            "flag_events",
            "flag_references",
        ] {
            assert!(text.contains(&format!("### `{t}`")), "{t} missing");
        }
    }
}
