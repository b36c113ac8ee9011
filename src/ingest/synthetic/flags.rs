//! Feature flags of the synthetic organisation and their history in
//! production: most release flags reach everyone, about half of them in
//! steps (10 %, 50 %, 100 %) over hours to days, a third at once; some are
//! still partial or dark at the end; experiments stop at half; a few
//! kill-switches are turned off and on again. Temporary flags are archived
//! some weeks after their release. Each flag's code enters its service's
//! repo with the first main-line commit from its creation on, and leaves it
//! with the first one from its archiving on (`flag_references`).
//!
//! Each service draws from its own stream (seeded from the seed and the
//! service's name), so every other table a seed gives stays what it was.

use std::collections::HashMap;

use super::history::MainCommit;
use super::org::{ServicePlan, TeamPlan};
use super::rng::Rng;
use super::{Buffers, HOUR, MINUTE, Sink};
use crate::base::time::{MICROS_PER_DAY, Timestamp};
use crate::error::Result;
use crate::store::rows::{FlagEventRow, FlagReferenceRow, FlagRow};

const FLAGS_STREAM: u64 = 0xf1a9_5f1a_95f1_a95f;
const NAMES: [&str; 8] = [
    "checkout",
    "search",
    "login",
    "invoice",
    "banner",
    "cache",
    "pricing",
    "onboarding",
];

fn stream(seed: u64, name: &str) -> Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = Rng(seed ^ FLAGS_STREAM ^ h);
    rng.next_u64();
    rng
}

/// The flags of every service between `start` and `end` (microseconds).
#[allow(clippy::too_many_arguments)]
pub(super) fn push_flags(
    seed: u64,
    teams: &[TeamPlan],
    services: &[ServicePlan],
    mains: &HashMap<String, Vec<MainCommit>>,
    start: i64,
    end: i64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    for service in services {
        let pace = teams[service.team].pace;
        let mut rng = stream(seed, &service.name);
        let days = (end - start) as f64 / MICROS_PER_DAY as f64;
        let count = rng.poisson(days / 20.0 * pace.max(0.3));
        for n in 0..count {
            let created = rng.range(start, end);
            let main = mains.get(&service.repo).map_or(&[][..], Vec::as_slice);
            push_flag(&mut rng, service, main, n, created, end, buf, sink)?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn push_flag(
    rng: &mut Rng,
    service: &ServicePlan,
    main: &[MainCommit],
    n: usize,
    created: i64,
    end: i64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    let key = format!("{}-{}-{n}", service.name, rng.pick(&NAMES));
    let roll = rng.unit();
    let (kind, lifetime) = match roll {
        r if r < 0.7 => ("release", Some(40)),
        r if r < 0.85 => ("experiment", Some(40)),
        r if r < 0.95 => ("operational", Some(7)),
        _ => ("kill-switch", None),
    };
    let who = *rng.pick(&super::history::PEOPLE);
    let mut events: Vec<(i64, &'static str, Option<i64>)> = Vec::new();
    // Dark in production for hours to days after it is created (the code
    // ships first), then let in.
    let mut at = created + rng.lognormal(30.0 * HOUR as f64, 1.0) as i64;
    let plan = rng.unit();
    match kind {
        "release" if plan < 0.5 => {
            // In steps; the last may not have come yet.
            events.push((at, "rollout-changed", Some(10)));
            events.push((at + MINUTE, "enabled", None));
            for pct in [50, 100] {
                at += MINUTE + rng.lognormal(20.0 * HOUR as f64, 0.9) as i64;
                events.push((at, "rollout-changed", Some(pct)));
            }
        }
        "release" if plan < 0.85 => events.push((at, "enabled", None)),
        "release" => {} // not let in yet
        "experiment" => {
            events.push((at, "rollout-changed", Some(50)));
            events.push((at + MINUTE, "enabled", None));
        }
        _ => {
            events.push((at, "enabled", None));
            if rng.chance(0.3) {
                at += rng.lognormal(6.0 * DAY_F, 1.0) as i64;
                events.push((at, "disabled", None));
                events.push((at + rng.range(2 * MINUTE, 40 * MINUTE), "enabled", None));
            }
        }
    }
    let archived = (lifetime.is_some() && !events.is_empty())
        .then(|| at + rng.lognormal(30.0 * DAY_F, 0.5) as i64)
        .filter(|&t| t < end);
    if let Some(t) = archived {
        events.push((t, "archived", None));
    }
    // The code: no random draw, so the other flag tables stay what they were.
    let from = |t: i64| {
        main.iter()
            .filter(|c| c.at >= t && c.at < end)
            .min_by_key(|c| c.at)
    };
    if let Some(first) = from(created) {
        let removed = archived.and_then(from).filter(|r| r.at >= first.at);
        buf.push(
            sink,
            &FlagReferenceRow {
                repo: service.repo.clone(),
                flag_key: key.clone(),
                first_sha: first.sha.clone(),
                first_at: Timestamp::from_micros(first.at),
                removed_sha: removed.map(|r| r.sha.clone()),
                removed_at: removed.map(|r| Timestamp::from_micros(r.at)),
                tip_references: Some(if removed.is_some() { 0 } else { 1 }),
            },
        )?;
    }
    let project = "synthetic";
    buf.push(
        sink,
        &FlagRow {
            key: key.clone(),
            project: project.into(),
            kind: Some(kind.into()),
            created_at: Some(Timestamp::from_micros(created)),
            created_by: Some(who.into()),
            owner: rng.chance(0.8).then(|| who.to_string()),
            archived_at: archived.map(Timestamp::from_micros),
            stale: Some(false),
            lifecycle_stage: None,
            expected_lifetime_days: lifetime,
            service: Some(service.name.clone()),
        },
    )?;
    for (i, (t, event, pct)) in events.into_iter().enumerate() {
        if t >= end {
            break;
        }
        buf.push(
            sink,
            &FlagEventRow {
                id: format!("synthetic:{key}:{i}"),
                flag_key: key.clone(),
                project: project.into(),
                environment: Some("production".into()),
                at: Timestamp::from_micros(t),
                actor: Some(who.into()),
                kind: event.into(),
                rollout_percentage: pct,
                change_request: None,
            },
        )?;
    }
    Ok(())
}

const DAY_F: f64 = MICROS_PER_DAY as f64;
