//! Connections have deadlines: a client cannot hold a connection, a slot
//! or a shutdown for good. Raw TCP, so the tests can misbehave.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, TestApp};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (or `within` passes);
/// returns what it sent and how long that took.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after {within:?}; got {:?}", String::from_utf8_lossy(&got)),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

#[tokio::test]
async fn half_sent_heads_and_idle_connections_are_closed() {
    let app = spawn_app_with(|c| c.header_timeout_secs = 1).await;
    let mut half = connect(&app).await;
    half.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: app").await.unwrap();
    let (_, took) = read_until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");

    let mut idle = connect(&app).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (answer, took) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(3), "an idle kept-alive connection closed after {took:?}");
    app.assert_alive().await;
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let app = spawn_app_with(|_| {}).await;
    let mut stream = connect(&app).await;
    let big = "x".repeat(20 * 1024);
    stream.write_all(format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    app.assert_alive().await;
}

#[tokio::test]
async fn a_body_not_sent_in_time_gets_408() {
    let app = spawn_app_with(|c| c.body_timeout_secs = 1).await;
    let mut stream = connect(&app).await;
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}{{\"query\":").as_bytes()).await.unwrap();
    let (answer, took) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// With every slot held by a stalled client, a real request waits in the
/// listen queue until the header timeout frees one, then is served.
#[tokio::test]
async fn connections_are_capped_and_stalled_ones_free_their_slots() {
    let app = spawn_app_with(|c| {
        c.max_connections = 4;
        c.header_timeout_secs = 1;
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        stalled.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), app.client.get(format!("{}/health", app.url)).send())
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(res.status(), 200);
    let waited = started.elapsed();
    assert!(waited > Duration::from_millis(500), "it waited for a slot: {waited:?}");
    app.assert_alive().await;
}

/// A shutdown ends within its deadline even while a client holds a request
/// open (here: a body that never finishes).
#[tokio::test]
async fn shutdown_ends_within_its_deadline_whatever_the_clients_do() {
    let mut app = spawn_app_with(|c| {
        c.shutdown_timeout_secs = 1;
        c.body_timeout_secs = 60;
    })
    .await;
    let mut stream = connect(&app).await;
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = app.shut_down().await;
    assert!(took < Duration::from_millis(2500), "shut down in {took:?}");
}

/// One client address cannot hold more than its share of connections: past
/// it a new connection is closed at once, and a client from another address
/// is served at once.
#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(|c| {
        c.max_connections_per_address = 3;
        c.header_timeout_secs = 30;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&app).await;
        s.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    let mut fourth = connect(&app).await;
    let (_, took) = read_until_closed(&mut fourth, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "closed at once: {took:?}");
    let elsewhere =
        reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let started = Instant::now();
    let res = elsewhere.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.assert_alive().await;
}
