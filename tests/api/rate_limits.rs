//! The sign-in guard: failures counted atomically per account (whatever
//! spelling of the login), per client address, and sign-ups per address;
//! RATE_LIMITED carries `retryAfter`. All test clients are 127.0.0.1.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

const SIGN_IN: &str = "mutation($l: String!, $p: String!) { signIn(input: { login: $l, password: $p }) { token } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// 40 concurrent wrong guesses at one account: only as many are checked
/// as the limit allows (5); the rest are refused before Argon2 runs.
#[tokio::test]
async fn concurrent_guesses_cannot_overrun_the_limit() {
    let app = spawn_app().await;
    app.sign_up("mary").await;
    let guesses = (0..40).map(|i| app.gql(None, SIGN_IN, json!({ "l": "mary", "p": format!("guess-{i}-xx") })));
    let answers = join_all(guesses).await;
    let checked = answers.iter().filter(|b| code(b) == "UNAUTHENTICATED").count();
    let limited: Vec<&Value> = answers.iter().filter(|b| code(b) == "RATE_LIMITED").collect();
    assert_eq!(checked, 5, "exactly the limit was verified");
    assert_eq!(limited.len(), 35);
    for body in limited {
        let retry = body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap_or(0);
        assert!((1..=900).contains(&retry), "retryAfter in seconds: {body}");
    }
    app.assert_alive().await;
}

/// The username and the email of one account share one count.
#[tokio::test]
async fn username_and_email_share_one_count() {
    let app = spawn_app().await;
    app.sign_up("mary").await;
    for login in ["mary", "MARY", "mary@example.com", "Mary@Example.com", "mary"] {
        let body = app.gql(None, SIGN_IN, json!({ "l": login, "p": "wrong-password" })).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{login}: {body}");
    }
    let body = app.gql(None, SIGN_IN, json!({ "l": "mary@example.com", "p": "password-mary" })).await;
    assert_eq!(code(&body), "RATE_LIMITED", "the email is as locked as the username: {body}");
    app.assert_alive().await;
}

/// One address spraying many logins is limited after 20 failures, whoever
/// it tries (here: logins that exist and logins that do not alike).
#[tokio::test]
async fn one_address_spraying_many_logins_is_limited() {
    let app = spawn_app().await;
    app.sign_up("real_user").await;
    let mut codes = Vec::new();
    for i in 0..25 {
        let login = if i == 3 { "real_user".to_owned() } else { format!("nobody{i}") };
        let body = app.gql(None, SIGN_IN, json!({ "l": login, "p": "not-the-password" })).await;
        codes.push(code(&body).to_owned());
    }
    assert!(codes[..20].iter().all(|c| c == "UNAUTHENTICATED"), "{codes:?}");
    assert!(codes[20..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    app.assert_alive().await;
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = spawn_app_with(|c| c.address_max_sign_ups = 3).await;
    for name in ["one", "two", "three"] {
        app.sign_up(name).await;
    }
    let q = "mutation { signUp(input: { username: \"four\", email: \"four@example.com\", password: \"password-4\" }) { token } }";
    let body = app.gql(None, q, json!({})).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    assert!(body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() > 3000, "about an hour: {body}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 3);
    app.assert_alive().await;
}

/// 50 concurrent sign-ins of 50 accounts: every one is answered, hashing
/// runs at most one per core at a time, and the right passwords work.
#[tokio::test]
async fn a_burst_of_sign_ins_is_answered_within_bounds() {
    let app = spawn_app().await;
    let mut names = Vec::new();
    for i in 0..50 {
        let name = format!("user{i:02}");
        app.sign_up(&name).await;
        names.push(name);
    }
    let burst = names.iter().map(|n| app.gql(None, SIGN_IN, json!({ "l": n, "p": format!("password-{n}") })));
    let answers = join_all(burst).await;
    for body in &answers {
        let ok = body["data"]["signIn"]["token"].is_string();
        assert!(ok || code(body) == "RATE_LIMITED", "{body}");
    }
    assert!(answers.iter().filter(|b| b["data"]["signIn"]["token"].is_string()).count() > 0);
    app.assert_alive().await;
}

/// The trade-off: a locked (account, address) pair refuses even the right
/// password, but only from that address: a guesser locks out himself, not
/// the owner signing in from elsewhere (here 127.0.0.2, still loopback).
#[tokio::test]
async fn a_guesser_locks_out_only_his_own_address() {
    let app = spawn_app().await;
    app.sign_up("mary").await;
    for _ in 0..5 {
        let body = app.gql(None, SIGN_IN, json!({ "l": "mary", "p": "wrong-password" })).await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    let right = json!({ "l": "mary", "p": "password-mary" });
    assert_eq!(code(&app.gql(None, SIGN_IN, right.clone()).await), "RATE_LIMITED");
    let elsewhere =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let res = elsewhere
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": SIGN_IN, "variables": right }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["data"]["signIn"]["token"].is_string(), "the owner, from another address: {body}");
}
