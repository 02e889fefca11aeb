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

/// The hex SHA-256 of a document, as Apollo's persisted queries name it.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A poll as an app makes it: a persisted query over GET with the last
/// ETag. Unchanged: 304 and no body. A new post: 200 with it.
#[tokio::test]
async fn a_poll_over_get_is_a_persisted_query_with_an_etag() {
    let app = spawn_app().await;
    let (me, _) = app.sign_up("poller").await;
    let (bob, bob_id) = app.sign_up("bob_poll").await;
    app.follow(&me, &bob_id).await;
    app.post(&bob, "first").await;
    const FEED: &str = "query Feed { feed(first: 5) { edges { node { body } } } }";
    let hash = sha256_hex(FEED);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let url = format!("{}/graphql", app.url);
    let get = |params: Vec<(&'static str, String)>, etag: Option<String>| {
        let mut req = app.client.get(&url).query(&params).bearer_auth(&me);
        if let Some(etag) = etag {
            req = req.header("if-none-match", etag);
        }
        req.send()
    };

    // The hash alone, unknown yet: PERSISTED_QUERY_NOT_FOUND, nothing run.
    let res = get(vec![("extensions", ext.clone())], None).await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    // The hash with its text registers it (a wrong hash is refused).
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("{ __typename }") } }).to_string();
    let res = get(vec![("query", FEED.into()), ("extensions", wrong)], None).await.unwrap();
    assert_eq!(res.status(), 400, "the transport's BAD_REQUEST");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
    let res = get(vec![("query", FEED.into()), ("extensions", ext.clone())], None).await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["cache-control"], "private, no-cache");
    assert!(headers["vary"].to_str().unwrap().contains("Authorization"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "a strong ETag: {etag}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(strings(&body["data"]["feed"]["edges"], "/node/body"), ["first"]);

    // The poll: the hash alone and the ETag. Nothing new: 304, no body.
    for _ in 0..2 {
        let res = get(vec![("extensions", ext.clone())], Some(etag.clone())).await.unwrap();
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert!(res.bytes().await.unwrap().is_empty());
    }
    // A weak form of the same tag, a list holding it, or `*` match too.
    for tag in [format!("\"x\", W/{etag}"), "*".into()] {
        let res = get(vec![("extensions", ext.clone())], Some(tag)).await.unwrap();
        assert_eq!(res.status(), 304);
    }
    // The other media type is another representation: another tag.
    let res = app
        .client
        .get(&url)
        .query(&[("extensions", ext.clone())])
        .bearer_auth(&me)
        .header("accept", "application/graphql-response+json")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["etag"], etag.as_str());

    app.post(&bob, "second").await;
    let res = get(vec![("extensions", ext.clone())], Some(etag.clone())).await.unwrap();
    assert_eq!(res.status(), 200);
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(strings(&body["data"]["feed"]["edges"], "/node/body"), ["second", "first"]);

    // Over POST, the hash alone works too, with the same ETag (no 304:
    // RFC 9110 gives that to GET and HEAD only); a mutation's hash over GET
    // is 405.
    let (status, headers, body) = app
        .post_raw(Some(&me), &json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(strings(&body["data"]["feed"]["edges"], "/node/body"), ["second", "first"]);
    assert_eq!(headers["etag"], new_etag.as_str());
    assert_eq!(headers["cache-control"], "private, no-cache");
    // A signed-in viewer's answer over POST is private, with or without a
    // hash; without one it has no ETag.
    let (_, headers, _) = app.post_raw(Some(&me), &json!({ "query": FEED })).await;
    assert_eq!(headers["cache-control"], "private, no-cache");
    assert!(headers.get("etag").is_none());
    // Mutations are never kept (their text may hold a password: a hash
    // lookup would be a guessing oracle); their text is sent each time.
    let sign_out = "mutation Out { signOut }";
    let out_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(sign_out) } });
    let (status, _, body) = app.post_raw(None, &json!({ "query": sign_out, "extensions": out_ext })).await;
    assert_eq!(status, 200, "{body}");
    let (_, _, body) = app.post_raw(None, &json!({ "extensions": out_ext })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
    let res = get(vec![("query", sign_out.into()), ("extensions", out_ext.to_string())], None).await.unwrap();
    assert_eq!(res.status(), 405);
    // A query once run as plain text is not found by its hash alone: only
    // documents registered by the protocol are.
    let plain = "query Plain { __typename }";
    app.ok(None, plain, json!({})).await;
    let plain_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(plain) } });
    let (_, _, body) = app.post_raw(None, &json!({ "extensions": plain_ext })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
    // In a batch, an unknown hash fails alone.
    let (status, _, body) = app
        .post_raw(None, &json!([{ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("{ x }") } } }, { "query": plain }]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body[1]["data"]["__typename"], "Query", "{body}");
    // Bad protocol fields are request errors with a code.
    for bad in [json!({ "version": 2, "sha256Hash": hash }), json!({ "version": 1, "sha256Hash": "zz" }), json!("x")] {
        let (status, _, body) = app.post_raw(None, &json!({ "extensions": { "persistedQuery": bad } })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
        assert_eq!(status, 400, "{body}");
    }
    // Signed out, an answer is not private.
    let res = app.client.get(&url).query(&[("query", "{ __typename }")]).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
}
