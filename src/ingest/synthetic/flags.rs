//! Feature flags of the synthetic organisation and their history in
//! production: most release flags reach everyone, about half of them in
//! steps (10 %, 50 %, 100 %) over hours to days, a third at once; some are
//! still partial or dark at the end; experiments stop at half; a few
//! kill-switches are turned off and on again. Temporary flags are archived
//! some weeks after their release.
//!
//! Code references (`flag_references`): the code reading a flag lands on
//! its service repository's main line a little before the flag is first
//! let in (or a day or two after it is created when it never is), in the
//! merge that was the main line then; most archived flags' references are
//! removed a week or so after the archive, a quarter of the enabled
//! release and experiment flags are cleaned out of the code but left on
//! the platform, and the rest stay referenced (flag debt). References draw
//! from a stream of their own per flag, so the flags and their events are
//! what they were before references existed.
//!
//! Each service draws from its own stream (seeded from the seed and the
//! service's name), so every other table a seed gives stays what it was.

use super::history::MainCommit;
use super::org::{ServicePlan, TeamPlan};
use super::rng::Rng;
use super::{Buffers, HOUR, MINUTE, Sink};
use crate::base::time::{MICROS_PER_DAY, Timestamp};
use crate::error::Result;
use crate::store::rows::{FlagEventRow, FlagReferenceRow, FlagRow};

const FLAGS_STREAM: u64 = 0xf1a9_5f1a_95f1_a95f;
const REFERENCES_STREAM: u64 = 0x2ef5_2ef5_c0de_2ef5;
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

/// The flags of every service between `start` and `end` (microseconds),
/// with their code references in `main_lines` (repository → main line).
#[allow(clippy::too_many_arguments)]
pub(super) fn push_flags(
    seed: u64,
    teams: &[TeamPlan],
    services: &[ServicePlan],
    main_lines: &std::collections::HashMap<String, Vec<MainCommit>>,
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
            let flag = push_flag(&mut rng, service, n, created, end, buf, sink)?;
            if let Some(line) = main_lines.get(&service.repo) {
                let mut refs = stream(seed ^ REFERENCES_STREAM, &flag.key);
                push_reference(&mut refs, &service.repo, &flag, line, end, buf, sink)?;
            }
        }
    }
    Ok(())
}

/// What the references of a flag follow from.
struct FlagLife {
    key: String,
    kind: &'static str,
    created: i64,
    /// First let in to production (any rollout), before `end`.
    first_on: Option<i64>,
    archived: Option<i64>,
}

fn push_flag(
    rng: &mut Rng,
    service: &ServicePlan,
    n: usize,
    created: i64,
    end: i64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<FlagLife> {
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
    let project = "synthetic";
    let life = FlagLife {
        key: key.clone(),
        kind,
        created,
        first_on: events
            .iter()
            .find(|e| e.1 != "archived")
            .map(|e| e.0)
            .filter(|&t| t < end),
        archived,
    };
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
    // Three flags in five are changed through change requests (four-eyes
    // on flag changes), the others directly; decided by the key's hash, not
    // a draw, so every other generated value stays what it was.
    let gated = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % 5
        < 3;
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
                change_request: gated.then(|| format!("cr:{key}:{i}")),
            },
        )?;
    }
    Ok(life)
}

/// The flag's `flag_references` row in its repository, from the main
/// line's real commits: the last merge before the code was needed first,
/// and the first merge after the cleanup (none before `end`: still there).
fn push_reference(
    rng: &mut Rng,
    repo: &str,
    flag: &FlagLife,
    line: &[MainCommit],
    end: i64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    let needed = match flag.first_on {
        Some(on) => on - rng.lognormal(8.0 * HOUR as f64, 0.8) as i64,
        None => flag.created + rng.lognormal(2.0 * DAY_F, 0.6) as i64,
    };
    let at_or_before = line.partition_point(|c| c.at <= needed);
    let first = match at_or_before {
        0 => line.first(),
        i => line.get(i - 1),
    };
    let Some(first) = first.filter(|c| c.at < end) else {
        return Ok(());
    };
    let cleanup = match (flag.archived, flag.first_on) {
        (Some(archived), _) if rng.chance(0.8) => {
            Some(archived + rng.lognormal(7.0 * DAY_F, 0.8) as i64)
        }
        (None, Some(on)) if matches!(flag.kind, "release" | "experiment") && rng.chance(0.25) => {
            Some(on + rng.lognormal(45.0 * DAY_F, 0.5) as i64)
        }
        _ => None,
    };
    let removed = cleanup
        .and_then(|t| line.get(line.partition_point(|c| c.at < t)))
        .filter(|c| c.at > first.at && c.at < end);
    let tip = if removed.is_some() {
        0
    } else {
        1 + rng.poisson(1.5) as i64
    };
    buf.push(
        sink,
        &FlagReferenceRow {
            repo: repo.into(),
            flag_key: flag.key.clone(),
            first_sha: first.sha.clone(),
            first_at: Timestamp::from_micros(first.at),
            removed_sha: removed.map(|c| c.sha.clone()),
            removed_at: removed.map(|c| Timestamp::from_micros(c.at)),
            tip_references: Some(tip),
        },
    )
}

const DAY_F: f64 = MICROS_PER_DAY as f64;
