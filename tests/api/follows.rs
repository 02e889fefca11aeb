//! Following: the Flask Mega-Tutorial's test_follow, idempotency, errors,
//! concurrency, and paging through followers.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, strings};

const RELATION: &str = r#"query($name: String!) {
  user(username: $name) {
    followersCount followingCount viewerIsFollowing followsViewer
    followers { totalCount nodes { username } edges { followedAt } }
    following { totalCount nodes { username } }
  }
}"#;

const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { user { username followersCount viewerIsFollowing } viewer { followingCount } } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollow(userId: $u) { user { username followersCount viewerIsFollowing } viewer { followingCount } } }";

async fn relation(app: &crate::helpers::TestApp, token: &str, name: &str) -> Value {
    app.ok(Some(token), RELATION, json!({ "name": name })).await["user"].clone()
}

/// The Mega-Tutorial's test_follow, through the API.
#[tokio::test]
async fn test_follow() {
    let app = spawn_app().await;
    let (john, _) = app.sign_up("john").await;
    let (susan, susan_id) = app.sign_up("susan").await;

    let j = relation(&app, &john, "john").await;
    assert_eq!(j["following"]["nodes"], json!([]));
    assert_eq!(j["followers"]["nodes"], json!([]));

    let data = app.ok(Some(&john), FOLLOW, json!({ "u": susan_id })).await;
    assert_eq!(data["follow"]["user"], json!({ "username": "susan", "followersCount": 1, "viewerIsFollowing": true }));
    assert_eq!(data["follow"]["viewer"]["followingCount"], 1);

    let j = relation(&app, &john, "john").await;
    assert_eq!(j["followingCount"], 1);
    assert_eq!(j["following"]["totalCount"], 1);
    assert_eq!(strings(&j["following"]["nodes"], "/username"), ["susan"]);
    let s = relation(&app, &john, "susan").await;
    assert_eq!(s["followersCount"], 1);
    assert_eq!(s["viewerIsFollowing"], true);
    assert_eq!(s["followsViewer"], false);
    assert_eq!(strings(&s["followers"]["nodes"], "/username"), ["john"]);
    assert!(s["followers"]["edges"][0]["followedAt"].is_string());
    // Seen from susan's side.
    let j_by_s = relation(&app, &susan, "john").await;
    assert_eq!(j_by_s["followsViewer"], true);
    assert_eq!(j_by_s["viewerIsFollowing"], false);

    let data = app.ok(Some(&john), UNFOLLOW, json!({ "u": susan_id })).await;
    assert_eq!(
        data["unfollow"]["user"],
        json!({ "username": "susan", "followersCount": 0, "viewerIsFollowing": false })
    );
    let j = relation(&app, &john, "john").await;
    assert_eq!((j["followingCount"].clone(), j["following"]["totalCount"].clone()), (json!(0), json!(0)));
    assert_eq!(j["following"]["nodes"], json!([]));
    let s = relation(&app, &john, "susan").await;
    assert_eq!(s["followersCount"], 0);
    assert_eq!(s["viewerIsFollowing"], false);
    assert_eq!(s["followers"]["nodes"], json!([]));
}

#[tokio::test]
async fn follow_and_unfollow_are_idempotent() {
    let app = spawn_app().await;
    let (john, _) = app.sign_up("john").await;
    let (_, susan_id) = app.sign_up("susan").await;
    for _ in 0..3 {
        let data = app.ok(Some(&john), FOLLOW, json!({ "u": susan_id })).await;
        assert_eq!(data["follow"]["user"]["followersCount"], 1);
    }
    // Two mutation fields in one request run in order and see each other.
    let both = app
        .ok(
            Some(&john),
            "mutation($u: ID!) { a: unfollow(userId: $u) { user { followersCount } } b: follow(userId: $u) { user { followersCount viewerIsFollowing } } }",
            json!({ "u": susan_id }),
        )
        .await;
    assert_eq!(both["a"]["user"]["followersCount"], 0);
    assert_eq!(both["b"]["user"], json!({ "followersCount": 1, "viewerIsFollowing": true }));
    for _ in 0..3 {
        let data = app.ok(Some(&john), UNFOLLOW, json!({ "u": susan_id })).await;
        assert_eq!(data["unfollow"]["user"]["followersCount"], 0);
        assert_eq!(data["unfollow"]["viewer"]["followingCount"], 0);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM follows").await, 0);
}

#[tokio::test]
async fn follow_errors() {
    let app = spawn_app().await;
    let (john, john_id) = app.sign_up("john").await;
    let (_, susan_id) = app.sign_up("susan").await;
    assert_eq!(app.error_code(None, FOLLOW, json!({ "u": susan_id })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&john), FOLLOW, json!({ "u": john_id })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(Some(&john), FOLLOW, json!({ "u": "not-an-id" })).await, "BAD_USER_INPUT");
    // A well-formed ID of nobody (built here only to test the server: clients never parse IDs).
    let ghost_id = crate::helpers::global_id("User", 999_999);
    assert_eq!(app.error_code(Some(&john), FOLLOW, json!({ "u": ghost_id })).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&john), UNFOLLOW, json!({ "u": ghost_id })).await, "NOT_FOUND");
    // A post's ID is not a user's.
    let post_id = app.post(&john, "hello").await;
    assert_eq!(app.error_code(Some(&john), FOLLOW, json!({ "u": post_id })).await, "BAD_USER_INPUT");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM follows").await, 0);
}

#[tokio::test]
async fn self_follow_is_refused_by_the_database_too() {
    let app = spawn_app().await;
    app.sign_up("john").await;
    let id = app.scalar("SELECT id FROM users").await;
    let res = sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        &format!("INSERT INTO follows (follower_id, followed_id, created_at) VALUES ({id}, {id}, '2026-01-01T00:00:00+00:00')"),
    )
    .await;
    assert!(res.is_err(), "the CHECK constraint must refuse a self-follow");
}

#[tokio::test]
async fn concurrent_duplicate_follows_leave_one_row_and_no_error() {
    let app = spawn_app().await;
    let (john, _) = app.sign_up("john").await;
    let (_, susan_id) = app.sign_up("susan").await;
    let requests = (0..20).map(|_| app.gql(Some(&john), FOLLOW, json!({ "u": susan_id })));
    for body in futures::future::join_all(requests).await {
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body["data"]["follow"]["user"]["viewerIsFollowing"], true);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM follows").await, 1);
    let app = &app;
    let counts = |name: &'static str| async move {
        let (followers, following) = (
            app.scalar(&format!("SELECT followers_count FROM users WHERE username = '{name}'")).await,
            app.scalar(&format!("SELECT following_count FROM users WHERE username = '{name}'")).await,
        );
        (followers, following)
    };
    assert_eq!(counts("susan").await, (1, 0), "susan: 1 follower, 0 following");
    assert_eq!(counts("john").await, (0, 1), "john: 0 followers, 1 following");
}

const FOLLOWERS_PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String) {
  user(username: "star") {
    followers(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor followedAt node { username } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"#;

#[tokio::test]
async fn followers_page_forwards_and_backwards_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    let (_, star_id) = app.sign_up("star").await;
    let mut expected = Vec::new();
    for i in 0..25 {
        let name = format!("fan{i:02}");
        let (token, _) = app.sign_up(&name).await;
        app.follow(&token, &star_id).await;
        expected.push(name);
    }
    expected.reverse(); // most recent follow first

    // Forwards, 10 at a time.
    let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let data = app.ok(None, FOLLOWERS_PAGE, json!({ "first": 10, "after": after })).await;
        let conn = &data["user"]["followers"];
        assert_eq!(conn["totalCount"], 25);
        seen.extend(strings(&conn["edges"], "/node/username"));
        pages += 1;
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 1);
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 25);

    // Backwards from the end, 10 at a time.
    let (mut back, mut before) = (Vec::new(), Value::Null);
    loop {
        let data = app.ok(None, FOLLOWERS_PAGE, json!({ "last": 10, "before": before })).await;
        let conn = &data["user"]["followers"];
        let mut names = strings(&conn["edges"], "/node/username");
        names.append(&mut back);
        back = names;
        if conn["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(back, expected);

    // followedAt is newest first, and cursors are per edge.
    let data = app.ok(None, FOLLOWERS_PAGE, json!({ "first": 25 })).await;
    let times = strings(&data["user"]["followers"]["edges"], "/followedAt");
    let parsed: Vec<DateTime<FixedOffset>> =
        times.iter().map(|t| DateTime::parse_from_rfc3339(t).expect("an RFC 3339 timestamp")).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn connection_arguments_are_checked() {
    let app = spawn_app().await;
    app.sign_up("star").await;
    for vars in [
        json!({ "first": 1, "last": 1 }),
        json!({ "first": -1 }),
        json!({ "last": -5 }),
        json!({ "first": 101 }),
        json!({ "after": "garbage" }),
        json!({ "before": "Zm9vOmJhcg" }),
    ] {
        assert_eq!(app.error_code(None, FOLLOWERS_PAGE, vars.clone()).await, "BAD_USER_INPUT", "{vars}");
    }
    let data = app.ok(None, FOLLOWERS_PAGE, json!({ "first": 100 })).await;
    assert_eq!(data["user"]["followers"]["edges"], json!([]));
    let data = app.ok(None, FOLLOWERS_PAGE, json!({ "first": 0 })).await;
    assert_eq!(data["user"]["followers"]["pageInfo"]["startCursor"], Value::Null);
}
