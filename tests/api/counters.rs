//! The stored counters stay exact under concurrency, and `recount` repairs
//! them.

use futures::future::join_all;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { user { id } } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollow(userId: $u) { user { id } } }";

async fn wrong_counters(app: &TestApp) -> i64 {
    store::counters::count_wrong(&app.db).await.unwrap()
}

#[tokio::test]
async fn counters_stay_exact_under_concurrent_storms() {
    let app = spawn_app().await;
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
