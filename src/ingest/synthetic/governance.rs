//! Release governance data of the synthetic organisation: who triggered
//! each deployment and who approved the production ones, and the files
//! (with line counts) each change touched.
//!
//! Each deployment and each change draws from its own random stream,
//! seeded from the generator's seed and the deployment id or the change's
//! repository and number, never from the repository's stream: the
//! commits, changes, deployments, incidents and rollbacks a seed gives
//! stay exactly what they were before this data existed.

use super::history::PEOPLE;
use super::rng::Rng;
use super::{Buffers, MINUTE, Sink};
use crate::base::time::{MICROS_PER_DAY, Timestamp};
use crate::error::Result;
use crate::store::rows::{ApprovalRow, ChangeFileRow};

const APPROVALS_STREAM: u64 = 0x0a99_5e1f_a9b0_7e01;
const FILES_STREAM: u64 = 0x5e1f_c4a7_6e5f_11e5;

/// A stream of its own for one named thing (FNV-1a of the name).
fn stream(seed: u64, salt: u64, name: &str, number: i64) -> Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = Rng(seed ^ salt ^ h ^ (number as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    rng.next_u64();
    rng
}

/// Who triggers a deployment of `id` (the same stream as its approvals).
pub(super) fn triggerer(seed: u64, id: &str) -> &'static str {
    let who: &&'static str = stream(seed, APPROVALS_STREAM, id, 0).pick(&PEOPLE);
    who
}

/// The approvals of production deployment `id`, which started at
/// `started_at`: most are approved by another person after a wait of
/// minutes to hours, a few only by their triggerer, some are rejected
/// before someone else approves them, and some environments ask for no
/// approval at all. Slower teams (a lower pace) wait longer.
pub(super) fn push_approvals(
    seed: u64,
    id: &str,
    started_at: i64,
    pace: f64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    let mut rng = stream(seed, APPROVALS_STREAM, id, 0);
    let by = *rng.pick(&PEOPLE);
    let other = |rng: &mut Rng| loop {
        let p = *rng.pick(&PEOPLE);
        if p != by {
            return p;
        }
    };
    let kind = rng.unit();
    if kind < 0.07 {
        return Ok(()); // no approval asked
    }
    let wait = rng
        .lognormal(25.0 * MINUTE as f64 / pace.sqrt(), 1.1)
        .clamp(MINUTE as f64, 3.0 * MICROS_PER_DAY as f64) as i64;
    let decided_at = started_at - rng.range(5_000_000, 90_000_000);
    let requested_at = decided_at - wait;
    let at = |t: i64| Some(Timestamp::from_micros(t));
    let approve = |approver: &str, comment: Option<&str>| ApprovalRow {
        deployment_id: id.to_string(),
        approver: approver.to_string(),
        state: "approved",
        requested_at: at(requested_at),
        decided_at: at(decided_at),
        comment: comment.map(str::to_string),
    };
    let comment = rng
        .chance(0.3)
        .then(|| *rng.pick(&["LGTM", "ship it", "checked the dashboards", "ok"]));
    if kind < 0.11 {
        // Only the person who triggered it approved it.
        buf.push(sink, &approve(by, None))?;
    } else if kind < 0.16 {
        // Rejected first (a freeze, a failing check), approved later by
        // someone else.
        let rejected_by = other(&mut rng);
        buf.push(
            sink,
            &ApprovalRow {
                deployment_id: id.to_string(),
                approver: rejected_by.to_string(),
                state: "rejected",
                requested_at: at(requested_at),
                decided_at: at(requested_at + wait / 3),
                comment: Some(
                    (*rng.pick(&["not during the freeze", "wait for the migration"])).into(),
                ),
            },
        )?;
        let approver = loop {
            let p = other(&mut rng);
            if p != rejected_by {
                break p;
            }
        };
        buf.push(sink, &approve(approver, comment))?;
    } else {
        buf.push(sink, &approve(other(&mut rng), comment))?;
    }
    Ok(())
}

const DIRS: [&str; 6] = ["src", "src/api", "src/core", "tests", "docs", "web"];
const STEMS: [&str; 10] = [
    "handler", "client", "model", "routes", "config", "cache", "auth", "export", "search",
    "metrics",
];
const LOCK_FILES: [&str; 4] = ["Cargo.lock", "package-lock.json", "yarn.lock", "go.sum"];

/// The files change `number` of `repo` touched, with lines added and
/// deleted: sizes are long-tailed (a median of some 60 lines, a few over a
/// thousand); about 4% are dependency bumps that touch only a lock file,
/// 12% update a lock file beside the code and 5% regenerate code or
/// snapshots.
pub(super) fn push_change_files(
    seed: u64,
    repo: &str,
    number: i64,
    pace: f64,
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    let mut rng = stream(seed, FILES_STREAM, repo, number);
    let mut file = |buf: &mut Buffers, path: &str, additions: i64, deletions: i64| {
        buf.push(
            sink,
            &ChangeFileRow {
                repo,
                number,
                path,
                additions,
                deletions,
            },
        )
    };
    let lock = *rng.pick(&LOCK_FILES);
    if rng.chance(0.04) {
        let lines = rng.lognormal(300.0, 1.0).clamp(2.0, 20_000.0) as i64;
        let deletions = lines * rng.range(30, 60) / 100;
        return file(buf, lock, lines - deletions, deletions);
    }
    // Faster teams ship smaller changes.
    let lines = rng
        .lognormal(70.0 / pace.powf(0.3), 1.2)
        .clamp(1.0, 8_000.0) as i64;
    let files = (1 + rng.poisson((lines as f64).sqrt() / 3.0)).min(40);
    let mut left = lines;
    for k in 0..files {
        let share = if k + 1 == files {
            left
        } else {
            (left as f64 * rng.unit() * 0.7) as i64
        };
        left -= share;
        let deletions = share * rng.range(10, 45) / 100;
        let path = format!(
            "{}/{}_{k}.{}",
            rng.pick(&DIRS),
            rng.pick(&STEMS),
            *rng.pick(&["rs", "ts", "go", "py"])
        );
        file(buf, &path, share - deletions, deletions)?;
    }
    if rng.chance(0.12) {
        let lines = rng.lognormal(80.0, 1.0).clamp(2.0, 5_000.0) as i64;
        file(buf, lock, lines / 2, lines - lines / 2)?;
    }
    if rng.chance(0.05) {
        let path = *rng.pick(&["generated/api_client.ts", "tests/__snapshots__/ui.snap"]);
        let lines = rng.lognormal(200.0, 1.0).clamp(2.0, 10_000.0) as i64;
        file(buf, path, lines, lines / 3)?;
    }
    Ok(())
}
