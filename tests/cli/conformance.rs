//! Conformance with Apache DevLake's published e2e data
//! (`fixtures/conformance/devlake/refdiff_deployment_commit_diff`, Apache-2.0;
//! see fixtures/conformance/README.md).
//!
//! DevLake ships, per deployment, the commits reachable from its sha and not
//! from the previous successful deployment's sha in the same repo and
//! environment; the first deployment ships all its ancestors. On this data
//! (a linear chain per scope, no rollbacks) that is exactly doralens's rule
//! (docs/metrics.md section 3, where the first deployment's commits are the
//! baseline), so `commits_diffs.csv` must equal `deployment_commits`. Where
//! the rules differ (a rollback to an older sha: DevLake's diff against the
//! previous deployment re-ships nothing but then re-credits the commits
//! between, doralens ships each commit once) see
//! fixtures/scenarios/rollback_older_sha.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use doralens::base::production::ProductionPattern;
use doralens::base::time::parse_rfc3339;
use doralens::engine::attribution::attribute;
use doralens::store::buffer::{Cell, TableBuffer};
use doralens::store::schema::Table;

use crate::util::repo_root;

fn dir() -> PathBuf {
    repo_root().join("fixtures/conformance/devlake/refdiff_deployment_commit_diff")
}

fn read(name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir().join(name)).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn devlake_refdiff_deployment_commit_diff() {
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in read("commit_parents.csv") {
        parents
            .entry(row["commit_sha"].clone())
            .or_default()
            .push(row["parent_commit_sha"].clone());
    }
    let mut commits = TableBuffer::new(Table::Commits);
    for row in read("repo_commits.csv") {
        let p = parents.get(&row["commit_sha"]).cloned().unwrap_or_default();
        commits.push(&[
            Cell::Text(&row["repo_id"]),
            Cell::Text(&row["commit_sha"]),
            Cell::List(&p),
            Cell::Null,
            Cell::Time(0),
            Cell::Null,
            Cell::Null,
        ]);
    }
    let mut deployments = TableBuffer::new(Table::Deployments);
    for row in read("cicd_deployment_commits.csv") {
        let status = row["result"].to_lowercase();
        let at = parse_rfc3339(&row["started_date"].replace(".000+00:00", "Z")).unwrap();
        deployments.push(&[
            Cell::Text(&row["id"]),
            Cell::Text(&row["cicd_scope_id"]),
            // One service per DevLake scope: the chain is per scope.
            Cell::Text(&row["cicd_scope_id"]),
            Cell::Text(&row["environment"]),
            Cell::Text(&row["commit_sha"]),
            Cell::Text(&status),
            Cell::Null,
            Cell::Time(at),
            Cell::Null,
        ]);
    }
    let result = attribute(
        &[commits.finish().unwrap()],
        &[deployments.finish().unwrap()],
        &ProductionPattern::default().regex,
    )
    .unwrap();

    // Ours, keyed by the deployment's sha as DevLake keys its diffs.
    use datafusion::arrow::array::AsArray;
    let b = result.shipped_batches().unwrap();
    let dep_sha: BTreeMap<String, String> = read("cicd_deployment_commits.csv")
        .into_iter()
        .map(|r| (r["id"].clone(), r["commit_sha"].clone()))
        .collect();
    let mut ours: BTreeSet<(String, String)> = BTreeSet::new();
    let scope1 = "github:GithubRepo:1:484251804"; // project1, the one DevLake runs
    for b in &b {
        for i in 0..b.num_rows() {
            if b.column(2).as_string::<i32>().value(i) == scope1 {
                let dep = b.column(0).as_string::<i32>().value(i);
                ours.insert((
                    dep_sha[dep].clone(),
                    b.column(3).as_string::<i32>().value(i).to_string(),
                ));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = read("commits_diffs.csv")
        .into_iter()
        .map(|r| (r["new_commit_sha"].clone(), r["commit_sha"].clone()))
        .collect();
    assert_eq!(ours, expected);
    assert_eq!(expected.len(), 5);
}
