//! The stored counters stay exact under concurrency, and `recount` repairs
//! them.

use futures::future::join_all;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp};

const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { user { id } } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollow(userId: $u) { user { id } } }";

async fn wrong_counters(app: &TestApp) -> i64 {
    store::counters::count_wrong(&app.db).await.unwrap()
}

#[tokio::test]
async fn counters_stay_exact_under_concurrent_storms() {
    // 200 writes at once through 8 connections: on SQLite they queue for
    // its one writer, and on a loaded machine the last would wait past the
    // default 1 s for a connection (SERVICE_UNAVAILABLE, seen once in CI).
    // This test is about exactness; shedding load is tested in faults.rs.
    let app = spawn_app_with(|c| {
        c.db_acquire_timeout_ms = 60_000;
        c.request_timeout_ms = 60_000;
    })
    .await;
    let (_, star) = app.sign_up("star").await;
    let mut fans = Vec::new();
    for i in 0..50 {
        fans.push(app.sign_up(&format!("fan{i:02}")).await);
    }

    // 50 different users follow one account at once.
    let all = join_all(fans.iter().map(|(token, _)| app.gql(Some(token), FOLLOW, json!({ "u": star }))));
    for body in all.await {
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    let count =
        app.ok(None, "{ user(username: \"star\") { followersCount followers { totalCount } } }", json!({})).await;
    assert_eq!(count["user"], json!({ "followersCount": 50, "followers": { "totalCount": 50 } }));

    // 20 concurrent duplicates of one follow.
    let (token, _) = &fans[0];
    let (_, target) = &fans[1];
    let dups = join_all((0..20).map(|_| app.gql(Some(token), FOLLOW, json!({ "u": target }))));
    for body in dups.await {
        assert!(body.get("errors").is_none(), "{body:#}");
    }

    // Interleaved follow/unfollow storms over a small set of pairs.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut storm = Vec::new();
    for _ in 0..200 {
        let (token, _) = &fans[rng.gen_range(0..10)];
        let (_, target) = &fans[rng.gen_range(10..15)];
        let q = if rng.gen_bool(0.5) { FOLLOW } else { UNFOLLOW };
        storm.push(app.gql(Some(token), q, json!({ "u": target })));
    }
    for body in join_all(storm).await {
        assert!(body.get("errors").is_none(), "{body:#}");
    }

    assert_eq!(wrong_counters(&app).await, 0, "every counter equals a COUNT of the rows");
    let rows = app.scalar("SELECT COUNT(*) FROM follows").await;
    let sum = app.scalar("SELECT CAST(SUM(followers_count) AS BIGINT) FROM users").await;
    let sum2 = app.scalar("SELECT CAST(SUM(following_count) AS BIGINT) FROM users").await;
    assert_eq!((sum, sum2), (rows, rows));
}

#[tokio::test]
async fn recount_repairs_counters() {
    let app = spawn_app().await;
    let (john, _) = app.sign_up("john").await;
    let (_, susan) = app.sign_up("susan").await;
    app.follow(&john, &susan).await;
    app.post(&john, "one").await;
    assert_eq!(wrong_counters(&app).await, 0);
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        "UPDATE users SET followers_count = 7, posts_count = posts_count + 3",
    )
    .await
    .unwrap();
    assert_eq!(wrong_counters(&app).await, 2);
    assert_eq!(store::counters::recount(&app.db).await.unwrap(), 2);
    assert_eq!(wrong_counters(&app).await, 0);
    let data =
        app.ok(None, "{ user(username: \"john\") { postsCount followingCount followersCount } }", json!({})).await;
    assert_eq!(data["user"], json!({ "postsCount": 1, "followingCount": 1, "followersCount": 0 }));
}

/// Every relationship path at once (follow, unfollow, requests and their
/// answers, policy switches, blocks, removeFollower, bulk follows, account
/// deletion): afterwards every counter equals a COUNT of the rows, and no
/// follow or request outlives a block or its policy.
#[tokio::test]
async fn counters_stay_exact_through_every_relationship_path() {
    // Timelines on, with posts of authors with 3 or more followers queued
    // for the background, copied 2 followers a transaction, and a cap of
    // 5 (the trimmer runs meanwhile).
    let app = spawn_app_with(|c| {
        c.feed_timelines = true;
        c.feed_sync_fanout = 3;
        c.feed_timeline_cap = 5;
        c.feed_delivery_batch = 2;
        // The storm's 400 requests come from one address, each on a
        // connection of its own while in flight: past the per-address
        // limit (256) the server closes a new connection at once, which
        // the client sees as a reset (seen on a slow machine), not the
        // SERVICE_UNAVAILABLE this test retries. That limit is tested in
        // connections.rs; here it is off.
        c.max_connections_per_address = 0;
    })
    .await;
    let mut people = Vec::new();
    let mut posts = Vec::new();
    for i in 0..14 {
        let (token, id) = app.sign_up(&format!("mixed{i:02}")).await;
        posts.push(vec![app.post(&token, "early 1").await, app.post(&token, "early 2").await]);
        people.push((token, id));
    }
    for (token, _) in &people[..4] {
        app.ok(Some(token), "mutation { updateProfile(input: { followPolicy: APPROVAL }) { id } }", json!({})).await;
    }
    let one = |m: &str| format!("mutation($u: ID!) {{ {m}(userId: $u) {{ status }} }}");
    let many = |m: &str| format!("mutation($us: [ID!]!) {{ {m}(userIds: $us) {{ status }} }}");
    let policy = "mutation($p: FollowPolicy!) { updateProfile(input: { followPolicy: $p }) { id } }";
    let delete = "mutation($p: String!) { deleteAccount(input: { password: $p }) }";
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut storm = Vec::new();
    let app_ref = &app;
    for n in 0..400 {
        let who = match n {
            150 => 12,
            300 => 13,
            _ => rng.gen_range(0..people.len()),
        };
        let (token, _) = &people[who];
        let (_, target) = &people[rng.gen_range(0..people.len())];
        let (query, vars) = match (n, rng.gen_range(0..15)) {
            (150 | 300, _) => {
                let name = format!("mixed{who:02}");
                (delete.to_owned(), json!({ "p": format!("password-{name}") }))
            }
            (_, 0..=2) => (one("follow"), json!({ "u": target })),
            (_, 3) => (one("unfollow"), json!({ "u": target })),
            (_, 4) => (one("block"), json!({ "u": target })),
            (_, 5) => (one("unblock"), json!({ "u": target })),
            (_, 6) => (one("removeFollower"), json!({ "u": target })),
            (_, 7) => (one("approveFollowRequest"), json!({ "u": target })),
            (_, 8) => (one("rejectFollowRequest"), json!({ "u": target })),
            (_, 9) => {
                let us: Vec<&String> = (0..3).map(|_| &people[rng.gen_range(0..people.len())].1).collect();
                (many(if rng.gen_bool(0.6) { "followMany" } else { "unfollowMany" }), json!({ "us": us }))
            }
            (_, 10) => {
                let p = ["OPEN", "APPROVAL", "CLOSED"][rng.gen_range(0..3)];
                (policy.to_owned(), json!({ "p": p }))
            }
            (_, 11) => (
                one("updateFollow").replace("(userId: $u)", "(userId: $u, input: { hiddenFromFeed: true })"),
                json!({ "u": target }),
            ),
            (_, 12) => (
                one("updateFollow").replace("(userId: $u)", "(userId: $u, input: { hiddenFromFeed: false })"),
                json!({ "u": target }),
            ),
            (_, 13) => ("mutation { createPost(input: { body: \"storm\" }) { id } }".to_owned(), json!({})),
            _ => {
                let id = &posts[who][rng.gen_range(0..2)];
                ("mutation($id: ID!) { deletePost(id: $id) }".to_owned(), json!({ "id": id }))
            }
        };
        // A burst of 400 on a pool of 8 sheds load with SERVICE_UNAVAILABLE
        // (no connection within the acquire timeout) and Retry-After: the
        // client retries, as a real one would.
        storm.push(async move {
            for _ in 0..20 {
                let body = app_ref.gql(Some(token), &query, vars.clone()).await;
                if body["errors"][0]["extensions"]["code"] != "SERVICE_UNAVAILABLE" {
                    return body;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            panic!("still unavailable after 20 tries: {query}");
        });
    }
    for body in join_all(storm).await {
        if let Some(errors) = body.get("errors") {
            let code = errors[0]["extensions"]["code"].as_str().unwrap_or("none");
            // Refusals the rules call for, and accounts deleted meanwhile.
            let allowed = ["FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "UNAUTHENTICATED"];
            assert!(allowed.contains(&code), "{body:#}");
            assert_ne!(errors[0]["path"][0], "deleteAccount", "{body:#}");
        }
    }

    assert_eq!(wrong_counters(&app).await, 0, "every counter equals a COUNT of the rows");
    let blocked_pair = |t: &str, a: &str, b: &str| {
        format!(
            "SELECT COUNT(*) FROM {t} x WHERE EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = x.{a} AND b.blocked_id = x.{b}) OR (b.blocker_id = x.{b} AND b.blocked_id = x.{a}))"
        )
    };
    assert_eq!(app.scalar(&blocked_pair("follows", "follower_id", "followed_id")).await, 0, "no follow across a block");
    assert_eq!(
        app.scalar(&blocked_pair("follow_requests", "requester_id", "target_id")).await,
        0,
        "no request across a block"
    );
    let both = "SELECT COUNT(*) FROM follow_requests r JOIN follows f ON f.follower_id = r.requester_id AND f.followed_id = r.target_id";
    assert_eq!(app.scalar(both).await, 0, "no request beside a follow");
    let unsettled =
        "SELECT COUNT(*) FROM follow_requests r JOIN users u ON u.id = r.target_id WHERE u.follow_policy <> 'APPROVAL'";
    assert_eq!(app.scalar(unsettled).await, 0, "no request left pending under OPEN or CLOSED");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 12, "two accounts deleted");

    // Every timeline holds exactly the posts above its floor of the
    // accounts its viewer follows and shows, once the queue is delivered.
    let delivered = eventually(100, std::time::Duration::from_millis(50), || async {
        app.scalar("SELECT COUNT(*) FROM timeline_pending").await == 0
    })
    .await;
    assert!(delivered, "the queue was delivered");
    let missing =
        "SELECT COUNT(*) FROM timelines t JOIN follows f ON f.follower_id = t.viewer_id AND NOT f.hidden_from_feed \
        JOIN posts p ON p.user_id = f.followed_id AND p.created_at > t.floor_at \
        WHERE NOT EXISTS (SELECT 1 FROM timeline_entries e WHERE e.viewer_id = t.viewer_id AND e.post_id = p.id)";
    assert_eq!(app.scalar(missing).await, 0, "no post missing from a timeline");
    // Copies of deleted posts, and a copy the background wrote as its
    // follow ended, may stay: the read skips both (store/src/timeline.rs).
    assert!(app.scalar("SELECT COUNT(*) FROM timeline_entries").await > 0, "the timelines hold something");
}

/// A follow PostgreSQL rolls back to break a deadlock is run again, and
/// moves each counter once. The follow locks both rows in id order (the
/// follower's first, made first); the test holds the followed row, then
/// asks for the follower's.
#[tokio::test]
async fn a_follow_rolled_back_by_a_deadlock_moves_counters_once() {
    if !crate::helpers::on_postgres() {
        return; // SQLite writes one at a time: no deadlocks
    }
    let app = spawn_app().await;
    let (fan, _) = app.sign_up("fan").await;
    let (_, star_id) = app.sign_up("star").await;
    let from = app.statements();
    app.in_deadlock(
        "SELECT id FROM users WHERE username = 'star' FOR UPDATE",
        "SELECT id FROM users WHERE username = 'fan' FOR UPDATE",
        app.follow(&fan, &star_id),
    )
    .await;
    let locks = app.statements_since(from).iter().filter(|s| s.contains("FOR NO KEY UPDATE")).count();
    assert_eq!(locks, 2, "the follow rolled back once and run again");
    assert_eq!(app.scalar("SELECT followers_count FROM users WHERE username = 'star'").await, 1);
    assert_eq!(app.scalar("SELECT following_count FROM users WHERE username = 'fan'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM follows").await, 1);
}
