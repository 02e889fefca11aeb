//! What an operator sees: request ids, request logs (text and JSON, slow
//! requests) and /metrics.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn request_ids_are_kept_or_made_and_returned() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.url);
    let query = json!({ "query": "{ __typename }" });
    let res = app.client.post(&url).header("x-request-id", "trace-abc.123").json(&query).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc.123");
    let res = app.client.post(&url).json(&query).send().await.unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    // Too long, or with spaces: replaced by a fresh one.
    for unfit in ["x".repeat(200), "two words".into()] {
        let res = app.client.post(&url).header("x-request-id", &unfit).json(&query).send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "{unfit:.20} became {id}");
    }
}

#[tokio::test]
async fn metrics_count_operations_statements_and_the_pool() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("metered").await;
    for _ in 0..3 {
        app.ok(Some(&token), "query MeteredProfile { viewer { username } }", json!({})).await;
    }
    app.gql(None, "query Broken { nope }", json!({})).await;
    let res = app.client.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value(r#"graphql_requests_total{operation="MeteredProfile",code="OK"}"#), 3.0);
    assert_eq!(value(r#"graphql_requests_total{operation="Broken",code="GRAPHQL_VALIDATION_FAILED"}"#), 1.0);
    assert!(value(r#"graphql_request_duration_seconds_count{operation="MeteredProfile"}"#) >= 3.0);
    assert!(value(r#"graphql_request_duration_seconds_bucket{operation="MeteredProfile",le="10"}"#) >= 3.0);
    assert!(value("db_statements_total") >= 4.0, "sign-up and three sessions");
    assert!(value(r#"db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(value(r#"db_pool_connections{state="in_use"}"#) >= 0.0);
    assert!(value(r#"http_requests_total{path="/graphql",status="200"}"#) >= 4.0);
    // A long name is not a label; nor is the name of a refused document.
    let long = "L".repeat(5_000);
    app.gql(None, &format!("query {long} {{ __typename }}"), json!({})).await;
    app.gql(None, "query RefusedByBudget { a: __typename b: __typename ", json!({})).await;
    let text = app.client.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("LLLL") && !text.contains("RefusedByBudget"));
    // Operation names are bounded: a flood of new names counts as `_other`.
    for i in 0..300 {
        app.gql(None, &format!("query Flood{i} {{ __typename }}"), json!({})).await;
    }
    let text = app.client.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    let names = text.lines().filter(|l| l.starts_with("graphql_requests_total{")).count();
    assert!(names <= api::observe::MAX_OPERATION_NAMES + 20, "{names} label sets");
    assert!(text.contains(r#"operation="_other""#));
}

/// The binary with `--log-format json` and a 0 ms slow-request threshold:
/// each request's line is JSON with its id, operation, status and duration.
#[tokio::test]
async fn json_logs_carry_the_request_id_operation_status_and_duration() {
    let app = spawn_app().await;
    let db_url = app.database_url().expect("a database of the test's own");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_followgraph"))
        .args(["serve", "--log-format", "json", "--slow-request-ms", "0"])
        .env("DATABASE_URL", &db_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while app.client.get(format!("{url}/livez")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = app
        .client
        .post(format!("{url}/graphql"))
        .header("x-request-id", "req-42")
        .json(&json!({ "query": "query LoggedOne { __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut found = None;
    while found.is_none() && started.elapsed() < Duration::from_secs(20) {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) else { break };
        let Ok(entry) = serde_json::from_str::<Value>(&line) else { panic!("not JSON: {line}") };
        if entry["span"]["id"] == "req-42" {
            found = Some(entry);
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let entry = found.expect("a log line for the request");
    assert_eq!(entry["level"], "WARN", "over a 0 ms threshold: {entry}");
    assert_eq!(entry["fields"]["message"], "slow request", "{entry}");
    assert_eq!(entry["fields"]["status"], 200, "{entry}");
    assert!(entry["fields"]["ms"].as_f64().is_some(), "{entry}");
    assert_eq!(entry["span"]["operation"], "LoggedOne", "{entry}");
    assert_eq!(entry["span"]["method"], "POST", "{entry}");
}
