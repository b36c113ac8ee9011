//! API pages → Arrow, on one core (the target: at least 50 000 records per
//! second per core, so conversion is never the bottleneck), for the forges
//! and the incident trackers (PagerDuty, Jira, incident.io).
//!
//! `cargo bench --bench forge_pages` builds pages of 100 records from the
//! recorded-shape fixtures (`fixtures/github/acme-api.json`,
//! `fixtures/gitlab/acme-billing.json`), each record with its own sha, and
//! times the same conversion the ingestors run on every page: JSON parse
//! into the ingestor's structs, rows appended to the table's Arrow
//! builders, and the batch finished. Best of 5 rounds of 200 pages.

use std::time::Instant;

use doralens::base::time::Timestamp;
use doralens::ingest::forge::{github, gitlab};
use doralens::ingest::source::ServiceMap;
use doralens::ingest::tracker::{incident_io, jira, pagerduty};
use doralens::store::buffer::TableBuffer;
use doralens::store::schema::Table;
use serde_json::Value;

const PAGES: usize = 200;
const PER_PAGE: usize = 100;

/// The `index`th item of the array under `key` in a tracker fixture.
fn tracker_fixture(path: &str, key: &str, index: usize) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let all: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    all[key][index].clone()
}

fn fixture(path: &str, key: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let routes: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    routes[key].clone()
}

/// A page of `PER_PAGE` copies of `template`, `field` made unique per record.
fn page(template: &Value, field: &str, page: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..PER_PAGE)
        .map(|i| {
            let mut item = template.clone();
            let n = page * PER_PAGE + i;
            item[field] = match &item[field] {
                Value::Number(_) => Value::from(n as i64),
                _ => Value::from(format!("{n:040x}")),
            };
            item
        })
        .collect();
    serde_json::to_vec(&items).unwrap()
}

fn measure(name: &str, table: Table, pages: &[Vec<u8>], convert: impl Fn(&[u8], &mut TableBuffer)) {
    let bytes: usize = pages.iter().map(|p| p.len()).sum();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for body in pages {
            let mut buffer = TableBuffer::new(table);
            convert(body, &mut buffer);
            let batch = buffer.finish().unwrap();
            assert_eq!(batch.num_rows(), PER_PAGE);
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    let records = (pages.len() * PER_PAGE) as f64;
    println!(
        "| {name} | {} | {:.1} MB | {:.3} s | {:.0} records/s |",
        pages.len() * PER_PAGE,
        bytes as f64 / 1e6,
        best,
        records / best
    );
}

fn main() {
    println!("| pages | records | JSON | best time (1 core) | throughput |");
    println!("|---|---|---|---|---|");
    let commit = fixture("fixtures/github/acme-api.json", "/repos/acme/api/commits")[0].clone();
    let pages: Vec<Vec<u8>> = (0..PAGES).map(|p| page(&commit, "sha", p)).collect();
    measure("GitHub commits", Table::Commits, &pages, |body, out| {
        github::commits_page("acme/api", body, out).unwrap();
    });

    let pull = fixture("fixtures/github/acme-api.json", "/repos/acme/api/pulls")[1].clone();
    let pages: Vec<Vec<u8>> = (0..PAGES).map(|p| page(&pull, "number", p)).collect();
    measure(
        "GitHub pull requests",
        Table::Changes,
        &pages,
        |body, out| {
            github::pulls_page("acme/api", body, out).unwrap();
        },
    );

    let commit = fixture(
        "fixtures/gitlab/acme-billing.json",
        "/api/v4/projects/acme%2Fbilling/repository/commits",
    )[0]
    .clone();
    let pages: Vec<Vec<u8>> = (0..PAGES).map(|p| page(&commit, "id", p)).collect();
    measure("GitLab commits", Table::Commits, &pages, |body, out| {
        gitlab::commits_page("acme/billing", body, out).unwrap();
    });

    // CI runs: a page of workflow runs, all of the deploying workflow.
    let run = fixture(
        "fixtures/github/acme-api.json",
        "/repos/acme/api/actions/runs",
    )["workflow_runs"][5]
        .clone();
    let pages: Vec<Vec<u8>> = (0..PAGES)
        .map(|p| {
            let items: Value = serde_json::from_slice(&page(&run, "id", p)).unwrap();
            serde_json::to_vec(
                &serde_json::json!({ "total_count": PER_PAGE, "workflow_runs": items }),
            )
            .unwrap()
        })
        .collect();
    let pattern = regex::Regex::new("^Deploy").unwrap();
    measure(
        "GitHub Actions runs",
        Table::Deployments,
        &pages,
        |body, out| {
            for run in github::workflow_runs_page("acme/api", body, &pattern, "main").unwrap() {
                let d = run.deployment.unwrap();
                doralens::store::rows::DeploymentRow {
                    id: d.id,
                    repo: "acme/api".into(),
                    service: "api".into(),
                    environment: "production".into(),
                    sha: d.sha,
                    status: d.status.into(),
                    started_at: d.started.map(Timestamp::from_micros),
                    finished_at: Timestamp::from_micros(d.finished),
                    triggered_by: None,
                }
                .push(out);
            }
        },
    );

    // Trackers: the same path as a sync (parse the page, map each record
    // to its typed row, append it).
    let services = ServiceMap::new([("PSVCAPI".to_string(), "api".to_string())]);
    let incident = tracker_fixture("fixtures/pagerduty/incidents.json", "incidents", 0);
    let pages: Vec<Vec<u8>> = (0..PAGES)
        .map(|p| page(&incident, "incident_number", p))
        .collect();
    let options = pagerduty::PagerDutyOptions {
        api_url: None,
        service_ids: vec![],
        team_ids: vec![],
        urgency: None,
        min_priority: None,
        since: Timestamp::EPOCH,
        services: vec![],
        change_events: false,
        link_field: None,
    };
    measure(
        "PagerDuty incidents",
        Table::Incidents,
        &pages,
        |body, out| {
            let listed: Vec<pagerduty::ListedIncident> = serde_json::from_slice(body).unwrap();
            for i in &listed {
                i.row(&options, &services).unwrap().unwrap().push(out);
            }
        },
    );

    let issue = tracker_fixture("fixtures/jira/issues.json", "issues", 0);
    let pages: Vec<Vec<u8>> = (0..PAGES).map(|p| page(&issue, "id", p)).collect();
    let options = jira::JiraOptions {
        url: "https://acme.atlassian.net".into(),
        projects: vec!["OPS".into()],
        jql: None,
        issue_type: "Incident".into(),
        service_field: "components".into(),
        deployment_field: Some("customfield_10050".into()),
        commit_field: Some("customfield_10051".into()),
        link_field: None,
        since: Timestamp::EPOCH,
        services: vec![],
    };
    measure("Jira issues", Table::Incidents, &pages, |body, out| {
        let issues: Vec<jira::Issue> = serde_json::from_slice(body).unwrap();
        for i in &issues {
            i.row(&options, &services, true).unwrap().unwrap().push(out);
        }
    });

    let incident = tracker_fixture("fixtures/incident-io/incidents.json", "incidents", 0);
    let pages: Vec<Vec<u8>> = (0..PAGES)
        .map(|p| page(&incident, "reference", p))
        .collect();
    let options = incident_io::IncidentIoOptions {
        api_url: None,
        service_field: Some("Affected service".into()),
        impact_started: "Impact started".into(),
        resolved: "Resolved at".into(),
        deployment_field: None,
        commit_field: None,
        link_field: None,
        services: vec![],
        since: Timestamp::EPOCH,
    };
    measure(
        "incident.io incidents",
        Table::Incidents,
        &pages,
        |body, out| {
            let incidents: Vec<incident_io::Incident> = serde_json::from_slice(body).unwrap();
            for i in &incidents {
                let (row, _) = i.row(&options, &services).unwrap().unwrap();
                row.push(out);
            }
        },
    );
}
