//! Input that must be refused or normalised the same way on SQLite and
//! PostgreSQL: NUL bytes, emails that differ only by Unicode case or
//! compatibility form, and other spellings of IDs and cursors.

use base64::Engine;
use serde_json::json;

use crate::helpers::{global_id, spawn_app};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }";

/// NUL in any text input: BAD_USER_INPUT on both databases, nothing stored.
#[tokio::test]
async fn nul_bytes_are_refused_in_every_text_input() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("john").await;
    let nul = "a\u{0}b";
    let sign_up = |field: &str| {
        let mut input = json!({ "username": "newbie", "email": "newbie@example.com", "password": "password-newbie" });
        input[field] = json!(format!("x{nul}yz@example.com"));
        json!({ "i": input })
    };
    for field in ["username", "email", "password", "displayName"] {
        assert_eq!(app.error_code(None, SIGN_UP, sign_up(field)).await, "BAD_USER_INPUT", "{field}");
    }
    let cases = [
        (Some(token.as_str()), "mutation($v: String!) { updateProfile(input: { displayName: $v }) { id } }"),
        (Some(token.as_str()), "mutation($v: String!) { updateProfile(input: { bio: $v }) { id } }"),
        (Some(token.as_str()), "mutation($v: String!) { createPost(input: { body: $v }) { id } }"),
        (None, "query($v: String!) { users(search: $v) { nodes { id } } }"),
        (None, "query($v: String!) { user(username: $v) { id } }"),
        (None, "mutation($v: String!) { signIn(input: { login: $v, password: \"whatever1\" }) { token } }"),
    ];
    for (token, q) in cases {
        assert_eq!(app.error_code(token, q, json!({ "v": nul })).await, "BAD_USER_INPUT", "{q}");
    }
    // Written into the document rather than passed as a variable.
    let inline = "mutation { createPost(input: { body: \"a\\u0000b\" }) { id } }";
    assert_eq!(app.error_code(Some(&token), inline, json!({})).await, "BAD_USER_INPUT");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM posts").await, 0);
    let bio = app.ok(Some(&token), "{ viewer { bio displayName } }", json!({})).await;
    assert_eq!(bio["viewer"], json!({ "bio": "", "displayName": "john" }));
    app.assert_alive().await;
}

/// Emails are one address whatever their Unicode case or compatibility
/// form (NFKC, then lower case), on both databases alike.
#[tokio::test]
async fn emails_differing_only_by_unicode_case_are_one() {
    let app = spawn_app().await;
    let input =
        |name: &str, email: &str| json!({ "i": { "username": name, "email": email, "password": "password-x1" } });
    app.ok(None, SIGN_UP, input("umlaut", "\u{c4}rger@example.com")).await;
    assert_eq!(app.error_code(None, SIGN_UP, input("umlaut2", "\u{e4}rger@example.com")).await, "CONFLICT");
    app.ok(None, SIGN_UP, input("kelvin", "\u{212a}elvin@example.com")).await;
    assert_eq!(app.error_code(None, SIGN_UP, input("kelvin2", "kelvin@example.com")).await, "CONFLICT");
    assert_eq!(app.error_code(None, SIGN_UP, input("kelvin3", "KELVIN@example.com")).await, "CONFLICT");
    // Either spelling signs in, and the email is shown as it was typed.
    let q =
        "mutation($l: String!) { signIn(input: { login: $l, password: \"password-x1\" }) { user { username email } } }";
    let data = app.ok(None, q, json!({ "l": "\u{e4}RGER@example.com" })).await;
    assert_eq!(data["signIn"]["user"], json!({ "username": "umlaut", "email": "\u{c4}rger@example.com" }));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 2);
}

/// IDs and cursors have exactly one spelling.
#[tokio::test]
async fn ids_and_cursors_have_one_spelling() {
    let app = spawn_app().await;
    let (token, id) = app.sign_up("john").await;
    assert_eq!(id, global_id("User", 1));
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let node = "query($id: ID!) { node(id: $id) { id } }";
    assert_eq!(app.ok(None, node, json!({ "id": id })).await["node"]["id"], json!(id));
    for other in [b64("User:+1"), b64("User:01"), b64("User: 1"), format!("{id}="), format!("{id}==")] {
        assert_eq!(app.error_code(None, node, json!({ "id": other })).await, "BAD_USER_INPUT", "{other}");
    }
    app.post(&token, "hello").await;
    let page =
        app.ok(None, "{ user(username: \"john\") { posts(first: 1) { pageInfo { endCursor } } } }", json!({})).await;
    let cursor = page["user"]["posts"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let raw = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
    let parts: Vec<&str> = raw.split(':').collect();
    let q = "query($c: String!) { user(username: \"john\") { posts(after: $c) { nodes { id } } } }";
    app.ok(None, q, json!({ "c": cursor })).await;
    for other in [
        b64(&format!("k:+{}:{}", parts[1], parts[2])),
        b64(&format!("k:{}:0{}", parts[1], parts[2])),
        format!("{cursor}="),
    ] {
        assert_eq!(app.error_code(None, q, json!({ "c": other })).await, "BAD_USER_INPUT", "{other}");
    }
}

/// A document the server has run before skips the engine's validation
/// (it cannot have changed), but its variables' values are checked as a
/// new document's are: each bad value below is the same request error
/// (no data, GRAPHQL_VALIDATION_FAILED) whether its document is new or
/// known.
#[tokio::test]
async fn a_known_document_refuses_bad_variables_as_a_new_one_does() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("alice").await;
    let (_, b) = app.sign_up("bobby").await;
    let by_name = "query($n: String!) { user(username: $n) { id } }";
    let list = "query($f: Int, $o: OrderDirection, $x: FollowFilter) { user(username: \"alice\") { followers(first: $f, order: $o, filter: $x) { edges { cursor } } } }";
    let many = "mutation($us: [ID!]!) { followMany(userIds: $us) { status } }";
    let cases = [
        (by_name, json!({ "n": "a" }), json!({ "n": 5 })),
        (by_name, json!({ "n": "a" }), json!({ "n": null })),
        (list, json!({ "f": 2, "o": "ASC", "x": { "usernamePrefix": "b" } }), json!({ "f": 1.5 })),
        (list, json!({ "f": 2 }), json!({ "f": "2" })),
        (list, json!({ "o": "DESC" }), json!({ "o": "SIDEWAYS" })),
        (list, json!({ "o": "DESC" }), json!({ "o": 3 })),
        (list, json!({ "x": { "mutual": true } }), json!({ "x": { "nope": 1 } })),
        (list, json!({ "x": { "mutual": true } }), json!({ "x": { "mutual": "yes" } })),
        (list, json!({ "x": null }), json!({ "x": { "usernamePrefix": ["b"] } })),
        (many, json!({ "us": [b] }), json!({ "us": [b, null] })),
        (many, json!({ "us": b }), json!({ "us": [true] })),
    ];
    for (i, (query, good, bad)) in cases.into_iter().enumerate() {
        // A new document: the same text with spaces no other case has.
        let new = format!("{query}{}", " ".repeat(i + 1));
        let send = |query: &str, variables: &serde_json::Value| {
            let body = json!({ "query": query, "variables": variables });
            let token = token.clone();
            let app = &app;
            async move { app.post_raw(Some(&token), &body).await.2 }
        };
        let fresh = send(&new, &bad).await;
        let ran = send(query, &good).await;
        assert!(ran.get("errors").is_none(), "{query} with {good}: {ran}");
        let known = send(query, &bad).await;
        for answer in [&fresh, &known] {
            assert!(answer.get("data").is_none(), "{query} with {bad}: a request error: {answer}");
            assert_eq!(
                answer["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                "{query} with {bad}: {answer}"
            );
        }
    }
}
