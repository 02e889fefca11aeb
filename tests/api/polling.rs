//! The polling contract (contract-polling.graphql): feedNewPostsCount and
//! the feed marker.

use serde_json::json;

use crate::helpers::{spawn_app, strings};

const NEWEST: &str = "{ feed(first: 1) { edges { cursor node { id } } } }";
const COUNT: &str = "query($c: String!) { feedNewPostsCount(since: $c) }";

#[tokio::test]
async fn new_posts_are_counted_exactly_up_to_100() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("reader").await;
    let (bob, bob_id) = app.sign_up("bob_writer").await;
    let (cat, cat_id) = app.sign_up("cat_writer").await;
    app.follow(&me, &bob_id).await;
    app.follow(&me, &cat_id).await;
    app.post(&bob, "seen").await;
    let data = app.ok(Some(&me), NEWEST, json!({})).await;
    let since = data["feed"]["edges"][0]["cursor"].as_str().unwrap().to_owned();
    assert_eq!(app.ok(Some(&me), COUNT, json!({ "c": since })).await["feedNewPostsCount"], 0);

    app.post(&bob, "new 1").await;
    app.post(&cat, "new 2").await;
    app.post(&me, "mine").await;
    assert_eq!(app.ok(Some(&me), COUNT, json!({ "c": since })).await["feedNewPostsCount"], 3);
    // Hidden from the feed: not counted either.
    let hide = "mutation($u: ID!) { updateFollow(userId: $u, input: { hiddenFromFeed: true }) { status } }";
    app.ok(Some(&me), hide, json!({ "u": cat_id })).await;
    assert_eq!(app.ok(Some(&me), COUNT, json!({ "c": since })).await["feedNewPostsCount"], 2);

    for i in 0..105 {
        app.post(&bob, &format!("flood {i}")).await;
    }
    assert_eq!(app.ok(Some(&me), COUNT, json!({ "c": since })).await["feedNewPostsCount"], 100, "capped at 100");

    for bad in ["nope", ""] {
        assert_eq!(app.error_code(Some(&me), COUNT, json!({ "c": bad })).await, "BAD_USER_INPUT");
    }
    assert_eq!(app.error_code(None, COUNT, json!({ "c": since })).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_marker_is_one_per_user_and_outlives_its_post() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("reader").await;
    let (bob, bob_id) = app.sign_up("bob_writer").await;
    app.follow(&me, &bob_id).await;
    let marked = app.post(&bob, "marked").await;
    let get = "{ feedMarker { cursor updatedAt } }";
    assert!(app.ok(Some(&me), get, json!({})).await["feedMarker"].is_null());

    let data = app.ok(Some(&me), NEWEST, json!({})).await;
    let cursor = data["feed"]["edges"][0]["cursor"].as_str().unwrap().to_owned();
    let set = "mutation($c: String!) { setFeedMarker(cursor: $c) { cursor updatedAt } }";
    let saved = app.ok(Some(&me), set, json!({ "c": cursor })).await["setFeedMarker"].clone();
    assert_eq!(saved["cursor"], cursor);
    assert_eq!(app.ok(Some(&me), get, json!({})).await["feedMarker"], saved);

    // The post goes; the marker still reads what came after it.
    app.post(&bob, "after").await;
    app.ok(Some(&bob), "mutation($p: ID!) { deletePost(id: $p) }", json!({ "p": marked })).await;
    let marker = app.ok(Some(&me), get, json!({})).await["feedMarker"]["cursor"].as_str().unwrap().to_owned();
    let since = app
        .ok(Some(&me), "query($c: String) { feed(last: 20, before: $c) { nodes { body } } }", json!({ "c": marker }))
        .await;
    assert_eq!(strings(&since["feed"]["nodes"], "/body"), ["after"]);
    assert_eq!(app.ok(Some(&me), COUNT, json!({ "c": marker })).await["feedNewPostsCount"], 1);

    // The last one saved wins; another user's marker is their own.
    let newer = app.ok(Some(&me), NEWEST, json!({})).await["feed"]["edges"][0]["cursor"].clone();
    app.ok(Some(&me), set, json!({ "c": newer })).await;
    assert_eq!(app.ok(Some(&me), get, json!({})).await["feedMarker"]["cursor"], newer);
    assert!(app.ok(Some(&bob), get, json!({})).await["feedMarker"].is_null());

    assert_eq!(app.error_code(Some(&me), set, json!({ "c": "garbage" })).await, "BAD_USER_INPUT");
    assert_eq!(app.error_code(None, set, json!({ "c": cursor })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(None, get, json!({})).await, "UNAUTHENTICATED");
}
