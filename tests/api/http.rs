//! The transport: GraphiQL, GET, limits, malformed requests, engine errors.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn graphiql_is_served_with_its_assets() {
    let app = spawn_app().await;
    let res = app.client.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200, "/ leads to GraphiQL");
    let html = res.text().await.unwrap();
    assert!(html.contains("GraphiQL"), "{html}");
    for asset in ["graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"] {
        assert!(html.contains(asset));
        let res = app.client.get(format!("{}/graphiql/{asset}", app.url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 1000);
    }
    for probe in ["/health", "/livez", "/readyz"] {
        let res = app.client.get(format!("{}{probe}", app.url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{probe}");
        assert_eq!(res.text().await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations_without_running_them() {
    let app = spawn_app().await;
    app.sign_up("john").await;
    let res = app
        .client
        .get(format!("{}/graphql", app.url))
        .query(&[("query", "query($n: String!) { user(username: $n) { username } }"), ("variables", r#"{"n":"john"}"#)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["user"]["username"], "john");

    let mutation = r#"mutation { signUp(input: { username: "viaget", email: "g@example.com", password: "password1" }) { token } }"#;
    for (query, op) in [(mutation, None), ("query A { viewer { id } } mutation B { signOut }", Some("B"))] {
        let mut params = vec![("query", query)];
        if let Some(op) = op {
            params.push(("operationName", op));
        }
        let res = app.client.get(format!("{}/graphql", app.url)).query(&params).send().await.unwrap();
        assert_eq!(res.status(), 405);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users WHERE username = 'viaget'").await, 0);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let app = spawn_app().await;
    let post = |body: Vec<u8>| {
        app.client.post(format!("{}/graphql", app.url)).header("content-type", "application/json").body(body).send()
    };
    // Each refusal says what is wrong, not which Rust type did not match.
    for (bad, says) in [
        (&b"{not json"[..], "key must be a string at line 1 column 2"),
        (b"", "EOF while parsing"),
        (b"[1,2]", "request 0 of the batch must be an object with a `query` string"),
        (
            b"{\"query\": \"{ a }\", \"variables\": {\"s\": \"\\ud800x\"}}",
            "not a whole character: half of a UTF-16 surrogate pair",
        ),
        (b"null", "the body must be an object with a `query` string"),
        (b"{\"query\": 5}", "`query` must be a string"),
        (b"{\"query\": \"{ a }\", \"variables\": \"x\"}", "`variables` must be an object or null"),
        (b"{\"query\": \"{ a }\", \"operationName\": 7}", "`operationName` must be a string or null"),
        (
            b"[{\"query\": \"{ a }\"}, {\"query\": \"{ b }\", \"extensions\": []}]",
            "`extensions` must be an object or null",
        ),
    ] {
        let res = post(bad.to_vec()).await.unwrap();
        assert_eq!(res.status(), 400, "{}", String::from_utf8_lossy(bad));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says) && !message.contains("enum"), "{}: {message}", String::from_utf8_lossy(bad));
    }
    let huge = json!({ "query": format!("{{ viewer {{ id }} }} #{}", "x".repeat(300 * 1024)) });
    let res = post(serde_json::to_vec(&huge).unwrap()).await.unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");
}

/// A cursor or an ID that does not decode is quoted in its error, cut to
/// 64 characters: a 200 KB one is not sent back whole.
#[tokio::test]
async fn bad_cursors_and_ids_are_quoted_short() {
    let app = spawn_app().await;
    let long = "Zm9v".repeat(50_000);
    for (query, vars) in [
        ("query($c: String) { users(after: $c) { nodes { id } } }", json!({ "c": long })),
        ("query($u: ID!) { node(id: $u) { id } }", json!({ "u": long })),
        ("query($u: ID!) { post(id: $u) { id } }", json!({ "u": format!("{long}=") })),
    ] {
        let body = app.gql(None, query, vars).await;
        let message = body["errors"][0]["message"].as_str().unwrap_or_else(|| panic!("an error: {body:.300}"));
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{message:.300}");
        assert!(message.contains("Zm9vZm9v") && message.contains('…') && message.len() < 200, "{message:.300}");
    }
}

#[tokio::test]
async fn engine_errors_carry_codes() {
    let app = spawn_app().await;
    assert_eq!(app.error_code(None, "{ viewer { id ", json!({})).await, "GRAPHQL_PARSE_FAILED");
    assert_eq!(app.error_code(None, "{ nosuchfield }", json!({})).await, "GRAPHQL_VALIDATION_FAILED");
    let wrong_var = "query($n: Int) { users(first: $n) { nodes { id } } }";
    let code = app.error_code(None, wrong_var, json!({ "n": "ten" })).await;
    assert!(code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED", "{code}");
}

#[tokio::test]
async fn batched_requests() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/graphql", app.url))
        .json(&json!([{ "query": "{ viewer { id } }" }, { "query": "{ users { nodes { id } } }" }]))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert!(body[0]["data"]["viewer"].is_null());
}

/// GraphiQL 3.9's own introspection query (its TypeRef nests ofType nine
/// deep) must pass the depth and complexity limits; a deeper query must not.
#[tokio::test]
async fn depth_limit_admits_graphiql_introspection_but_not_deeper() {
    let app = spawn_app().await;
    let data = app.ok(None, INTROSPECTION, json!({})).await;
    assert!(data["__schema"]["types"].as_array().unwrap().len() > 10);

    let mut deep = String::from("{ users { nodes { id } } }");
    for _ in 0..10 {
        deep = deep.replace("nodes { id }", "nodes { id followers { nodes { id } } }");
    }
    assert_eq!(app.error_code(None, &deep, json!({})).await, "GRAPHQL_VALIDATION_FAILED");

    let wide = "{ users(first: 100) { nodes { followers(first: 100) { nodes { following(first: 100) { nodes { id } } } } } } }";
    assert_eq!(app.error_code(None, wide, json!({})).await, "GRAPHQL_VALIDATION_FAILED");
}

const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

/// A failure inside the server (here: a table gone from under it) reaches the
/// client as INTERNAL_SERVER_ERROR with a fixed message: no SQL, no detail.
#[tokio::test]
async fn internal_errors_are_hidden_behind_a_fixed_message() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("john").await;
    let drop = if crate::helpers::on_postgres() { "DROP TABLE posts CASCADE" } else { "DROP TABLE posts" };
    sea_orm::ConnectionTrait::execute_unprepared(&app.db, drop).await.unwrap();
    let body = app.gql(Some(&token), "{ viewer { username posts { nodes { body } } } }", json!({})).await;
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "INTERNAL_SERVER_ERROR", "{body:#}");
    assert_eq!(err["message"], "internal server error");
    let text = body.to_string().to_lowercase();
    for leak in ["sql", "table", "relation", "no such"] {
        assert!(!text.contains(leak), "{leak} leaked: {body:#}");
    }
}

/// GraphQL over HTTP: the answer's media type follows `Accept`; under
/// application/graphql-response+json a request error is 400 without
/// `data`; under application/json it stays 200 (and has no `data` either).
#[tokio::test]
async fn accept_chooses_the_media_type_and_its_status_codes() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.url);
    let send = |accept: Option<&'static str>, body: Value| {
        let mut req = app.client.post(&url).json(&body);
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        req.send()
    };
    const GR: &str = "application/graphql-response+json; charset=utf-8";
    const JSON: &str = "application/json; charset=utf-8";
    let cases = [
        (None, JSON),
        (Some("application/json"), JSON),
        (Some("*/*"), JSON),
        (Some("application/graphql-response+json"), GR),
        (Some("application/graphql-response+json, application/json;q=0.9"), GR),
        (Some("application/json, application/graphql-response+json;q=0.5"), JSON),
        (Some("application/*"), JSON),
    ];
    for (accept, media) in cases {
        let res = send(accept, json!({ "query": "{ __typename }" })).await.unwrap();
        assert_eq!(res.status(), 200, "{accept:?}");
        assert_eq!(res.headers()["content-type"], media, "{accept:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query");
    }
    for accept in ["text/html", "application/xml, text/plain", "application/json;q=0"] {
        let res = send(Some(accept), json!({ "query": "{ __typename }" })).await.unwrap();
        assert_eq!(res.status(), 406, "{accept}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_ACCEPTABLE");
    }
    // Request errors: parse, validation, variable coercion.
    let request_errors = [
        (json!({ "query": "{" }), "GRAPHQL_PARSE_FAILED"),
        (json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"),
        (json!({ "query": "query($n: String!) { user(username: $n) { id } }", "variables": { "n": 5 } }), ""),
    ];
    for (body, code) in request_errors {
        for (accept, status) in [("application/graphql-response+json", 400), ("application/json", 200)] {
            let res = send(Some(accept), body.clone()).await.unwrap();
            assert_eq!(res.status(), status, "{body} as {accept}");
            let answer: Value = res.json().await.unwrap();
            assert!(answer.get("data").is_none(), "a request error has no data entry: {answer}");
            assert!(!answer["errors"].as_array().unwrap().is_empty(), "{answer}");
            if !code.is_empty() {
                assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{answer}");
            }
        }
    }
    // A field error is not a request error: 200 with data, in both types.
    let res = send(
        Some("application/graphql-response+json"),
        json!({ "query": "{ viewer { id } feedNewPostsCount(since: \"x\") }" }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert!(answer.get("data").is_some(), "{answer}");
    assert_eq!(answer["errors"][0]["path"][0], "feedNewPostsCount", "{answer}");
    // No query at all: 400 (over GET too, unless a browser asks: GraphiQL).
    let res = send(None, json!({ "qeury": "{ __typename }" })).await.unwrap();
    assert_eq!(res.status(), 400);
    let res = app.client.get(&url).header("accept", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = app.client.get(&url).header("accept", "text/html,*/*;q=0.8").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("GraphiQL"));
}

/// A POST body must be declared JSON (UTF-8): anything else is 415.
#[tokio::test]
async fn post_bodies_must_be_json() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.url);
    let body = r#"{"query":"{ __typename }"}"#;
    for content_type in
        [None, Some("text/plain"), Some("application/graphql"), Some("application/json; charset=latin1")]
    {
        let mut req = app.client.post(&url).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 415, "{content_type:?}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    for content_type in ["application/json", "Application/JSON; charset=UTF-8", "application/json;charset=\"utf-8\""] {
        let res = app.client.post(&url).header("content-type", content_type).body(body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{content_type}");
    }
}

/// The token is looked up only for a well-formed request: a malformed one
/// gets its own error (400, 405) whatever its token.
#[tokio::test]
async fn a_bad_token_does_not_hide_a_malformed_request() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.url);
    let res = app
        .client
        .post(&url)
        .bearer_auth("not-a-token")
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .client
        .get(&url)
        .bearer_auth("not-a-token")
        .query(&[("query", "mutation { signOut }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = app.client.post(&url).bearer_auth("not-a-token").json(&json!({ "query": "{" })).send().await.unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED");
    // A well-formed request with that token: 401, and no statement beyond the lookup.
    let res = app
        .client
        .post(&url)
        .bearer_auth("not-a-token")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The favicon the GraphiQL page asks for.
    let res = app.client.get(format!("{}/favicon.svg", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
}
