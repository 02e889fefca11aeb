//! Requests shaped to make the server do unbounded work, each refused (or
//! cut off) before it costs much; afterwards the server still answers a
//! trivial query within a second (`assert_alive`). docs/SECURITY.md lists
//! the limits these prove.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

/// Fragments that spread the next one twice, `levels` deep: 2^levels
/// fields once expanded, in a few hundred bytes.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { viewer { ...F0 } }");
    for i in 0..levels {
        query.push_str(&format!(" fragment F{i} on User {{ ...F{n} ...F{n} }}", n = i + 1));
    }
    query.push_str(&format!(" fragment F{levels} on User {{ username }}"));
    query
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}

#[tokio::test]
async fn fragments_spreading_each_other_are_refused_at_once() {
    let app = spawn_app().await;
    let query = fragment_bomb(24);
    assert!(query.len() < 1200, "a few hundred bytes: {}", query.len());
    let started = Instant::now();
    let (status, _, body) = app.post_raw(None, &json!({ "query": query })).await;
    assert_eq!((status, code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("complexity"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(500), "refused in {:?}", started.elapsed());
    // Unused, the same fragments are refused too: the engine would still walk them.
    let unused = fragment_bomb(24).replace("query { viewer { ...F0 } }", "query { viewer { id } }");
    let (_, _, body) = app.post_raw(None, &json!({ "query": unused })).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    app.assert_alive().await;
}

/// Ten nested `followers(first: 100)`: over 10^20 fields, past what 64
/// bits hold, which wrapped the engine's sum round to a small number. Depth
/// is allowed here so that the complexity is what refuses it.
#[tokio::test]
async fn complexity_saturates_instead_of_wrapping() {
    let app = spawn_app_with(|c| c.max_query_depth = 100).await;
    app.sign_up("star").await;
    let mut inner = String::from("id");
    for _ in 0..10 {
        inner = format!("followers(first: 100) {{ nodes {{ {inner} }} }}");
    }
    let query = format!("{{ user(username: \"star\") {{ {inner} }} }}");
    let (status, _, body) = app.post_raw(None, &json!({ "query": query })).await;
    assert_eq!((status, code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(&usize::MAX.to_string()), "saturated at usize::MAX: {message}");
    app.assert_alive().await;
}

#[tokio::test]
async fn batches_are_capped_in_size_and_share_one_budget() {
    let app = spawn_app().await;
    let one = json!({ "query": "{ __typename }" });
    let (status, _, body) = app.post_raw(None, &Value::Array(vec![one.clone(); 11])).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");
    let (status, _, body) = app.post_raw(None, &Value::Array(vec![one; 10])).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(10)), "ten are allowed");

    // Each under the limit alone (100 × (1 + 49 × 2 + 1) + 1 = 10,001), over it together.
    let big = json!({ "query": "{ users(first: 100) { nodes { followers(first: 49) { nodes { id } } } } }" });
    let (status, _, body) = app.post_raw(None, &big).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    let (status, _, body) = app.post_raw(None, &json!([big, big])).await;
    assert_eq!((status, code(&body)), (400, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    app.assert_alive().await;
}

#[tokio::test]
async fn one_sign_in_or_sign_up_per_request() {
    let app = spawn_app().await;
    app.sign_up("mary").await;
    let sign_in =
        |alias: &str| format!(r#"{alias}: signIn(input: {{ login: "mary", password: "password-mary" }}) {{ token }}"#);
    let two = format!("mutation {{ {} {} }}", sign_in("a"), sign_in("b"));
    let (status, _, body) = app.post_raw(None, &json!({ "query": two })).await;
    assert_eq!((status, code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    let one = json!({ "query": format!("mutation {{ {} }}", sign_in("a")) });
    let (status, _, body) = app.post_raw(None, &json!([one, one])).await;
    assert_eq!((status, code(&body)), (400, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    let (status, _, body) = app.post_raw(None, &one).await;
    assert_eq!(status, 200);
    assert!(body["data"]["a"]["token"].is_string(), "one alone is fine: {body}");
    app.assert_alive().await;
}

#[tokio::test]
async fn root_fields_and_aliases_are_capped() {
    // A body large enough for 9,000 root fields, so that their count is
    // what refuses them.
    let app = spawn_app_with(|c| c.max_body_bytes = 1 << 20).await;
    app.sign_up("john").await;
    let roots: String = (0..9000).map(|i| format!(" u{i}:user(username:\"j\"){{id}}")).collect();
    let before = app.statements();
    let (status, _, body) = app.post_raw(None, &json!({ "query": format!("{{{roots} }}") })).await;
    assert_eq!((status, code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{body}");
    assert_eq!(app.statements(), before, "refused before any statement ran");

    let roots: String = (0..51).map(|i| format!(" u{i}: viewer {{ id }}")).collect();
    let body = app.gql(None, &format!("{{{roots} }}"), json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("root fields"), "{body}");

    let aliases: String = (0..101).map(|i| format!(" a{i}: id")).collect();
    let body = app.gql(None, &format!("{{ users(first: 1) {{ nodes {{{aliases} }} }} }}"), json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("aliased fields"), "{body}");
    app.assert_alive().await;
}

/// A request past its time budget is cancelled: the answer says TIMEOUT,
/// and what it would have written afterwards is not written.
#[tokio::test]
async fn requests_run_within_a_time_budget() {
    let app = spawn_app_with(|c| c.request_timeout_ms = 1).await;
    // Argon2 alone takes longer than a millisecond.
    let q = r#"mutation { signUp(input: { username: "late", email: "late@example.com", password: "password-late" }) { token } }"#;
    let (status, headers, body) = app.post_raw(None, &json!({ "query": q })).await;
    assert_eq!((status, code(&body)), (503, "TIMEOUT"), "{body}");
    assert_eq!(headers["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0, "cancelled before it wrote");
}

#[tokio::test]
async fn a_parse_error_does_not_echo_the_document() {
    let app = spawn_app().await;
    let query = format!("{{ viewer {{ id }} {}", "x ".repeat(100_000));
    let res = app.client.post(format!("{}/graphql", app.url)).json(&json!({ "query": query })).send().await.unwrap();
    let text = res.text().await.unwrap();
    assert!(text.len() < 2_000, "{} bytes back", text.len());
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code(&body), "GRAPHQL_PARSE_FAILED");
    app.assert_alive().await;
}

/// Brackets nested deep in a document's text (lists or input objects in an
/// argument, a variable's default, selection sets, inline fragments) are
/// refused before the parser recurses into them: 5,000 nested lists in a
/// 10 KB request overflowed a worker's stack and aborted the server (found
/// by a probe of the running server). At the limit each still parses and
/// gets its usual answer: the parser's stack holds there (in this debug
/// build, and in release, tried by hand).
#[tokio::test]
async fn brackets_nested_past_the_parser_are_refused_not_a_crash() {
    let app = spawn_app().await;
    let limit = api::budget::MAX_TEXT_NESTING;
    let list = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let object = |n: usize| format!("{}1{}", "{a: ".repeat(n), "}".repeat(n));
    // Each document nests its brackets exactly `n` deep (`{ users(` is
    // two levels, `query(` one).
    let documents: Vec<Box<dyn Fn(usize) -> String>> = vec![
        Box::new(move |n| format!("{{ users(search: {}) {{ nodes {{ id }} }} }}", list(n - 2))),
        Box::new(move |n| format!("{{ users(search: {}) {{ nodes {{ id }} }} }}", object(n - 2))),
        Box::new(move |n| format!("query($v: [String] = {}) {{ __typename }}", list(n - 1))),
        Box::new(|n| format!("{}{}", "{ viewer ".repeat(n), "}".repeat(n))),
        Box::new(|n| format!("{{{} __typename {}}}", " ... on Query {".repeat(n - 1), "}".repeat(n - 1))),
    ];
    for (i, document) in documents.iter().enumerate() {
        for n in [10_000, limit + 1] {
            let (status, _, body) = app.post_raw(None, &json!({ "query": document(n) })).await;
            assert_eq!(status, 200, "document {i} at {n}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{i} at {n}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("nests brackets deeper than"), "document {i} at {n}: {message}");
        }
        // At the limit: parsed, and refused for what it is (a wrong
        // type, selections past the engine's depth), never for its text.
        let (status, _, body) = app.post_raw(None, &json!({ "query": document(limit) })).await;
        assert_eq!(status, 200, "document {i} at the limit: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(!message.contains("nests brackets"), "document {i} at the limit: {message}");
        app.assert_alive().await;
    }
    // Over GET as well.
    let url = format!("{}/graphql", app.url);
    let res = app.client.get(&url).query(&[("query", documents[0](limit + 100))]).send().await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    app.assert_alive().await;
}

/// A chain of fragments, each spreading the next, is refused before any
/// walk of it recurses that deep: 5,000 links (190 KB, under the body
/// limit) overflowed a worker's stack and aborted the server.
#[tokio::test]
async fn a_long_chain_of_fragments_is_refused_not_a_crash() {
    let app = spawn_app().await;
    let mut query = String::from("query($u: String!) { ...F0 }");
    for i in 0..5_000 {
        query.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    query.push_str(" fragment F5000 on Query { user(username: $u) { id } }");
    let (status, _, body) = app.post_raw(None, &json!({ "query": query, "variables": { "u": "x" } })).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nest deeper"), "{body}");
    // Without variables (the measure's walk, not the usages').
    let query = query.replace("query($u: String!)", "query").replace("username: $u", "username: \"x\"");
    let (status, _, body) = app.post_raw(None, &json!({ "query": query })).await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nest deeper"), "{body}");
    app.assert_alive().await;
}
