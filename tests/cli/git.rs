//! `ingest git` and `analyze` against repositories each test builds with the
//! `git` binary (fixed dates, so expected values are exact).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Workspace, output_ok};

/// Runs git in `dir` with author and committer dates set to `date`.
pub fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn commit(dir: &Path, date: &str, file: &str, message: &str) -> String {
    std::fs::write(dir.join(file), format!("{message}\n")).unwrap();
    git_at(dir, date, &["add", "."]);
    git_at(dir, date, &["commit", "-q", "-m", message]);
    git_at(dir, date, &["rev-parse", "HEAD"])
}

pub fn new_repo(ws: &Workspace, name: &str) -> PathBuf {
    let dir = ws.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    git_at(&dir, "2026-01-01T00:00:00Z", &["init", "-q", "-b", "main"]);
    dir
}

/// main: c1 → c2 → m (merge of feature f1, branched from c1) → r (revert of c2).
/// Tags: v1.0 lightweight on c2; v1.1 annotated on the merge; v1.2 annotated on
/// r; v1.3 annotated back on c2 (a rollback); v1.4 signed, on r.
fn release_history(ws: &Workspace) -> (PathBuf, [String; 5]) {
    let dir = new_repo(ws, "shop");
    let c1 = commit(&dir, "2026-01-01T10:00:00Z", "a", "First");
    let c2 = commit(&dir, "2026-01-02T10:00:00Z", "b", "Second");
    git_at(&dir, "2026-01-02T10:00:00Z", &["tag", "v1.0"]);
    git_at(
        &dir,
        "2026-01-02T11:00:00Z",
        &["checkout", "-q", "-b", "feature", &c1],
    );
    let f1 = commit(&dir, "2026-01-02T12:00:00Z", "c", "Feature work");
    git_at(&dir, "2026-01-03T09:00:00Z", &["checkout", "-q", "main"]);
    git_at(
        &dir,
        "2026-01-03T10:00:00Z",
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge branch 'feature'",
            "feature",
        ],
    );
    let m = git_at(&dir, "2026-01-03T10:00:00Z", &["rev-parse", "HEAD"]);
    git_at(
        &dir,
        "2026-01-04T10:00:00Z",
        &["tag", "-a", "v1.1", "-m", "release 1.1"],
    );
    git_at(&dir, "2026-01-05T10:00:00Z", &["revert", "--no-edit", &c2]);
    let r = git_at(&dir, "2026-01-05T10:00:00Z", &["rev-parse", "HEAD"]);
    git_at(
        &dir,
        "2026-01-06T10:00:00Z",
        &["tag", "-a", "v1.2", "-m", "release 1.2"],
    );
    git_at(
        &dir,
        "2026-01-07T10:00:00Z",
        &["tag", "-a", "v1.3", "-m", "roll back", &c2],
    );
    // A signed tag: an annotated tag object whose message carries a PGP
    // signature block (git stores signed tags this way; nobody verifies it here).
    let signed = format!(
        "object {r}\ntype commit\ntag v1.4\ntagger Ada <ada@example.com> 1767780000 +0000\n\nrelease 1.4\n\
         -----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n"
    );
    let tag_file = ws.path("signed-tag.txt");
    std::fs::write(&tag_file, signed).unwrap();
    let tag_id = {
        let out = Command::new("git")
            .current_dir(&dir)
            .args(["mktag"])
            .stdin(std::fs::File::open(&tag_file).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mktag: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    git_at(
        &dir,
        "2026-01-07T10:00:00Z",
        &["update-ref", "refs/tags/v1.4", &tag_id],
    );
    (dir, [c1, c2, f1, m, r])
}

#[test]
fn merges_annotated_lightweight_and_signed_tags_revert_and_rollback() {
    let ws = Workspace::new();
    let (dir, [c1, c2, f1, m, r]) = release_history(&ws);
    ws.doralens(&[
        "ingest",
        "git",
        dir.to_str().unwrap(),
        "--deploy-tags",
        "v*",
        "--service",
        "web",
    ])
    .assert()
    .success();

    let commits = ws.sql_csv("SELECT sha, array_length(parents) AS n, author, authored_at, message FROM commits ORDER BY authored_at",
    );
    let expected = format!(
        "sha,n,author,authored_at,message\n\
         {c1},0,Ada,2026-01-01T10:00:00Z,First\n\
         {c2},1,Ada,2026-01-02T10:00:00Z,Second\n\
         {f1},1,Ada,2026-01-02T12:00:00Z,Feature work\n\
         {m},2,Ada,2026-01-03T10:00:00Z,Merge branch 'feature'\n\
         {r},1,Ada,2026-01-05T10:00:00Z,\"Revert \"\"Second\"\"\"\n"
    );
    assert_eq!(commits, expected);

    // Lightweight: the commit's date; annotated and signed: the tagger's.
    let deployments = ws.sql_csv("SELECT id, service, environment, sha, status, finished_at FROM deployments ORDER BY finished_at, id",
    );
    let expected = format!(
        "id,service,environment,sha,status,finished_at\n\
         shop@v1.0,web,production,{c2},success,2026-01-02T10:00:00Z\n\
         shop@v1.1,web,production,{m},success,2026-01-04T10:00:00Z\n\
         shop@v1.2,web,production,{r},success,2026-01-06T10:00:00Z\n\
         shop@v1.3,web,production,{c2},success,2026-01-07T10:00:00Z\n\
         shop@v1.4,web,production,{r},success,2026-01-07T10:00:00Z\n"
    );
    assert_eq!(deployments, expected);
    assert_eq!(
        ws.sql_csv("SELECT id, deployment_id, rollback_deployment_id, finished_at FROM rollbacks"),
        "id,deployment_id,rollback_deployment_id,finished_at\n\
         shop@v1.3#rollback,shop@v1.2,shop@v1.3,2026-01-07T10:00:00Z\n"
    );
    // The revert makes v1.2 rework; the rollback makes v1.3 rework and v1.2 failed.
    assert_eq!(
        ws.sql_csv_in(
            &ws.warehouse(),
            "SELECT deployment_id, reason FROM rework_deployment_reasons ORDER BY 1, 2",
            &["--from", "2026-01-01", "--to", "2026-01-08"]
        ),
        "deployment_id,reason\nshop@v1.2,revert commit\nshop@v1.3,rollback\n"
    );
}

#[test]
fn incremental_run_equals_full_run() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "api");
    commit(&dir, "2026-02-01T10:00:00Z", "a", "one");
    commit(&dir, "2026-02-02T10:00:00Z", "b", "two");
    git_at(
        &dir,
        "2026-02-02T12:00:00Z",
        &["tag", "-a", "v1", "-m", "v1"],
    );
    let ingest = |ws: &Workspace, wh: &Path, extra: &[&str]| {
        let mut args = vec![
            "ingest",
            "git",
            dir.to_str().unwrap(),
            "--deploy-tags",
            "v*",
        ];
        args.extend(extra);
        let out = output_ok(ws.doralens_in(wh, &args));
        String::from_utf8(out.stderr).unwrap()
    };
    let first = ingest(&ws, &ws.warehouse(), &[]);
    assert!(first.contains("api: 2 commits"), "{first}");

    git_at(
        &dir,
        "2026-02-03T09:00:00Z",
        &["checkout", "-q", "-b", "topic"],
    );
    commit(&dir, "2026-02-03T10:00:00Z", "c", "three");
    git_at(&dir, "2026-02-04T09:00:00Z", &["checkout", "-q", "main"]);
    commit(&dir, "2026-02-04T10:00:00Z", "d", "four");
    git_at(
        &dir,
        "2026-02-04T11:00:00Z",
        &["merge", "-q", "--no-ff", "-m", "merge topic", "topic"],
    );
    git_at(
        &dir,
        "2026-02-05T12:00:00Z",
        &["tag", "-a", "v2", "-m", "v2"],
    );
    let second = ingest(&ws, &ws.warehouse(), &[]);
    assert!(second.contains("api: 3 new commits"), "{second}");

    let full = ws.path("full");
    ingest(&ws, &full, &["--full"]);
    let q = "SELECT repo, sha, parents, author, authored_at, committed_at, message FROM commits ORDER BY sha";
    let dq = "SELECT * EXCLUDE (_fetched_at, _sync) FROM deployments ORDER BY id";
    assert_eq!(ws.sql_csv(q), ws.sql_csv_in(&full, q, &[]));
    assert_eq!(ws.sql_csv(dq), ws.sql_csv_in(&full, dq, &[]));
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM commits"), "n\n5\n");
}

#[test]
fn shallow_clone_is_refused_with_how_to_fix_it() {
    let ws = Workspace::new();
    let (dir, _) = release_history(&ws);
    let shallow = ws.path("shallow");
    git_at(
        ws.dir.path(),
        "2026-01-08T00:00:00Z",
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", dir.display()),
            shallow.to_str().unwrap(),
        ],
    );
    let out = ws
        .doralens(&["ingest", "git", shallow.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shallow clone"), "{stderr}");
    assert!(stderr.contains("fetch --unshallow"), "{stderr}");
    ws.doralens(&[
        "ingest",
        "git",
        shallow.to_str().unwrap(),
        "--allow-shallow",
    ])
    .assert()
    .success();
}

#[test]
fn bare_repositories_work_and_name_themselves_without_dot_git() {
    let ws = Workspace::new();
    let (dir, _) = release_history(&ws);
    let bare = ws.path("store.git");
    git_at(
        ws.dir.path(),
        "2026-01-08T00:00:00Z",
        &[
            "clone",
            "-q",
            "--bare",
            dir.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    ws.doralens(&[
        "ingest",
        "git",
        bare.to_str().unwrap(),
        "--deploy-tags",
        "v1.1",
    ])
    .assert()
    .success();
    assert_eq!(
        ws.sql_csv("SELECT DISTINCT repo FROM commits"),
        "repo\nstore\n"
    );
    assert_eq!(ws.sql_csv("SELECT id FROM deployments"), "id\nstore@v1.1\n");
}

#[test]
fn errors_name_the_problem_and_the_fix() {
    let ws = Workspace::new();
    let (dir, _) = release_history(&ws);
    let plain = ws.path("plain");
    std::fs::create_dir_all(&plain).unwrap();
    for (args, needle) in [
        (
            vec!["ingest", "git", plain.to_str().unwrap()],
            "not a git repository",
        ),
        (
            vec![
                "ingest",
                "git",
                dir.to_str().unwrap(),
                "--deploy-tags",
                "release-*",
            ],
            "no tag of",
        ),
        (
            vec!["ingest", "git", dir.to_str().unwrap(), "--branch", "nope"],
            "no branch `nope`",
        ),
        (vec!["analyze", dir.to_str().unwrap()], "--deploy-tags"),
    ] {
        let out = ws.doralens(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // The tag list helps pick a glob.
    let out = ws
        .doralens(&[
            "ingest",
            "git",
            dir.to_str().unwrap(),
            "--deploy-tags",
            "x*",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its tags are: v1.0, v1.1, v1.2, v1.3, v1.4")
    );
}

#[test]
fn corrupt_object_is_reported_with_fsck_hint() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "broken");
    commit(&dir, "2026-03-01T10:00:00Z", "a", "one");
    let head = commit(&dir, "2026-03-02T10:00:00Z", "b", "two");
    let object = dir.join(".git/objects").join(&head[..2]).join(&head[2..]);
    let mut perms = std::fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&object, perms).unwrap();
    std::fs::write(&object, b"this is not a zlib stream").unwrap();
    let out = ws
        .doralens(&["ingest", "git", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("git fsck"), "{stderr}");
    // Nothing half-written: no commits table, no cursor.
    assert_eq!(ws.sql_csv("SELECT count(*) AS n FROM commits"), "n\n0\n");
}

#[test]
fn analyze_prints_the_repositorys_metrics() {
    let ws = Workspace::new();
    let (dir, _) = release_history(&ws);
    let out = output_ok(ws.doralens(&[
        "analyze",
        dir.to_str().unwrap(),
        "--deploy-tags",
        "v*",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-08",
        "--format",
        "json",
    ]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // v1.0 is the baseline; v1.1 ships f1 (2026-01-02 12:00) and m (01-03 10:00)
    // at 01-04 10:00: 46 h and 24 h; v1.2 ships r (01-05 10:00) at 01-06 10:00: 24 h.
    let row = &json[0];
    assert_eq!(row["deployments"], 5);
    assert_eq!(row["lead_time_count"], 3);
    assert_eq!(row["lead_time_p50_s"], 86400.0);
    assert_eq!(row["failed_deployments"], 1);
    assert_eq!(row["rework_deployments"], 2);
}

fn write_file(dir: &Path, file: &str, content: &str) {
    let p = dir.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn commit_files(dir: &Path, date: &str, files: &[&str], message: &str) -> String {
    for f in files {
        write_file(dir, f, &format!("{message}\n"));
    }
    git_at(dir, date, &["add", "."]);
    git_at(dir, date, &["commit", "-q", "-m", message]);
    git_at(dir, date, &["rev-parse", "HEAD"])
}

#[test]
fn monorepo_services_by_path_ship_only_their_own_commits() {
    let ws = Workspace::new();
    let dir = new_repo(&ws, "mono");
    let c1 = commit_files(
        &dir,
        "2026-01-01T10:00:00Z",
        &["services/api/a.txt", "services/web/w.txt"],
        "scaffold",
    );
    git_at(&dir, "2026-01-01T10:00:00Z", &["tag", "v1"]);
    let c2 = commit_files(
        &dir,
        "2026-01-02T10:00:00Z",
        &["services/api/a.txt"],
        "api change",
    );
    let c3 = commit_files(
        &dir,
        "2026-01-03T10:00:00Z",
        &["services/web/w.txt"],
        "web change",
    );
    commit_files(&dir, "2026-01-04T10:00:00Z", &["README.md"], "docs only");
    git_at(
        &dir,
        "2026-01-05T10:00:00Z",
        &["tag", "-a", "v2", "-m", "both"],
    );
    let c5 = commit_files(
        &dir,
        "2026-01-06T10:00:00Z",
        &["services/api/b.txt"],
        "api again",
    );
    git_at(
        &dir,
        "2026-01-06T12:00:00Z",
        &["tag", "-a", "api/v3", "-m", "api only"],
    );
    let ingest = |wh: &Path, extra: &[&str]| {
        let mut args = vec![
            "ingest",
            "git",
            dir.to_str().unwrap(),
            "--deploy-tags",
            "*",
            "--service-path",
            "api=services/api/*",
            "--service-path",
            "web=services/web/*",
        ];
        args.extend(extra);
        output_ok(ws.doralens_in(wh, &args));
    };
    ingest(&ws.warehouse(), &[]);

    assert_eq!(
        ws.sql_csv("SELECT repo, sha, parents FROM commits WHERE repo LIKE 'mono:%' ORDER BY repo, authored_at"
        ),
        format!(
            "repo,sha,parents\nmono:api,{c1},\nmono:api,{c2},{c1}\nmono:api,{c5},{c2}\nmono:web,{c1},\nmono:web,{c3},{c1}\n"
        )
    );
    assert_eq!(
        ws.sql_csv("SELECT id, repo, service, sha FROM deployments ORDER BY finished_at, id"),
        format!(
            "id,repo,service,sha\n\
             mono@v1:api,mono:api,api,{c1}\nmono@v1:web,mono:web,web,{c1}\n\
             mono@v2:api,mono:api,api,{c2}\nmono@v2:web,mono:web,web,{c3}\n\
             mono@api/v3:api,mono:api,api,{c5}\n"
        )
    );
    // api: v2 ships only c2 (72 h), api/v3 ships c5 (2 h); web: v2 ships only c3 (48 h).
    let out = ws
        .doralens(&[
            "metrics",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-08",
            "--by",
            "service",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    assert_eq!(rows[1][0], "api");
    assert_eq!(rows[1][col("deployments")], "3");
    assert_eq!(rows[1][col("lead_time_count")], "2");
    assert_eq!(
        rows[1][col("lead_time_p50_s")].parse::<f64>().unwrap(),
        133200.0
    );
    assert_eq!(rows[2][0], "web");
    assert_eq!(rows[2][col("deployments")], "2");
    assert_eq!(rows[2][col("lead_time_count")], "1");
    assert_eq!(
        rows[2][col("lead_time_p50_s")].parse::<f64>().unwrap(),
        172800.0
    );

    // Incremental: one more web commit and a web-only tag, then compare
    // with a full run into a fresh warehouse.
    commit_files(
        &dir,
        "2026-01-07T10:00:00Z",
        &["services/web/x.txt"],
        "web again",
    );
    git_at(
        &dir,
        "2026-01-08T10:00:00Z",
        &["tag", "-a", "web-v4", "-m", "web only"],
    );
    ingest(&ws.warehouse(), &[]);
    let full = ws.path("full");
    ingest(&full, &["--full"]);
    for q in [
        "SELECT repo, sha, parents, authored_at FROM commits ORDER BY repo, sha",
        "SELECT id, repo, service, sha, finished_at FROM deployments ORDER BY id",
    ] {
        let in_full = ws.sql_csv_in(&full, q, &[]);
        assert_eq!(ws.sql_csv(q), in_full, "{q}");
    }
    assert_eq!(
        ws.sql_csv("SELECT count(*) AS n FROM deployments WHERE id LIKE '%web-v4%'"),
        "n\n1\n"
    );
}
