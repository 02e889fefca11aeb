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
    let required = "query($x: FollowFilter!) { viewer { following(filter: $x) { totalCount } } }";
    let defaulted = "query($n: String = \"alice\") { user(username: $n) { id } }";
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
        // Null for a non-null variable where the argument takes null: the
        // engine alone let it through on a new document.
        (required, json!({ "x": {} }), json!({ "x": null })),
        // A nullable variable with a default, where a value is required,
        // sent as null: the default does not stand in.
        (defaulted, json!({ "n": "bobby" }), json!({ "n": null })),
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

/// A known document skips the engine's validation, and
/// `variables::check_values` (run for every document) stands in for the
/// part of it that depends on the request: so whatever the engine refuses,
/// it must refuse too. Compared on random values: for each document below,
/// made known by one good run, every value proptest draws must get the same
/// answer from the known document as from a new one (the same text with a
/// comment added, which the engine validates): the same status, and either
/// a request error with the same codes (the messages are worded apart) or
/// the same data. Values are drawn per variable: a good one (most often, so
/// that one bad value is not hidden behind another), any JSON value (null,
/// booleans, integers of every size, floats, enum names and other strings,
/// lists and objects with the input types' field names, nested), or none.
/// It found two differences: the engine let null through for a non-null
/// variable used where null is allowed, which the known document refused;
/// and refused null for a nullable variable whose default made it fit
/// where a value is required, which the known document let through to
/// the resolver (a field error).
#[tokio::test]
async fn a_known_document_checks_random_variables_as_the_engine_does() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    use serde_json::Value;

    // Room for every new document the run sends: the known ones stay known.
    let app = crate::helpers::spawn_app_with(|c| c.document_cache_bytes = 256 * 1024 * 1024).await;
    let (token, _) = app.sign_up("alice").await;
    let (bobby, b) = app.sign_up("bobby").await;
    app.follow(&bobby, &global_id("User", 1)).await;
    let strings: Vec<Value> = [
        "ASC",
        "DESC",
        "asc",
        "OPEN",
        "SIDEWAYS",
        "alice",
        "bobby",
        "",
        "2030-01-01T00:00:00Z",
        "2026-13-01",
        "12",
        "true",
        "null",
        &b,
        "VXNlcjox",
        "Post:1",
    ]
    .iter()
    .map(|s| json!(s))
    .collect();
    let keys = ["usernamePrefix", "followedAfter", "followedBefore", "mutual", "followedByViewer", "nope", "f"];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(2), Just(-1), Just(i64::from(i32::MAX) + 1), Just(i64::MIN), any::<i64>()]
            .prop_map(Value::from),
        Just(json!(u64::MAX)),
        prop_oneof![Just(1.5f64), Just(2.0), Just(-0.0), Just(1e300)].prop_map(|f| json!(f)),
        proptest::sample::select(strings),
    ];
    let nested = leaf.clone().prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(keys.to_vec()), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    });
    // Mostly a single value: a nested one is mostly lists and objects.
    let value = prop_oneof![2 => leaf, 1 => nested];
    // A document, and good values of each of its variables.
    type Document<'a> = (&'a str, Vec<(&'a str, Vec<Value>)>);
    let documents: Vec<Document> = vec![
        (
            "query($n: String!, $f: Int, $o: OrderDirection, $x: FollowFilter) { user(username: $n) { followers(first: $f, order: $o, filter: $x) { edges { cursor } } } }",
            vec![
                ("n", vec![json!("alice")]),
                ("f", vec![json!(2), Value::Null]),
                ("o", vec![json!("ASC")]),
                ("x", vec![json!({ "mutual": true }), json!({ "followedBefore": "2030-01-01T00:00:00Z", "usernamePrefix": "b" }), Value::Null]),
            ],
        ),
        (
            "query($f: Int = 2, $s: String, $b: Boolean!) { users(first: $f, search: $s) { nodes { id username @include(if: $b) } } }",
            vec![("f", vec![json!(3)]), ("s", vec![json!("bo")]), ("b", vec![json!(true)])],
        ),
        (
            "query($x: FollowFilter!, $l: Int, $id: ID!) { viewer { following(filter: $x, last: $l) { totalCount } } node(id: $id) { id } }",
            vec![("x", vec![json!({}), json!({ "followedByViewer": false })]), ("l", vec![json!(1)]), ("id", vec![json!(b)])],
        ),
        ("query($n: String! = \"alice\") { user(username: $n) { id } }", vec![("n", vec![json!("bobby")])]),
        ("query($id: ID!) { node(id: $id) { id } }", vec![("id", vec![json!(b)])]),
        ("query($n: String = \"alice\") { user(username: $n) { id } }", vec![("n", vec![json!("bobby")])]),
    ];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let send = |query: String, variables: Value| {
        let body = json!({ "query": query, "variables": variables });
        let (app, token) = (&app, token.clone());
        async move {
            let (status, _, answer) = app.post_raw(Some(&token), &body).await;
            // The engine may name one bad value under two of its rules:
            // the codes are compared, not how many errors carry them.
            let mut codes: Vec<String> = answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["extensions"]["code"].to_string())
                .collect();
            codes.sort();
            codes.dedup();
            match answer.get("data") {
                Some(_) => (status, answer.clone(), answer),
                None => (status, json!({ "request error": codes }), answer),
            }
        }
    };
    let mut n = 0;
    let mut refused = 0;
    for (query, vars) in &documents {
        let good: serde_json::Map<String, Value> =
            vars.iter().map(|(name, goods)| (name.to_string(), goods[0].clone())).collect();
        let (status, ran, _) = send(query.to_string(), Value::Object(good)).await;
        assert!(status == 200 && ran.get("errors").is_none(), "{query}: {ran}");
        let one = vars
            .iter()
            .map(|(name, goods)| {
                let name = name.to_string();
                prop_oneof![
                    6 => proptest::sample::select(goods.clone()).prop_map(Some),
                    3 => value.clone().prop_map(Some),
                    1 => Just(None),
                ]
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
            })
            .collect::<Vec<_>>();
        let strategy = (one, proptest::option::of(("[a-z]{1,3}", value.clone())));
        for _ in 0..300 {
            let (picked, extra) = strategy.new_tree(&mut runner).unwrap().current();
            let mut variables: serde_json::Map<String, Value> = picked.into_iter().flatten().collect();
            if let Some((name, v)) = extra {
                variables.insert(name, v);
            }
            let variables = Value::Object(variables);
            n += 1;
            let fresh = send(format!("{query}\n# {n}"), variables.clone()).await;
            let known = send(query.to_string(), variables.clone()).await;
            assert_eq!(
                (known.0, &known.1),
                (fresh.0, &fresh.1),
                "{query} with {variables}: {} against a new document's {}",
                known.2,
                fresh.2
            );
            refused += usize::from(known.1.get("request error").is_some());
        }
    }
    // Both kinds of answer were compared, many times.
    assert!(refused > n / 5 && refused < n * 4 / 5, "{refused} of {n} refused");
}
