//! Answers list their fields in the order the query asks for them (spec
//! 7.2.2), whichever resolver finishes first: read through a JSON parser
//! that keeps the order of keys.

use async_graphql::Value as Ordered;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// POSTs a request; its body, parsed with object keys in the order sent.
async fn answer(app: &TestApp, token: &str, query: &str, variables: Value) -> Ordered {
    let body = json!({ "query": query, "variables": variables });
    let res = app.client.post(format!("{}/graphql", app.url)).bearer_auth(token).json(&body).send().await.unwrap();
    let bytes = res.bytes().await.unwrap();
    let answer: Ordered = serde_json::from_slice(&bytes).unwrap();
    let Ordered::Object(top) = &answer else { panic!("{answer}") };
    assert!(!top.contains_key("errors"), "{answer}");
    answer
}

/// The object at `path` (keys, and list indexes as numbers).
fn at<'a>(value: &'a Ordered, path: &[&str]) -> &'a Ordered {
    path.iter().fold(value, |v, step| match v {
        Ordered::Object(o) => o.get(*step).unwrap_or_else(|| panic!("no `{step}` in {v}")),
        Ordered::List(l) => &l[step.parse::<usize>().unwrap()],
        _ => panic!("`{step}` of {v}"),
    })
}

fn keys(value: &Ordered) -> Vec<&str> {
    match value {
        Ordered::Object(o) => o.keys().map(|k| k.as_str()).collect(),
        _ => panic!("not an object: {value}"),
    }
}

#[tokio::test]
async fn answers_keep_the_order_asked_whichever_field_finishes_first() {
    let app = spawn_app().await;
    let (alice, _) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    app.follow(&alice, &bob_id).await;
    let bobs_post = app.post(&bob, "from bob").await;
    app.post(&alice, "from alice").await;

    // `author` waits on a DataLoader and `body` does not: the engine alone
    // answers `body` first. Fields asked twice (at the root, through a
    // fragment, after a skipped copy) stand where they were first asked.
    let feed = answer(
        &app,
        &alice,
        "query($yes: Boolean!, $no: Boolean!) {
            viewer { username }
            feed(first: 5) {
                edges { node { author { username id } body @skip(if: $yes) id body createdAt ...more } cursor }
                pageInfo { hasNextPage }
            }
            viewer { id followingCount }
            __typename
            again: viewer @include(if: $no) { id }
        }
        fragment more on Post { author { followersCount } id }",
        json!({ "yes": true, "no": false }),
    )
    .await;
    let data = at(&feed, &["data"]);
    assert_eq!(keys(data), ["viewer", "feed", "__typename"]);
    assert_eq!(keys(at(data, &["viewer"])), ["username", "id", "followingCount"]);
    assert_eq!(keys(at(data, &["feed"])), ["edges", "pageInfo"]);
    let Ordered::List(edges) = at(data, &["feed", "edges"]) else { panic!("{feed}") };
    assert_eq!(edges.len(), 2);
    for edge in edges {
        assert_eq!(keys(edge), ["node", "cursor"]);
        assert_eq!(keys(at(edge, &["node"])), ["author", "id", "body", "createdAt"]);
        assert_eq!(keys(at(edge, &["node", "author"])), ["username", "id", "followersCount"]);
    }

    // An interface: each value in the order its own type's fragments ask.
    let nodes = answer(
        &app,
        &alice,
        "query($p: ID!, $u: ID!) {
            post: node(id: $p) { ... on User { username id } ... on Post { author { username } body id } }
            user: node(id: $u) { ... on Post { body id } ... on User { followersCount username id } }
            named: node(id: $u) { ... on Post { id __typename } ... on User { __typename id } }
        }",
        json!({ "p": bobs_post, "u": bob_id }),
    )
    .await;
    assert_eq!(keys(at(&nodes, &["data", "post"])), ["author", "body", "id"]);
    assert_eq!(keys(at(&nodes, &["data", "user"])), ["followersCount", "username", "id"]);
    // Its keys fit both types' plans: `__typename` tells which.
    assert_eq!(keys(at(&nodes, &["data", "named"])), ["__typename", "id"]);

    // A mutation's answer too.
    let created = answer(
        &app,
        &bob,
        r#"mutation { createPost(input: { body: "again" }) { author { username postsCount } body id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(keys(at(&created, &["data", "createPost"])), ["author", "body", "id"]);
    assert_eq!(keys(at(&created, &["data", "createPost", "author"])), ["username", "postsCount"]);
}

#[tokio::test]
async fn skip_and_include_read_a_variables_default() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.sign_up("alice").await;
    let query = "query($all: Boolean = true, $none: Boolean = true) {
        viewer @include(if: $all) { username }
        hidden: viewer @skip(if: $none) { id }
    }";
    // Not sent: each takes its default.
    let data = app.ok(Some(&alice), query, json!({})).await;
    assert_eq!(data, json!({ "viewer": { "username": "alice" } }));
    // Sent: the values sent.
    let data = app.ok(Some(&alice), query, json!({ "all": false, "none": false })).await;
    assert_eq!(data, json!({ "hidden": { "id": alice_id } }));
    // Every root field skipped: an empty object, not null.
    let data = app.ok(Some(&alice), query, json!({ "all": false })).await;
    assert_eq!(data, json!({}));
}

/// An object none of whose fields apply is `{}` (spec 6.3: CollectFields
/// gives nothing, the object is still there), and null stays for what a
/// resolver answered null. The engine answered null for both, and broke
/// non-null list items.
#[tokio::test]
async fn an_object_with_every_field_left_out_is_empty_not_null() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.sign_up("alice").await;
    let post = app.post(&alice, "one").await;
    app.post(&alice, "two").await;

    // All skipped, by a literal, a variable, a directive on a fragment.
    let query = "query($s: Boolean!) {
        user(username: \"alice\") { username @skip(if: true) }
        gone: user(username: \"nobody\") { username @skip(if: true) }
        viewer { ...V @skip(if: $s) ... @include(if: false) { id } }
        posts: user(username: \"alice\") { posts(first: 2) { nodes { body @skip(if: $s) } } }
    }
    fragment V on User { username }";
    let data = app.ok(Some(&alice), query, json!({ "s": true })).await;
    assert_eq!(
        data,
        json!({ "user": {}, "gone": null, "viewer": {}, "posts": { "posts": { "nodes": [{}, {}] } } }),
        "nodes are [Post!]!: null items broke the schema"
    );
    // The same document with the fields let through (one cached copy).
    let data = app.ok(Some(&alice), query, json!({ "s": false })).await;
    assert_eq!(data["viewer"], json!({ "username": "alice" }));
    assert_eq!(data["posts"]["posts"]["nodes"], json!([{ "body": "two" }, { "body": "one" }]));

    // Fragments on other types only: a user asked as a post is `{}`; the
    // type of an interface's object is read right whichever matches.
    let query = "query($u: ID!, $p: ID!) {
        asPost: node(id: $u) { ... on Post { body } }
        spread: node(id: $u) { ...P }
        user: node(id: $u) { ... on Post { body } ... on User { username } }
        post: node(id: $p) { ... on User { username } ... on Post { body } }
        named: node(id: $p) { __typename ... on User { username } }
    }
    fragment P on Post { body }";
    let ordered = answer(&app, &alice, query, json!({ "u": alice_id, "p": post })).await;
    let data: Value = serde_json::to_value(&ordered).unwrap();
    assert_eq!(
        data["data"],
        json!({
            "asPost": {}, "spread": {}, "user": { "username": "alice" },
            "post": { "body": "one" }, "named": { "__typename": "Post" },
        })
    );
    assert_eq!(keys(at(&ordered, &["data"])), ["asPost", "spread", "user", "post", "named"]);
    assert!(!ordered.to_string().contains(order_filler()), "the filler leaked: {ordered}");
}

/// The response key the server adds to fill an empty selection set.
fn order_filler() -> &'static str {
    "__fgType"
}

/// The engine left an errored field's key out and nulled no parent; the
/// spec (6.4.4) puts null at the field, or at its nearest nullable parent
/// when the field cannot be null, or makes `data` null.
#[tokio::test]
async fn an_errored_field_is_null_in_place_or_nulls_its_nearest_nullable_parent() {
    let app = spawn_app().await;
    let (alice, _) = app.sign_up("alice").await;
    let (bob, bob_id) = app.sign_up("bob").await;
    app.follow(&alice, &bob_id).await;
    app.post(&bob, "from bob").await;

    // Nullable: null where it was asked, the rest answered.
    let body = app
        .gql(
            Some(&alice),
            r#"{ a: node(id: "!!bad") { id } viewer { username } b: user(username: "bob") { username } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"], json!({ "a": null, "viewer": { "username": "alice" }, "b": { "username": "bob" } }));
    assert_eq!(body["errors"][0]["path"], json!(["a"]));
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // Its only field failed: the engine had `data` null, the spec `{ a: null }`.
    let body = app.gql(Some(&alice), r#"{ a: node(id: "!!bad") { id } }"#, json!({})).await;
    assert_eq!(body["data"], json!({ "a": null }), "{body}");

    // `following` is `UserConnection!`: its parent `viewer` (nullable) is null.
    let body = app
        .gql(
            Some(&alice),
            "{ viewer { username following(first: 1000) { totalCount } } b: user(username: \"bob\") { username } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], json!({ "viewer": null, "b": { "username": "bob" } }), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["viewer", "following"]));

    // Through lists of non-null items up to a non-null root field: `data` is null.
    let body = app
        .gql(
            Some(&alice),
            r#"{ feed(first: 1) { edges { node { author { posts(first: 1, after: "zz") { edges { cursor } } } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["feed", "edges", 0, "node", "author", "posts"]));

    // Signed out, `feed` (non-null) fails: no partial data.
    let body = app
        .gql(None, "{ b: user(username: \"bob\") { username } feed(first: 1) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_required_variable_not_sent_is_a_request_error() {
    let app = spawn_app().await;
    let (status, _, body) =
        app.post_raw(None, &json!({ "query": "query($u: String!) { user(username: $u) { id } }" })).await;
    assert_eq!(status, 200);
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("$u"), "{body}");
    // Each one missing is told of, not only the first.
    let query = "query($u: String!, $n: Int, $v: String!) { user(username: $u) { id } b: user(username: $v) { id } }";
    let (_, _, body) = app.post_raw(None, &json!({ "query": query, "variables": { "n": 1 } })).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body}");
    assert!(errors[0]["message"].as_str().unwrap().contains("$u"), "{body}");
    assert!(errors[1]["message"].as_str().unwrap().contains("$v"), "{body}");
    // A nullable one may be left out.
    let data = app.ok(None, "query($n: Int) { users(first: $n) { edges { cursor } } }", json!({})).await;
    assert!(data["users"]["edges"].is_array(), "{data}");
}

/// A variable is used only where its type fits (spec 5.8.5): async-graphql
/// 7 has the rule but never runs it, so a nullable variable where a value
/// is required passed validation and failed in the resolver when null.
#[tokio::test]
async fn a_variable_is_used_only_where_its_type_fits() {
    let app = spawn_app().await;
    let (alice, _) = app.sign_up("alice").await;
    for (query, variables) in [
        // A nullable variable where a value is required, sent or not.
        ("query($u: String) { user(username: $u) { id } }", json!({ "u": "alice" })),
        ("query($u: String) { user(username: $u) { id } }", json!({})),
        // Inside a list, an input object, a fragment, a directive.
        ("mutation($id: ID) { followMany(userIds: [$id]) { status } }", json!({ "id": "x" })),
        ("mutation($b: String) { createPost(input: { body: $b }) { id } }", json!({ "b": "hi" })),
        ("query($n: Int!) { ...F } fragment F on Query { user(username: $n) { id } }", json!({ "n": 1 })),
        ("query($s: Boolean) { viewer @skip(if: $s) { id } }", json!({ "s": false })),
        // A single value where a list is required.
        ("mutation($id: ID!) { followMany(userIds: $id) { status } }", json!({ "id": "x" })),
    ] {
        let body = json!({ "query": query, "variables": variables });
        let (status, _, body) = app.post_raw(Some(&alice), &body).await;
        assert_eq!(status, 200, "{query}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{query}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("is used where"), "{query}: {body}");
    }
    // Nothing ran: the post was not written.
    assert_eq!(posts_of(&app, &alice).await, 0);
    // Where it fits: a default stands in for a value, a non-null variable
    // fits a nullable place.
    let data =
        app.ok(Some(&alice), "query($u: String = \"alice\") { user(username: $u) { username } }", json!({})).await;
    assert_eq!(data["user"]["username"], "alice");
    let data =
        app.ok(Some(&alice), "query($n: Int!) { users(first: $n) { edges { cursor } } }", json!({ "n": 1 })).await;
    assert!(data["users"]["edges"].is_array(), "{data}");
}

/// Mutation fields run one after another, and none runs after one whose
/// failure nulls `data` (spec 6.3.2 and 6.4.4, as graphql-js does): the
/// engine ran them all, so a client told `data: null` had writes it could
/// not see.
#[tokio::test]
async fn a_mutation_stops_at_the_first_field_whose_failure_nulls_data() {
    let app = spawn_app().await;
    let (alice, _) = app.sign_up("alice").await;
    let (_, bob_id) = app.sign_up("bob").await;

    // The root field fails itself (`follow` is `FollowPayload!`): the post after it is not written.
    let body = app
        .gql(
            Some(&alice),
            r#"mutation { a: follow(userId: "!!bad") { status } b: createPost(input: { body: "not written" }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "only the failure is told of: {body}");
    assert_eq!(body["errors"][0]["path"], json!(["a"]));
    assert_eq!(posts_of(&app, &alice).await, 0);

    // A field below it fails and nulls every parent up to `data`: the
    // first post is written (its resolver ran), the second is not.
    let body = app
        .gql(
            Some(&alice),
            r#"mutation {
                a: createPost(input: { body: "written" }) { id author { posts(first: 1000) { edges { cursor } } } }
                b: createPost(input: { body: "not written" }) { id }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["a", "author", "posts"]), "{body}");
    assert_eq!(posts_of(&app, &alice).await, 1);

    // A key asked twice would run twice (the engine's way, not the spec's):
    // refused, nothing written.
    for query in [
        r#"mutation { createPost(input: { body: "x" }) { id } createPost(input: { body: "x" }) { body } }"#,
        r#"mutation { ...W ...W } fragment W on Mutation { p: createPost(input: { body: "x" }) { id } }"#,
        r#"mutation { p: createPost(input: { body: "x" }) { id } ... on Mutation { p: createPost(input: { body: "x" }) { id } } }"#,
    ] {
        let (_, _, body) = app.post_raw(Some(&alice), &json!({ "query": query })).await;
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{query}: {body}");
    }
    assert_eq!(posts_of(&app, &alice).await, 1);

    // Fields that succeed do not stop the rest: all run, in order.
    let data = app
        .ok(
            Some(&alice),
            "mutation($bob: ID!) {
                a: follow(userId: $bob) { relationship { following } }
                b: createPost(input: { body: \"second\" }) { author { postsCount } }
                c: unfollow(userId: $bob) { relationship { following } }
            }",
            json!({ "bob": bob_id }),
        )
        .await;
    assert_eq!(data["a"]["relationship"]["following"], true);
    assert_eq!(data["b"]["author"]["postsCount"], 2);
    assert_eq!(data["c"]["relationship"]["following"], false);
}

async fn posts_of(app: &TestApp, token: &str) -> Value {
    app.ok(Some(token), "{ viewer { postsCount } }", json!({})).await["viewer"]["postsCount"].clone()
}
