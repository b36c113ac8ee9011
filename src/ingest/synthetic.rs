//! A deterministic synthetic organisation (`doralens generate`, the demo,
//! tests and benchmarks).
//!
//! Shape: teams own services; each service lives in its own repository,
//! except that every third team keeps its two services in one monorepo, and
//! the first two teams share a gateway service. Work arrives as pull
//! requests on feature branches (merge commits or squashes), mostly on
//! weekdays and office hours; a few are hotfixes, bug fixes or reverts.
//! Services deploy the main branch head to staging, then production; some
//! deployments fail, some cause incidents (linked by deployment id, by sha,
//! only by service and time, or not at all; one outage often opens a few
//! overlapping incidents with the same link; a few incidents follow no
//! deployment at all) and some are rolled back by
//! redeploying the previous sha. Each team has a "pace" so the teams land
//! in different performance levels. The same seed and options always give
//! the same rows.

use crate::base::time::MICROS_PER_DAY;
use crate::error::Result;
use crate::store::buffer::{Cell, TableBuffer};
use crate::store::schema::Table;

/// Rows buffered per table before they are handed to the sink.
const FLUSH_ROWS: usize = 256 * 1024;
const HOUR: i64 = crate::base::time::MICROS_PER_HOUR;
const MINUTE: i64 = 60_000_000;

#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub teams: usize,
    pub days: i64,
    /// Multiplies the rate of work and deployments (1.0: a few PRs a day per repo).
    pub scale: f64,
    /// End of the generated period (exclusive).
    pub end: crate::base::time::Timestamp,
    /// Multiplies how often a deployment causes an incident (1.0: realistic).
    pub incident_rate: f64,
}

impl GeneratorConfig {
    /// The demo's organisation: 6 teams, a year up to `end`, seed 42.
    pub fn demo(end: crate::base::time::Timestamp) -> Self {
        GeneratorConfig {
            seed: 42,
            teams: 6,
            days: 365,
            scale: 1.0,
            end,
            incident_rate: 1.0,
        }
    }
}

/// Receives generated rows table by table, in chunks.
pub trait Sink {
    fn write(&mut self, table: Table, batch: datafusion::arrow::array::RecordBatch) -> Result<()>;
}

/// Generator rows straight into the warehouse.
pub struct WarehouseSink<'a> {
    pub warehouse: &'a crate::store::warehouse::Warehouse,
}

impl Sink for WarehouseSink<'_> {
    fn write(&mut self, table: Table, batch: datafusion::arrow::array::RecordBatch) -> Result<()> {
        self.warehouse.upsert(table, &[batch])?;
        Ok(())
    }
}

/// SplitMix64: tiny, fast, and fixed forever (unlike a crate's default RNG).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo).max(1) as u64) as i64
    }
    /// Poisson-distributed count (Knuth for small means, normal above).
    fn poisson(&mut self, mean: f64) -> usize {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let u1 = self.unit().max(1e-12);
            let u2 = self.unit();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (mean + z * mean.sqrt()).round().max(0.0) as usize;
        }
        let l = (-mean).exp();
        let (mut k, mut p) = (0usize, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    /// Log-normal duration around `median`.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * z).exp()
    }
    fn sha(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next_u64(),
            self.next_u64(),
            self.next_u64() as u32
        )
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

const TEAM_NAMES: [&str; 12] = [
    "payments",
    "search",
    "checkout",
    "identity",
    "platform",
    "mobile",
    "growth",
    "data",
    "messaging",
    "catalog",
    "billing",
    "infra",
];
const PEOPLE: [&str; 16] = [
    "ada",
    "grace",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "frances",
    "guido",
    "radia",
    "edsger",
    "hedy",
    "alan",
    "katherine",
    "bjarne",
    "sophie",
];
const VERBS: [&str; 8] = [
    "Add", "Fix", "Refactor", "Update", "Remove", "Speed up", "Document", "Handle",
];
const NOUNS: [&str; 8] = [
    "retry logic",
    "cache layer",
    "login flow",
    "rate limiter",
    "search index",
    "invoice export",
    "health checks",
    "config loader",
];

#[derive(Debug, Clone)]
struct ServicePlan {
    name: String,
    repo: String,
    /// Index of the owning team (pace source).
    team: usize,
}

#[derive(Debug, Clone)]
struct TeamPlan {
    name: String,
    services: Vec<usize>,
    /// >1 deploys more often, merges faster and fails less.
    pace: f64,
}

fn plan(config: &GeneratorConfig) -> (Vec<TeamPlan>, Vec<ServicePlan>) {
    let mut teams = Vec::new();
    let mut services: Vec<ServicePlan> = Vec::new();
    let paces = [2.2, 1.0, 0.45, 1.4, 0.7, 0.25];
    for t in 0..config.teams.max(1) {
        let base = TEAM_NAMES[t % TEAM_NAMES.len()];
        let name = if t < TEAM_NAMES.len() {
            base.to_string()
        } else {
            format!("{base}-{}", t / TEAM_NAMES.len() + 1)
        };
        let monorepo = t % 3 == 2;
        let mut owned = Vec::new();
        for kind in ["api", "worker"] {
            let service = format!("{name}-{kind}");
            let repo = if monorepo {
                format!("acme/{name}")
            } else {
                format!("acme/{service}")
            };
            owned.push(services.len());
            services.push(ServicePlan {
                name: service,
                repo,
                team: t,
            });
        }
        teams.push(TeamPlan {
            name,
            services: owned,
            pace: paces[t % paces.len()],
        });
    }
    if teams.len() >= 2 {
        // A gateway owned by the first two teams together.
        let idx = services.len();
        services.push(ServicePlan {
            name: "gateway".into(),
            repo: "acme/gateway".into(),
            team: 0,
        });
        teams[0].services.push(idx);
        teams[1].services.push(idx);
    }
    (teams, services)
}

struct Buffers {
    tables: Vec<TableBuffer>,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            tables: Table::ALL.iter().map(|&t| TableBuffer::new(t)).collect(),
        }
    }
    fn push(&mut self, sink: &mut dyn Sink, table: Table, cells: &[Cell<'_>]) -> Result<()> {
        let buf = &mut self.tables[table as usize];
        buf.push(cells);
        if buf.len() >= FLUSH_ROWS {
            sink.write(table, buf.finish()?)?;
        }
        Ok(())
    }
    fn flush(&mut self, sink: &mut dyn Sink) -> Result<()> {
        for buf in &mut self.tables {
            if !buf.is_empty() {
                let table = buf.table();
                sink.write(table, buf.finish()?)?;
            }
        }
        Ok(())
    }
}

/// What was generated, for the user's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedCounts {
    pub teams: usize,
    pub services: usize,
    pub repos: usize,
    pub commits: usize,
    pub changes: usize,
    pub deployments: usize,
    pub incidents: usize,
    pub rollbacks: usize,
}

impl std::fmt::Display for GeneratedCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} teams, {} services in {} repos: {} commits, {} changes, {} deployments, {} incidents, {} rollbacks",
            self.teams,
            self.services,
            self.repos,
            self.commits,
            self.changes,
            self.deployments,
            self.incidents,
            self.rollbacks
        )
    }
}

/// A commit on a repo's main line, in time order.
struct MainCommit {
    sha: String,
    at: i64,
}

pub fn generate(config: &GeneratorConfig, sink: &mut dyn Sink) -> Result<GeneratedCounts> {
    let (teams, services) = plan(config);
    let mut counts = GeneratedCounts {
        teams: teams.len(),
        services: services.len(),
        ..Default::default()
    };
    let mut buf = Buffers::new();
    for team in &teams {
        for &s in &team.services {
            buf.push(
                sink,
                Table::Teams,
                &[Cell::Text(&team.name), Cell::Text(&services[s].name)],
            )?;
        }
    }
    let end = config.end.micros();
    let start = end - config.days.max(1) * MICROS_PER_DAY;
    let mut repos: Vec<&str> = services.iter().map(|s| s.repo.as_str()).collect();
    repos.sort();
    repos.dedup();
    counts.repos = repos.len();

    for (repo_index, repo) in repos.iter().enumerate() {
        let mut rng =
            Rng(config.seed ^ (repo_index as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let repo_services: Vec<usize> = (0..services.len())
            .filter(|&i| services[i].repo == *repo)
            .collect();
        let pace = teams[services[repo_services[0]].team].pace;
        let main = generate_history(
            config,
            &mut rng,
            repo,
            start,
            pace,
            &mut buf,
            sink,
            &mut counts,
        )?;
        for &s in &repo_services {
            generate_deployments(
                config,
                &mut rng,
                &services[s],
                pace,
                &main,
                start,
                &mut buf,
                sink,
                &mut counts,
            )?;
        }
    }
    buf.flush(sink)?;
    Ok(counts)
}

/// A working moment: weekdays, 08:00-19:00 UTC, a little weekend work.
fn working_day(day_start: i64) -> bool {
    let weekday = (day_start / MICROS_PER_DAY + 3).rem_euclid(7); // 0 = Monday
    weekday < 5
}

#[allow(clippy::too_many_arguments)]
fn generate_history(
    config: &GeneratorConfig,
    rng: &mut Rng,
    repo: &str,
    start: i64,
    pace: f64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
    counts: &mut GeneratedCounts,
) -> Result<Vec<MainCommit>> {
    let mut main: Vec<MainCommit> = Vec::new();
    let mut number = 0i64;
    // The history before the window: one root commit long ago.
    let root = rng.sha();
    let root_at = start - 30 * MICROS_PER_DAY;
    buf.push(
        sink,
        Table::Commits,
        &[
            Cell::Text(repo),
            Cell::Text(&root),
            Cell::List(&[]),
            Cell::Text("ada"),
            Cell::Time(root_at),
            Cell::Time(root_at),
            Cell::Text("Initial commit"),
        ],
    )?;
    counts.commits += 1;
    main.push(MainCommit {
        sha: root,
        at: root_at,
    });

    let mut merges: Vec<i64> = Vec::new();
    for day in 0..config.days {
        let day_start = start + day * MICROS_PER_DAY;
        let rate = if working_day(day_start) { 3.0 } else { 0.2 } * config.scale * pace.sqrt();
        for _ in 0..rng.poisson(rate) {
            merges.push(day_start + rng.range(8 * HOUR, 19 * HOUR));
        }
    }
    merges.sort_unstable();
    let mut recent_titles: Vec<(String, String)> = Vec::new();
    let mut parents_buf: Vec<String> = Vec::with_capacity(2);
    for merged_at in merges {
        number += 1;
        let author = *rng.pick(&PEOPLE);
        let base = main.last().expect("root").sha.clone();
        let revert = rng.chance(0.02) && !recent_titles.is_empty();
        let label: &[&str] = match rng.unit() {
            x if x < 0.04 => &["hotfix"],
            x if x < 0.09 => &["bug"],
            x if x < 0.5 => &["feature"],
            _ => &[],
        };
        let labels: Vec<String> = label.iter().map(|s| s.to_string()).collect();
        let title = if revert {
            let (t, _) = rng.pick(&recent_titles).clone();
            format!("Revert \"{t}\"")
        } else {
            format!("{} {}", rng.pick(&VERBS), rng.pick(&NOUNS))
        };
        // Branch commits, authored over the hours or days before the merge.
        let span = rng
            .lognormal(20.0 * HOUR as f64 / pace, 0.9)
            .clamp(0.2 * HOUR as f64, 40.0 * MICROS_PER_DAY as f64) as i64;
        let first_commit_at = merged_at - span;
        let n_commits = if revert { 1 } else { 1 + rng.poisson(1.5) };
        let squash = rng.chance(0.35);
        let mut tip = base.clone();
        let mut branch_shas = Vec::with_capacity(n_commits);
        for k in 0..n_commits {
            let at = first_commit_at + span * k as i64 / (n_commits as i64 + 1);
            let sha = rng.sha();
            let msg = if revert || k == 0 {
                title.clone()
            } else {
                format!("Address review: {}", rng.pick(&NOUNS))
            };
            if !squash {
                parents_buf.clear();
                parents_buf.push(tip.clone());
                buf.push(
                    sink,
                    Table::Commits,
                    &[
                        Cell::Text(repo),
                        Cell::Text(&sha),
                        Cell::List(&parents_buf),
                        Cell::Text(author),
                        Cell::Time(at),
                        Cell::Time(at),
                        Cell::Text(&msg),
                    ],
                )?;
                counts.commits += 1;
            }
            branch_shas.push((sha.clone(), at));
            tip = sha;
        }
        // Merge commit (or the squashed commit) on main.
        let merge_sha = rng.sha();
        parents_buf.clear();
        parents_buf.push(base.clone());
        if !squash {
            parents_buf.push(tip.clone());
        }
        // Rarely, an author's clock runs ahead of the deploy system's.
        let authored = if rng.chance(0.003) {
            merged_at + 3 * MICROS_PER_DAY
        } else if squash {
            first_commit_at
        } else {
            merged_at
        };
        let message = if squash {
            format!("{title} (#{number})")
        } else {
            format!("Merge pull request #{number} from {author}/branch-{number}")
        };
        let message = if revert { title.clone() } else { message };
        buf.push(
            sink,
            Table::Commits,
            &[
                Cell::Text(repo),
                Cell::Text(&merge_sha),
                Cell::List(&parents_buf),
                Cell::Text(author),
                Cell::Time(authored),
                Cell::Time(merged_at),
                Cell::Text(&message),
            ],
        )?;
        counts.commits += 1;
        main.push(MainCommit {
            sha: merge_sha.clone(),
            at: merged_at,
        });

        let created_at = first_commit_at + (span / 4).max(MINUTE);
        let reviewed = rng.chance(0.9);
        let first_review_at = created_at + rng.lognormal(2.0 * HOUR as f64 / pace, 1.0) as i64;
        let review_cell = if reviewed && first_review_at < merged_at {
            Cell::Time(first_review_at)
        } else {
            Cell::Null
        };
        buf.push(
            sink,
            Table::Changes,
            &[
                Cell::Text(repo),
                Cell::Int(number),
                Cell::Text(&title),
                Cell::Text(author),
                Cell::Time(created_at.min(merged_at)),
                Cell::Time(branch_shas[0].1),
                review_cell,
                Cell::Time(merged_at),
                Cell::Text(&merge_sha),
                Cell::Text("main"),
                Cell::List(&labels),
            ],
        )?;
        counts.changes += 1;
        // The commits the change lists, as a forge sync stores them (for a
        // squash, commits that never reach main).
        for (sha, _) in &branch_shas {
            buf.push(
                sink,
                Table::ChangeCommits,
                &[Cell::Text(repo), Cell::Int(number), Cell::Text(sha)],
            )?;
        }
        if !revert {
            recent_titles.push((title, merge_sha));
            if recent_titles.len() > 20 {
                recent_titles.remove(0);
            }
        }
    }
    Ok(main)
}

#[allow(clippy::too_many_arguments)]
fn generate_deployments(
    config: &GeneratorConfig,
    rng: &mut Rng,
    service: &ServicePlan,
    pace: f64,
    main: &[MainCommit],
    start: i64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
    counts: &mut GeneratedCounts,
) -> Result<()> {
    let mut times: Vec<i64> = Vec::new();
    for day in 0..config.days {
        let day_start = start + day * MICROS_PER_DAY;
        let rate = if working_day(day_start) {
            0.6 + 0.4 * config.scale
        } else {
            0.05
        } * pace;
        for _ in 0..rng.poisson(rate) {
            times.push(day_start + rng.range(9 * HOUR, 18 * HOUR));
        }
    }
    times.sort_unstable();
    let failure_p = (0.07 * config.incident_rate / pace).min(0.6);
    let mut seq = 0u64;
    let mut previous_sha: Option<String> = None;
    let mut head = 0usize;
    let mut last_incident_at = i64::MIN;
    let svc = service.name.as_str();
    let repo = service.repo.as_str();
    for finished_at in times {
        while head + 1 < main.len() && main[head + 1].at <= finished_at - 10 * MINUTE {
            head += 1;
        }
        let sha = main[head].sha.as_str();
        let started_at = finished_at - rng.range(3 * MINUTE, 20 * MINUTE);
        seq += 1;
        let staging_id = format!("{svc}-{seq}-staging");
        buf.push(
            sink,
            Table::Deployments,
            &[
                Cell::Text(&staging_id),
                Cell::Text(repo),
                Cell::Text(svc),
                Cell::Text("staging"),
                Cell::Text(sha),
                Cell::Text("success"),
                Cell::Time(started_at - 30 * MINUTE),
                Cell::Time(finished_at - 30 * MINUTE),
            ],
        )?;
        let id = format!("{svc}-{seq}");
        let status = if rng.chance(0.03) {
            "failure"
        } else {
            "success"
        };
        buf.push(
            sink,
            Table::Deployments,
            &[
                Cell::Text(&id),
                Cell::Text(repo),
                Cell::Text(svc),
                Cell::Text("production"),
                Cell::Text(sha),
                Cell::Text(status),
                Cell::Time(started_at),
                Cell::Time(finished_at),
            ],
        )?;
        counts.deployments += 2;
        if status != "success" {
            continue;
        }
        if rng.chance(failure_p) && finished_at > last_incident_at {
            let created_at = finished_at + rng.range(5 * MINUTE, 8 * HOUR);
            let open = created_at > config.end.micros() - 2 * MICROS_PER_DAY && rng.chance(0.5);
            let resolved_at = created_at + rng.lognormal(3.0 * HOUR as f64 / pace, 1.2) as i64;
            let incident_id = format!("INC-{svc}-{seq}");
            let title = format!("{svc} errors after deploy {seq}");
            let severity = *rng.pick(&["sev1", "sev2", "sev2", "sev3"]);
            let how = rng.unit();
            // Linked by deployment id, by root-cause sha, only by service and
            // time (inferred), or with no service at all (org-level only).
            let (service_cell, dep_cell, sha_cell) = if how < 0.4 {
                (Cell::Text(svc), Cell::Text(&id), Cell::Null)
            } else if how < 0.6 {
                (Cell::Text(svc), Cell::Null, Cell::Text(sha))
            } else if how < 0.92 {
                (Cell::Text(svc), Cell::Null, Cell::Null)
            } else {
                (Cell::Null, Cell::Null, Cell::Null)
            };
            // One outage often pages more than once: follow-up incidents
            // (another alert, another team's page) open while the first is
            // being handled, overlap it, and carry the same link.
            let follow_ups = rng.poisson(0.8).min(4);
            for k in 0..=follow_ups {
                let (id_k, opened, resolved) = if k == 0 {
                    (incident_id.clone(), created_at, resolved_at)
                } else {
                    let opened = created_at + rng.range(2 * MINUTE, 60 * MINUTE);
                    let resolved =
                        (opened + 5 * MINUTE).max(resolved_at - rng.range(0, 30 * MINUTE));
                    (format!("{incident_id}-{k}"), opened, resolved)
                };
                let title_k = if k == 0 {
                    title.clone()
                } else {
                    format!("{title} (follow-up {k})")
                };
                buf.push(
                    sink,
                    Table::Incidents,
                    &[
                        Cell::Text(&id_k),
                        service_cell,
                        Cell::Text(&title_k),
                        Cell::Text(severity),
                        Cell::Time(opened),
                        if open {
                            Cell::Null
                        } else {
                            Cell::Time(resolved)
                        },
                        dep_cell,
                        sha_cell,
                    ],
                )?;
                counts.incidents += 1;
                last_incident_at = last_incident_at.max(opened);
            }
            // Some failures are rolled back to the previous sha.
            if let Some(prev) = previous_sha.as_deref().filter(|_| rng.chance(0.35)) {
                let rb_finished = created_at + rng.range(10 * MINUTE, 90 * MINUTE);
                let rb_id = format!("{svc}-{seq}-rollback");
                buf.push(
                    sink,
                    Table::Deployments,
                    &[
                        Cell::Text(&rb_id),
                        Cell::Text(repo),
                        Cell::Text(svc),
                        Cell::Text("production"),
                        Cell::Text(prev),
                        Cell::Text("success"),
                        Cell::Time(rb_finished - 5 * MINUTE),
                        Cell::Time(rb_finished),
                    ],
                )?;
                buf.push(
                    sink,
                    Table::Rollbacks,
                    &[
                        Cell::Text(&format!("RB-{svc}-{seq}")),
                        Cell::Text(&id),
                        Cell::Text(&rb_id),
                        Cell::Time(rb_finished - 5 * MINUTE),
                        Cell::Time(rb_finished),
                    ],
                )?;
                counts.deployments += 1;
                counts.rollbacks += 1;
            }
        }
        previous_sha = Some(sha.to_string());
    }
    // Not every incident follows a deployment: provider outages, capacity,
    // expired certificates. Half name the service (inference may still link
    // one to the service's last deployment), half only the organisation.
    let mut background = 0u64;
    for day in 0..config.days {
        for _ in 0..rng.poisson(0.03 * config.incident_rate) {
            background += 1;
            let created_at = start + day * MICROS_PER_DAY + rng.range(0, MICROS_PER_DAY);
            let open = created_at > config.end.micros() - 2 * MICROS_PER_DAY && rng.chance(0.5);
            let resolved_at = created_at + rng.lognormal(2.0 * HOUR as f64, 1.0) as i64;
            let id = format!("INC-{svc}-bg{background}");
            let cause = *rng.pick(&[
                "upstream provider outage",
                "capacity",
                "expired certificate",
            ]);
            let service_cell = if rng.chance(0.5) {
                Cell::Text(svc)
            } else {
                Cell::Null
            };
            let severity = *rng.pick(&["sev2", "sev3", "sev3"]);
            buf.push(
                sink,
                Table::Incidents,
                &[
                    Cell::Text(&id),
                    service_cell,
                    Cell::Text(&format!("{svc}: {cause}")),
                    Cell::Text(severity),
                    Cell::Time(created_at),
                    if open {
                        Cell::Null
                    } else {
                        Cell::Time(resolved_at)
                    },
                    Cell::Null,
                    Cell::Null,
                ],
            )?;
            counts.incidents += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<(Table, usize)>);
    impl Sink for Collect {
        fn write(
            &mut self,
            table: Table,
            batch: datafusion::arrow::array::RecordBatch,
        ) -> Result<()> {
            self.0.push((table, batch.num_rows()));
            Ok(())
        }
    }

    #[test]
    fn poisson_mean_is_close() {
        let mut rng = Rng(7);
        let n = 20_000;
        let total: usize = (0..n).map(|_| rng.poisson(3.0)).sum();
        let mean = total as f64 / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "{mean}");
    }

    #[test]
    fn same_seed_same_output_and_counts_match_rows() {
        let config = GeneratorConfig {
            seed: 3,
            teams: 3,
            days: 30,
            scale: 1.0,
            end: crate::base::time::Timestamp::from_micros(1_767_225_600_000_000),
            incident_rate: 1.0,
        };
        let mut a = Collect(Vec::new());
        let mut b = Collect(Vec::new());
        let ca = generate(&config, &mut a).unwrap();
        let cb = generate(&config, &mut b).unwrap();
        assert_eq!(ca, cb);
        assert_eq!(a.0, b.0);
        let rows = |t: Table| {
            a.0.iter()
                .filter(|(x, _)| *x == t)
                .map(|(_, n)| n)
                .sum::<usize>()
        };
        assert_eq!(rows(Table::Commits), ca.commits);
        assert_eq!(rows(Table::Deployments), ca.deployments);
        assert_eq!(rows(Table::Incidents), ca.incidents);
        assert_eq!(ca.services, 7);
        assert_eq!(ca.repos, 6); // the third team's two services share a monorepo
    }
}
