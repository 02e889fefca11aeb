//! The session cache (PostgreSQL): a signed-in request skips its lookup,
//! and a revocation reaches every server instance at once. Two server
//! processes on one database: this test's own, and the binary.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{on_postgres, spawn_app_with, TestApp};

/// The release or debug binary serving the test's database on a port of
/// its own, with the session cache on; killed when dropped.
struct OtherInstance {
    child: Child,
    url: String,
}

impl Drop for OtherInstance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn other_instance(app: &TestApp) -> OtherInstance {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_followgraph"))
        .args(["serve", "--session-cache-secs", "30"])
        .env("DATABASE_URL", app.database_url().unwrap())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the binary");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    // Ready: it answers, and its listener is up (a cached session shows it).
    while app.client.get(format!("{url}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(20), "the other instance did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    OtherInstance { child, url }
}

/// The statements an instance has run (its /metrics).
async fn statements(app: &TestApp, base: &str) -> f64 {
    let text = app.client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with("db_statements_total ")).unwrap_or("db_statements_total 0");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Asks until the token is refused: the notice travels from the database
/// to the other process while this request does. Fails past 500 ms (it
/// takes well under a millisecond on one host; the bound is for a loaded
/// CI machine). Returns how long it took.
async fn refused_within(app: &TestApp, base: &str, token: &str) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = ask(app, base, token).await;
        if status == 401 {
            return started.elapsed();
        }
        assert_eq!(status, 200, "{body}");
        assert!(started.elapsed() < Duration::from_millis(500), "a revoked session still served: {body}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn ask(app: &TestApp, base: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ viewer { username followingCount } }" }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_cached_session_is_revoked_on_every_instance_at_once() {
    if !on_postgres() {
        return; // SQLite: no cache (one statement, in-process).
    }
    let app = spawn_app_with(|c| c.session_cache_secs = 30).await;
    let (token, _) = app.sign_up("cached").await;
    let (other, _) = app.sign_up("doomed").await;
    let (_, star) = app.sign_up("star_cached").await;
    let b = other_instance(&app).await;

    // Here: once the listener is up, a signed-in request runs no lookup.
    until_cached(&app, &token).await;
    // `viewer` is read fresh, not from the cached row.
    app.follow(&token, &star).await;
    let data = app.ok(Some(&token), "{ viewer { followingCount } }", json!({})).await;
    assert_eq!(data["viewer"]["followingCount"], 1);

    // There: cached too (once its listener is up, a request runs no
    // statement), then signed out here; refused there at once.
    let started = Instant::now();
    loop {
        let (status, body) = ask(&app, &b.url, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["viewer"]["username"], "cached");
        let before = statements(&app, &b.url).await;
        app.client
            .post(format!("{}/graphql", b.url))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        if statements(&app, &b.url).await == before {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the other instance never cached the session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.ok(Some(&token), "mutation { signOut }", json!({})).await;
    let took = refused_within(&app, &b.url, &token).await;
    eprintln!("revoked on the other instance {took:?} after signOut returned");
    let (status, _) = ask(&app, &app.url, &token).await;
    assert_eq!(status, 401, "and here");

    // An account deleted there: its sessions refused here at once.
    let (status, _) = ask(&app, &app.url, &other).await;
    assert_eq!(status, 200);
    let res = app
        .client
        .post(format!("{}/graphql", b.url))
        .bearer_auth(&other)
        .json(&json!({ "query": "mutation { deleteAccount(input: { password: \"password-doomed\" }) }" }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["deleteAccount"], true, "{body}");
    refused_within(&app, &app.url, &other).await;
}

/// Asks with `token` until a request runs no statement: its session is
/// cached (the listener's own pings aside).
async fn until_cached(app: &TestApp, token: &str) {
    let started = Instant::now();
    loop {
        app.ok(Some(token), "{ __typename }", json!({})).await;
        let before = app.statements();
        app.ok(Some(token), "{ __typename }", json!({})).await;
        let ran: Vec<String> = app.statements_since(before).into_iter().filter(|s| !s.contains("pg_notify")).collect();
        if ran.is_empty() {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cached: {ran:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A cached session keeps the user's id and following count, not their
/// row: what needs more reads it. deleteAccount checks the password
/// against the hash as it is now, and `viewer` and `suggestedUsers` answer
/// from fresh rows.
#[tokio::test]
async fn a_cached_session_reads_the_row_where_it_needs_it() {
    if !on_postgres() {
        return; // SQLite: no cache.
    }
    let app = spawn_app_with(|c| c.session_cache_secs = 30).await;
    let (token, _) = app.sign_up("slim").await;
    let (_, star) = app.sign_up("slim_star").await;
    until_cached(&app, &token).await;

    app.follow(&token, &star).await;
    let before = app.statements();
    let data = app.ok(Some(&token), "{ viewer { username followingCount } }", json!({})).await;
    assert_eq!(
        (data["viewer"]["username"].clone(), data["viewer"]["followingCount"].clone()),
        (json!("slim"), json!(1))
    );
    let ran = app.statements_since(before);
    assert!(!ran.iter().any(|s| s.contains("sessions")), "a cached session looked up again: {ran:?}");
    assert!(ran.iter().any(|s| s.contains("users")), "`viewer` answered without reading the row: {ran:?}");
    app.ok(Some(&token), "{ suggestedUsers { username } }", json!({})).await;

    let q = "mutation($p: String!) { deleteAccount(input: { password: $p }) }";
    assert_eq!(app.error_code(Some(&token), q, json!({ "p": "wrong-password" })).await, "UNAUTHENTICATED");
    assert_eq!(app.ok(Some(&token), q, json!({ "p": "password-slim" })).await["deleteAccount"], true);
    let (status, _) = ask(&app, &app.url, &token).await;
    assert_eq!(status, 401, "the deleted account's session still served");
}
