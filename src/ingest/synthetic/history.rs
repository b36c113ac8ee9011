//! Each repository's history: pull requests on feature branches, merged
//! or squashed onto main (commits, changes and the commits each lists).

use super::rng::Rng;
use super::{Buffers, GeneratedCounts, GeneratorConfig, HOUR, MINUTE, Sink, working_day};
use crate::base::time::{MICROS_PER_DAY, Timestamp};
use crate::error::Result;
use crate::store::rows::{ChangeCommitRow, ChangeRow, CommitRow, ReviewRow};

pub(super) const PEOPLE: [&str; 16] = [
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

/// Bots that approve or comment on changes.
const BOTS: [&str; 2] = ["renovate[bot]", "dependabot[bot]"];

/// One merged change, for its reviews.
struct Reviewed<'a> {
    repo: &'a str,
    number: i64,
    author: &'a str,
    created_at: i64,
    merged_at: i64,
    /// When a teammate first reviewed it (after the merge for some), as
    /// the change's `first_review_at` says; None: nobody did.
    first_review: Option<i64>,
}

impl Reviewed<'_> {
    /// The change's reviews, from their own random stream (so the other
    /// tables are the same as before reviews were generated): mostly a
    /// teammate's approval at the first review, some after changes were
    /// requested or comments made, some comment-only, a few dismissed and
    /// approved again, some approvals after the merge; unreviewed changes
    /// are mostly merged alone, some self-approved (GitLab allows it),
    /// some approved by a bot; a few bots comment on reviewed ones.
    fn generate(&self, rng: &mut Rng, buf: &mut Buffers, sink: &mut dyn Sink) -> Result<usize> {
        let mut rows: Vec<(&str, &str, i64)> = Vec::new();
        let teammate = |rng: &mut Rng| loop {
            let p = *rng.pick(&PEOPLE);
            if p != self.author {
                return p;
            }
        };
        let between =
            |rng: &mut Rng, a: i64, b: i64| a + ((b - a).max(1) as f64 * rng.unit()) as i64;
        match self.first_review {
            Some(t) if t >= self.merged_at => rows.push((teammate(rng), "APPROVED", t)),
            Some(t) => {
                let reviewer = teammate(rng);
                let later = between(rng, t, self.merged_at);
                match rng.unit() {
                    x if x < 0.72 => rows.push((reviewer, "APPROVED", t)),
                    x if x < 0.84 => {
                        rows.push((reviewer, "CHANGES_REQUESTED", t));
                        rows.push((reviewer, "APPROVED", later));
                    }
                    x if x < 0.92 => {
                        rows.push((reviewer, "COMMENTED", t));
                        rows.push((teammate(rng), "APPROVED", later));
                    }
                    x if x < 0.96 => rows.push((reviewer, "COMMENTED", t)),
                    _ => {
                        rows.push((reviewer, "DISMISSED", t));
                        if rng.chance(0.5) {
                            rows.push((teammate(rng), "APPROVED", later));
                        }
                    }
                }
                if rng.chance(0.05) {
                    rows.push((
                        *rng.pick(&BOTS),
                        "COMMENTED",
                        between(rng, self.created_at, t),
                    ));
                }
            }
            None => match rng.unit() {
                x if x < 0.6 => {}
                x if x < 0.8 => rows.push((
                    self.author,
                    "APPROVED",
                    between(rng, self.created_at, self.merged_at),
                )),
                _ => rows.push((
                    *rng.pick(&BOTS),
                    "APPROVED",
                    between(rng, self.created_at, self.merged_at),
                )),
            },
        }
        // One review per reviewer and instant (the table's key).
        rows.sort_by_key(|(who, _, at)| (*at, *who));
        rows.dedup_by_key(|(who, _, at)| (*at, *who));
        for (reviewer, state, at) in &rows {
            buf.push(
                sink,
                &ReviewRow {
                    repo: self.repo,
                    number: self.number,
                    reviewer,
                    state,
                    submitted_at: Timestamp::from_micros(*at),
                },
            )?;
        }
        Ok(rows.len())
    }
}

/// A commit on a repo's main line, in time order.
pub(super) struct MainCommit {
    pub(super) sha: String,
    pub(super) at: i64,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn generate_history(
    config: &GeneratorConfig,
    rng: &mut Rng,
    review_rng: &mut Rng,
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
        &CommitRow {
            repo,
            sha: &root,
            parents: &[],
            author: Some("ada"),
            authored_at: Timestamp::from_micros(root_at),
            committed_at: Some(Timestamp::from_micros(root_at)),
            message: Some("Initial commit"),
        },
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
                    &CommitRow {
                        repo,
                        sha: &sha,
                        parents: &parents_buf,
                        author: Some(author),
                        authored_at: Timestamp::from_micros(at),
                        committed_at: Some(Timestamp::from_micros(at)),
                        message: Some(&msg),
                    },
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
            &CommitRow {
                repo,
                sha: &merge_sha,
                parents: &parents_buf,
                author: Some(author),
                authored_at: Timestamp::from_micros(authored),
                committed_at: Some(Timestamp::from_micros(merged_at)),
                message: Some(&message),
            },
        )?;
        counts.commits += 1;
        main.push(MainCommit {
            sha: merge_sha.clone(),
            at: merged_at,
        });

        let created_at = first_commit_at + (span / 4).max(MINUTE);
        let reviewed = rng.chance(0.9);
        let review_at = created_at + rng.lognormal(2.0 * HOUR as f64 / pace, 1.0) as i64;
        let first_review_at =
            (reviewed && review_at < merged_at).then(|| Timestamp::from_micros(review_at));
        let review = Reviewed {
            repo,
            number,
            author,
            created_at: created_at.min(merged_at),
            merged_at,
            first_review: reviewed.then_some(review_at),
        };
        counts.reviews += review.generate(review_rng, buf, sink)?;
        buf.push(
            sink,
            &ChangeRow {
                repo,
                number,
                title: Some(&title),
                author: Some(author),
                created_at: Timestamp::from_micros(created_at.min(merged_at)),
                first_commit_at: Some(Timestamp::from_micros(branch_shas[0].1)),
                first_review_at,
                merged_at: Some(Timestamp::from_micros(merged_at)),
                merge_sha: Some(&merge_sha),
                base_branch: Some("main"),
                labels: &labels,
            },
        )?;
        counts.changes += 1;
        super::governance::push_change_files(config.seed, repo, number, pace, buf, sink)?;
        // The commits the change lists, as a forge sync stores them (for a
        // squash, commits that never reach main).
        for (sha, _) in &branch_shas {
            buf.push(sink, &ChangeCommitRow { repo, number, sha })?;
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
