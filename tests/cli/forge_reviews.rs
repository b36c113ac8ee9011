//! Reviews from the forges (docs/metrics.md section 8) against the mock
//! APIs: GitHub pull request reviews read in the pull requests' GraphQL
//! query (bots spelled `name[bot]` as REST does, pending reviews left
//! out), a pull request with more reviews than one answer holds walked
//! with REST, and GitLab merge request approvals, a revoked one removed.
//! The recorded shapes and their sources: fixtures/github/README.md.

use serde_json::{Value, json};

use crate::forges::{github, gitlab};
use crate::mock_forge::{Flavour, MockForge};
use crate::util::{Workspace, output_ok};

fn reviews(ws: &Workspace) -> String {
    ws.sql_csv(
        "SELECT repo, number, reviewer, state, CAST(submitted_at AS VARCHAR) AS at \
         FROM reviews ORDER BY repo, number, submitted_at, reviewer",
    )
}

#[test]
fn github_reviews_come_with_the_pull_requests_bots_spelled_as_rest() {
    let mock = MockForge::start(Flavour::GitHub);
    let ws = Workspace::new();
    output_ok(github(&ws, &mock, &["acme/api"]));
    // PR #4's review is PENDING (no submitted_at): not stored. The bot
    // comes from GraphQL as `dependabot` with __typename Bot.
    assert_eq!(
        reviews(&ws),
        "repo,number,reviewer,state,at\n\
         acme/api,1,bob,APPROVED,2026-11-02T15:00:00Z\n\
         acme/api,1,erin,DISMISSED,2026-11-02T16:00:00Z\n\
         acme/api,2,bob,COMMENTED,2026-11-03T12:00:00Z\n\
         acme/api,2,carol,APPROVED,2026-11-04T09:00:00Z\n\
         acme/api,3,dependabot[bot],APPROVED,2026-11-05T10:00:00Z\n"
    );
    // No request per pull request: the reviews came in the GraphQL answer.
    assert!(
        !mock.requests().iter().any(|r| r.path.ends_with("/reviews")),
        "reviews were asked for one pull request at a time"
    );
    // #1 (alice's, bob approved) and #2 (bob's, carol approved) are
    // four-eyes; #3 only a bot approved.
    assert_eq!(
        ws.sql_csv(
            "SELECT number, four_eyes, reason FROM change_reviews \
             WHERE repo = 'acme/api' ORDER BY number"
        ),
        "number,four_eyes,reason\n1,true,\n2,true,\n3,false,approved only by a bot\n"
    );
}

#[test]
fn a_pull_request_with_more_reviews_than_one_answer_holds_is_walked() {
    let mock = MockForge::start(Flavour::GitHub);
    // 150 reviews on #2: GraphQL holds 100 (hasNextPage), so the pull
    // request is read whole with REST, 100 to a page.
    let template: Value = {
        let text =
            std::fs::read_to_string(crate::mock_forge::fixture(Flavour::GitHub, "acme-api.json"))
                .unwrap();
        let all: Value = serde_json::from_str(&text).unwrap();
        all["/repos/acme/api/pulls/2/reviews"][1].clone()
    };
    let many: Vec<Value> = (0..150)
        .map(|i| {
            let mut r = template.clone();
            r["id"] = json!(9000 + i);
            r["user"]["login"] = json!(format!("reviewer{i:03}"));
            r["state"] = json!(if i == 149 { "APPROVED" } else { "COMMENTED" });
            r["submitted_at"] = json!(format!("2026-11-03T{:02}:{:02}:00Z", 12 + i / 60, i % 60));
            r
        })
        .collect();
    mock.route("/repos/acme/api/pulls/2/reviews", Value::Array(many));
    let ws = Workspace::new();
    output_ok(github(&ws, &mock, &["acme/api"]));
    assert_eq!(
        ws.sql_csv(
            "SELECT count(*) AS n, sum(CASE WHEN state = 'APPROVED' THEN 1 ELSE 0 END) AS approved \
             FROM reviews WHERE repo = 'acme/api' AND number = 2"
        ),
        "n,approved\n150,1\n"
    );
    let pages: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/repos/acme/api/pulls/2/reviews")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
}

#[test]
fn gitlab_approvals_are_reviews_and_a_revoked_one_goes() {
    let mock = MockForge::start(Flavour::GitLab);
    let ws = Workspace::new();
    output_ok(gitlab(&ws, &mock, &["acme/billing"]));
    // !7 is dave's: erin's approval counts, dave's own does not.
    assert_eq!(
        reviews(&ws),
        "repo,number,reviewer,state,at\n\
         acme/billing,7,erin,APPROVED,2026-11-03T12:00:00Z\n\
         acme/billing,7,dave,APPROVED,2026-11-03T12:30:00Z\n"
    );
    assert_eq!(
        ws.sql_csv(
            "SELECT four_eyes, CAST(last_approval_at AS VARCHAR) AS last, approval_to_merge_s \
             FROM change_reviews WHERE repo = 'acme/billing' AND number = 7"
        ),
        "four_eyes,last,approval_to_merge_s\ntrue,2026-11-03T12:00:00Z,10800.0\n"
    );

    // erin revokes hers (an update of the merge request); a bot approves
    // with a GitLab that does not say when: said on stderr, not stored.
    let path = "/api/v4/projects/acme%2Fbilling/merge_requests/7/approvals";
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::mock_forge::fixture(
            Flavour::GitLab,
            "acme-billing.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut approvals = fixture[path].clone();
    let mut bot = approvals["approved_by"][1].clone();
    bot["user"]["username"] = json!("project_301_bot");
    bot["user"]["id"] = json!(99);
    bot.as_object_mut().unwrap().remove("approved_at");
    approvals["approved_by"] = json!([approvals["approved_by"][1].clone(), bot]);
    mock.route(path, approvals);
    let mut mrs = fixture["/api/v4/projects/acme%2Fbilling/merge_requests"].clone();
    mrs[0]["updated_at"] = json!("2026-11-06T09:00:00.000Z");
    mock.route("/api/v4/projects/acme%2Fbilling/merge_requests", mrs);
    let out = output_ok(gitlab(&ws, &mock, &["acme/billing"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("project_301_bot's approval has no approved_at"),
        "{stderr}"
    );
    assert_eq!(
        reviews(&ws),
        "repo,number,reviewer,state,at\n\
         acme/billing,7,dave,APPROVED,2026-11-03T12:30:00Z\n"
    );
    assert_eq!(
        ws.sql_csv("SELECT four_eyes, reason FROM change_reviews WHERE repo = 'acme/billing'"),
        "four_eyes,reason\nfalse,approved only by its author\n"
    );
}

#[test]
fn github_an_approval_after_the_merge_and_a_dismissed_one_do_not_count() {
    let mock = MockForge::start(Flavour::GitHub);
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::mock_forge::fixture(Flavour::GitHub, "acme-api.json"))
            .unwrap(),
    )
    .unwrap();
    // #1 (merged 11-03 10:00): bob's approval gone, erin's DISMISSED left.
    let one = "/repos/acme/api/pulls/1/reviews";
    mock.route(one, json!([all[one][1].clone()]));
    // #2 (merged 11-04 10:00): carol approves an hour after the merge.
    let two = "/repos/acme/api/pulls/2/reviews";
    let mut late = all[two].clone();
    late[1]["submitted_at"] = json!("2026-11-04T11:00:00Z");
    mock.route(two, late);
    let ws = Workspace::new();
    output_ok(github(&ws, &mock, &["acme/api"]));
    assert_eq!(
        ws.sql_csv(
            "SELECT number, four_eyes, reason, time_to_first_review_s, approval_to_merge_s \
             FROM change_reviews WHERE repo = 'acme/api' ORDER BY number"
        ),
        // #1 opened 11-02 08:00: erin's review (dismissed later) at 16:00
        // is still a first look, 28 800 s. #2 is bob's: his own comment is
        // no review, carol's came after the merge: no time to first review.
        "number,four_eyes,reason,time_to_first_review_s,approval_to_merge_s\n\
         1,false,review dismissed,28800.0,\n\
         2,false,approved only after the merge,,\n\
         3,false,approved only by a bot,,\n"
    );
}
