//! Each service's deliveries: staging and production deployments of the
//! main line, the incidents some cause (and some that follow none) and the
//! rollbacks to the previous sha.

use super::governance;
use super::history::MainCommit;
use super::org::ServicePlan;
use super::rng::Rng;
use super::{Buffers, GeneratedCounts, GeneratorConfig, HOUR, MINUTE, Sink, working_day};
use crate::base::time::{MICROS_PER_DAY, Timestamp};
use crate::error::Result;
use crate::store::rows::{
    DeploymentRow, FlagEventRow, FlagReferenceRow, FlagRow, IncidentRow, RollbackRow,
};

#[allow(clippy::too_many_arguments)]
pub(super) fn generate_deployments(
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
        let id = format!("{svc}-{seq}");
        let by = Some(governance::triggerer(config.seed, &id).to_string());
        buf.push(
            sink,
            &DeploymentRow {
                id: staging_id,
                repo: repo.into(),
                service: svc.into(),
                environment: "staging".into(),
                sha: sha.into(),
                status: "success".into(),
                started_at: Some(Timestamp::from_micros(started_at - 30 * MINUTE)),
                finished_at: Timestamp::from_micros(finished_at - 30 * MINUTE),
                triggered_by: by.clone(),
            },
        )?;
        let status = if rng.chance(0.03) {
            "failure"
        } else {
            "success"
        };
        buf.push(
            sink,
            &DeploymentRow {
                id: id.clone(),
                repo: repo.into(),
                service: svc.into(),
                environment: "production".into(),
                sha: sha.into(),
                status: status.into(),
                started_at: Some(Timestamp::from_micros(started_at)),
                finished_at: Timestamp::from_micros(finished_at),
                triggered_by: by,
            },
        )?;
        governance::push_approvals(config.seed, &id, started_at, pace, buf, sink)?;
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
            let (link_service, link_deployment, link_sha) = if how < 0.4 {
                (Some(svc), Some(id.as_str()), None)
            } else if how < 0.6 {
                (Some(svc), None, Some(sha))
            } else if how < 0.92 {
                (Some(svc), None, None)
            } else {
                (None, None, None)
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
                    &IncidentRow {
                        id: id_k,
                        service: link_service.map(str::to_string),
                        title: Some(title_k),
                        severity: Some(severity.into()),
                        created_at: Timestamp::from_micros(opened),
                        resolved_at: (!open).then(|| Timestamp::from_micros(resolved)),
                        deployment_id: link_deployment.map(str::to_string),
                        sha: link_sha.map(str::to_string),
                        recovery_flag: None,
                    },
                )?;
                counts.incidents += 1;
                last_incident_at = last_incident_at.max(opened);
            }
            if link_deployment.is_some() && !open && one_in_three(&incident_id) {
                let shipped = main.iter().find(|c| c.sha == sha);
                if let Some(commit) = shipped {
                    let toggle = GuardFlag {
                        key: format!("{svc}-guard-{seq}"),
                        service: svc,
                        repo,
                        commit,
                        deployed_at: finished_at,
                        caught_at: created_at,
                        resolved_at,
                        end: config.end.micros(),
                    };
                    toggle.push(buf, sink)?;
                }
            }
            // Some failures are rolled back to the previous sha.
            if let Some(prev) = previous_sha.as_deref().filter(|_| rng.chance(0.35)) {
                let rb_finished = created_at + rng.range(10 * MINUTE, 90 * MINUTE);
                let rb_id = format!("{svc}-{seq}-rollback");
                buf.push(
                    sink,
                    &DeploymentRow {
                        id: rb_id.clone(),
                        repo: repo.into(),
                        service: svc.into(),
                        environment: "production".into(),
                        sha: prev.into(),
                        status: "success".into(),
                        started_at: Some(Timestamp::from_micros(rb_finished - 5 * MINUTE)),
                        finished_at: Timestamp::from_micros(rb_finished),
                        triggered_by: Some(governance::triggerer(config.seed, &rb_id).into()),
                    },
                )?;
                buf.push(
                    sink,
                    &RollbackRow {
                        id: format!("RB-{svc}-{seq}"),
                        deployment_id: id.clone(),
                        rollback_deployment_id: Some(rb_id),
                        started_at: Some(Timestamp::from_micros(rb_finished - 5 * MINUTE)),
                        finished_at: Timestamp::from_micros(rb_finished),
                    },
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
            let service = rng.chance(0.5).then(|| svc.to_string());
            let severity = *rng.pick(&["sev2", "sev3", "sev3"]);
            buf.push(
                sink,
                &IncidentRow {
                    id,
                    service,
                    title: Some(format!("{svc}: {cause}")),
                    severity: Some(severity.into()),
                    created_at: Timestamp::from_micros(created_at),
                    resolved_at: (!open).then(|| Timestamp::from_micros(resolved_at)),
                    deployment_id: None,
                    sha: None,
                    recovery_flag: None,
                },
            )?;
            counts.incidents += 1;
        }
    }
    Ok(())
}

/// Whether an incident is one of the third recovered by turning a flag off:
/// by its id's hash, not a draw, so every other generated value stays what
/// it was.
fn one_in_three(id: &str) -> bool {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % 3
        == 0
}

/// A release flag whose code the failing deployment shipped (its commit
/// first references it), let in to 25 % of users right after the
/// deployment and turned off halfway through the incident: a recovery by
/// toggle with a blast radius of 25 (docs/metrics.md section 4.4).
struct GuardFlag<'a> {
    key: String,
    service: &'a str,
    repo: &'a str,
    commit: &'a MainCommit,
    deployed_at: i64,
    caught_at: i64,
    resolved_at: i64,
    end: i64,
}

impl GuardFlag<'_> {
    fn push(&self, buf: &mut Buffers, sink: &mut dyn Sink) -> Result<()> {
        let owner = format!("{}-oncall", self.service);
        buf.push(
            sink,
            &FlagRow {
                key: self.key.clone(),
                project: "synthetic".into(),
                kind: Some("release".into()),
                created_at: Some(Timestamp::from_micros(self.commit.at)),
                created_by: Some(owner.clone()),
                owner: Some(owner.clone()),
                archived_at: None,
                stale: Some(false),
                lifecycle_stage: None,
                expected_lifetime_days: Some(40),
                service: Some(self.service.into()),
            },
        )?;
        buf.push(
            sink,
            &FlagReferenceRow {
                repo: self.repo.into(),
                flag_key: self.key.clone(),
                first_sha: self.commit.sha.clone(),
                first_at: Timestamp::from_micros(self.commit.at),
                removed_sha: None,
                removed_at: None,
                tip_references: Some(1),
            },
        )?;
        let off = self.caught_at + (self.resolved_at - self.caught_at) / 2;
        let events = [
            (self.deployed_at + MINUTE, "rollout-changed", Some(25)),
            (self.deployed_at + 2 * MINUTE, "enabled", None),
            (off, "disabled", None),
        ];
        for (i, (at, kind, pct)) in events.into_iter().enumerate() {
            if at >= self.end {
                break;
            }
            buf.push(
                sink,
                &FlagEventRow {
                    id: format!("synthetic:{}:{i}", self.key),
                    flag_key: self.key.clone(),
                    project: "synthetic".into(),
                    environment: Some("production".into()),
                    at: Timestamp::from_micros(at),
                    actor: Some(owner.clone()),
                    kind: kind.into(),
                    rollout_percentage: pct,
                    change_request: None,
                },
            )?;
        }
        Ok(())
    }
}
