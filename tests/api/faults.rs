//! The database goes away under load and comes back: requests fail fast
//! with SERVICE_UNAVAILABLE (503, Retry-After) meanwhile, the server
//! recovers by itself within a second of the database's return, and no
//! write it acknowledged is lost.
//!
//! Runs against a PostgreSQL cluster of its own (initdb in a temporary
//! directory, on a free port), never the shared one, with PostgreSQL 15's
//! binaries from /usr/lib/postgresql/15/bin. On SQLite there is no server
//! to lose; the test runs with `TEST_DATABASE=postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{on_postgres, spawn_on, TestDatabase};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A throwaway cluster, stopped and removed when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("fg-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Cluster { dir, port };
        // PostgreSQL refuses to run as root: as its own user, then.
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&cluster.dir));
        }
        run(cluster
            .pg("initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
            .arg(cluster.data()));
        cluster.ctl(&["start"]);
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg(&self, tool: &str) -> Command {
        let path = Path::new(BIN).join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// `pg_ctl` on this cluster: `start` (waits until it accepts
    /// connections) or `stop -m immediate` (a crash, as far as the data
    /// knows: recovery replays the WAL on the next start).
    fn ctl(&self, args: &[&str]) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let mut c = self.pg("pg_ctl");
        c.arg("-D").arg(self.data()).arg("-l").arg(self.dir.join("log")).args(["-w", "-o", &options]).args(args);
        run(&mut c);
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl").arg("-D").arg(self.data()).args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn run(command: &mut Command) {
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_database_restart_under_load_loses_no_acknowledged_write() {
    if !on_postgres() {
        eprintln!("skipped: runs with TEST_DATABASE=postgres");
        return;
    }
    let cluster = Cluster::start();
    let admin = store::connect(&cluster.url("postgres"), store::PoolOptions::new(1)).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, "CREATE DATABASE fg").await.unwrap();
    admin.close().await.unwrap();
    let app = spawn_on(cluster.url("fg"), TestDatabase::External, |c| c.db_acquire_timeout_ms = 500).await;
    let (token, _) = app.sign_up("writer").await;

    // Four writers post as fast as they can; each remembers what the
    // server acknowledged, and every code it got otherwise.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let codes = Arc::new(Mutex::new(Vec::<(u16, String)>::new()));
    let stop_at = Instant::now() + Duration::from_secs(6);
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, url, token) = (app.client.clone(), format!("{}/graphql", app.url), token.clone());
        let (acked, codes) = (acked.clone(), codes.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < stop_at {
                n += 1;
                let body = format!("post {w}-{n}");
                let q = json!({ "query": "mutation($b: String!) { createPost(input: { body: $b }) { id } }", "variables": { "b": body } });
                let Ok(res) = client.post(&url).bearer_auth(&token).json(&q).send().await else { continue };
                let status = res.status().as_u16();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                if status == 200 && answer["data"]["createPost"]["id"].is_string() {
                    acked.lock().unwrap().push(body);
                } else {
                    let code = answer["errors"][0]["extensions"]["code"].as_str().unwrap_or("?").to_owned();
                    codes.lock().unwrap().push((status, code));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_crash = acked.lock().unwrap().len();
    cluster.ctl(&["-m", "immediate", "stop"]);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Down: a request fails fast, with 503 and Retry-After.
    let started = Instant::now();
    let (status, headers, body) = app.post_raw(Some(&token), &json!({ "query": "{ viewer { postsCount } }" })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(headers["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_secs(2), "failed in {:?}", started.elapsed());
    // The probes: alive, not ready.
    let probe = |path: &str| app.client.get(format!("{}{path}", app.url)).send();
    assert_eq!(probe("/livez").await.unwrap().status(), 200);
    assert_eq!(probe("/readyz").await.unwrap().status(), 503);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Back: the server recovers by itself within a second.
    cluster.ctl(&["start"]);
    let back = Instant::now();
    loop {
        let body = app.gql(Some(&token), "{ viewer { postsCount } }", json!({})).await;
        if body["data"]["viewer"]["postsCount"].is_number() {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(1), "not recovered after {:?}: {body}", back.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("recovered {:?} after the database was back", back.elapsed());

    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let codes = codes.lock().unwrap().clone();
    eprintln!("{} writes acknowledged ({before_crash} before the crash); refusals: {}", acked.len(), codes.len());
    assert!(acked.len() > before_crash, "writes were acknowledged after the restart too");
    for (status, code) in &codes {
        assert!(matches!(code.as_str(), "SERVICE_UNAVAILABLE" | "TIMEOUT"), "{status} {code}");
    }
    // Every acknowledged write is there.
    let check = store::connect(&cluster.url("fg"), store::PoolOptions::new(1)).await.unwrap();
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        &check,
        sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT body FROM posts"),
    )
    .await
    .unwrap();
    let stored: std::collections::HashSet<String> =
        rows.iter().map(|r| r.try_get::<String>("", "body").unwrap()).collect();
    let lost: Vec<&String> = acked.iter().filter(|b| !stored.contains(*b)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let counted = app.scalar("SELECT posts_count FROM users").await;
    assert_eq!(counted as usize, stored.len(), "the counter moved with every stored post");
    check.close().await.unwrap();
}

/// The pool hands out a connection used in the last second without testing
/// it (a round trip saved before every statement), and tests one idle for
/// longer: when the database has closed every connection of the server's
/// pool while they sat idle, the next request is answered, not failed.
#[tokio::test]
async fn connections_the_database_closed_while_idle_are_replaced() {
    if !on_postgres() {
        eprintln!("skipped: runs with TEST_DATABASE=postgres");
        return;
    }
    let app = crate::helpers::spawn_app().await;
    let (token, _) = app.sign_up("idle").await;
    // Several connections in the pool.
    let reads: Vec<_> = (0..8).map(|_| app.gql(Some(&token), "{ viewer { username } }", json!({}))).collect();
    for body in futures::future::join_all(reads).await {
        assert_eq!(body["data"]["viewer"]["username"], "idle", "{body}");
    }
    let closed = app
        .scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
    assert!(closed > 0, "the server's connections were found");
    tokio::time::sleep(store::PING_IF_IDLE_FOR + Duration::from_millis(500)).await;
    for _ in 0..8 {
        let body = app.gql(Some(&token), "{ viewer { username } }", json!({})).await;
        assert_eq!(body["data"]["viewer"]["username"], "idle", "{body}");
    }
}
