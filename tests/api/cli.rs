//! The command line: `migrate` up, down, status and fresh, and `seed`,
//! against the test's own database (SQLite or PostgreSQL), through the
//! real binary; and every subcommand's `--help`.

use std::process::{Command, Output};

use serde_json::json;

use crate::helpers::{spawn_app, strings, TestApp};

fn migrate(url: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_followgraph"))
        .arg("migrate")
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the binary");
    assert!(out.status.success(), "migrate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn migrate_lists_undoes_and_reapplies() {
    let mut app = spawn_app().await;
    app.shut_down().await;
    let url = app.database_url().expect("a database of the test's own");
    let status = migrate(&url, &["status"]);
    assert!(status.len() >= 5 && status.iter().all(|l| l.starts_with("applied ")), "{status:?}");

    let down = migrate(&url, &["down", "--steps", "2"]);
    let pending: Vec<&String> = down.iter().filter(|l| l.starts_with("pending ")).collect();
    assert_eq!(pending.len(), 2, "{down:?}");
    assert_eq!(down.last(), pending.last().copied(), "the newest are undone first");

    let up = migrate(&url, &["up"]);
    assert!(up.iter().all(|l| l.starts_with("applied ")), "{up:?}");
    let fresh = migrate(&url, &["fresh"]);
    assert_eq!(fresh, up);
    let help = Command::new(env!("CARGO_BIN_EXE_followgraph")).args(["migrate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[env: DATABASE_URL=]"), "{help}");
}

/// Runs the binary with `args` against `url`; returns whether it
/// succeeded and what it wrote (stdout, then stderr: the log's writer may
/// be either).
fn followgraph(url: &str, args: &[&str]) -> (bool, String) {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_followgraph"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the binary");
    (status.success(), format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr)))
}

async fn sign_in(app: &TestApp, login: &str) -> String {
    let data = app
        .ok(
            None,
            "mutation($i: SignInInput!) { signIn(input: $i) { token } }",
            json!({ "i": { "login": login, "password": seed::demo::PASSWORD } }),
        )
        .await;
    data["signIn"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn seed_makes_a_demo_network_with_exact_counters_once() {
    let app = spawn_app().await;
    let url = app.database_url().expect("a database of the test's own");
    let (ok, out) = followgraph(&url, &["seed"]);
    assert!(ok, "{out}");
    assert!(out.contains(seed::demo::PASSWORD) && out.contains("alice"), "{out}");
    let people = seed::demo::usernames().len() as i64;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, people);
    let (ok, out) = followgraph(&url, &["recount"]);
    assert!(ok && out.contains("recount: 0 users had wrong counters"), "{out}");
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);

    // Alice's home feed, newest first: hers and her followees' posts, not
    // those of dave, whom she follows with his posts hidden.
    let alice = sign_in(&app, "alice").await;
    let data = app
        .ok(
            Some(&alice),
            "{ viewer { followingCount following(first: 100) { totalCount nodes { username } } }
               feed(first: 100) { nodes { createdAt author { username } } }
               dave: user(username: \"dave\") { postsCount viewerRelationship { following hiddenFromFeed } }
               heidi: user(username: \"heidi\") { followPolicy viewerRelationship { following requested } } }",
            json!({}),
        )
        .await;
    let following = strings(&data["viewer"]["following"]["nodes"], "/username");
    assert_eq!(data["viewer"]["followingCount"], data["viewer"]["following"]["totalCount"]);
    assert!(following.len() >= 3 && following.contains(&"dave".to_owned()), "{following:?}");
    let feed = &data["feed"]["nodes"];
    let authors = strings(feed, "/author/username");
    assert!(authors.len() >= 10, "{authors:?}");
    assert!(authors.iter().all(|a| a == "alice" || (following.contains(a) && a != "dave")), "{authors:?}");
    assert!(following.iter().filter(|f| *f != "dave").all(|f| authors.contains(f)), "{authors:?}");
    let times = strings(feed, "/createdAt");
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first, no two at once: {times:?}");
    assert_eq!(data["dave"]["viewerRelationship"], json!({ "following": true, "hiddenFromFeed": true }));
    assert!(data["dave"]["postsCount"].as_i64().unwrap() > 0);
    assert_eq!(data["heidi"]["followPolicy"], "APPROVAL");
    assert_eq!(data["heidi"]["viewerRelationship"], json!({ "following": false, "requested": true }));
    let heidi = sign_in(&app, "heidi@demo.example").await;
    let data = app.ok(Some(&heidi), "{ followRequests { nodes { user { username } } } }", json!({})).await;
    assert!(strings(&data["followRequests"]["nodes"], "/user/username").contains(&"alice".to_owned()), "{data}");

    // Again: nothing written, and it says so.
    let (ok, out) = followgraph(&url, &["seed"]);
    assert!(ok && out.contains("already"), "{out}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, people);
    let (ok, out) = followgraph(&url, &["recount"]);
    assert!(ok && out.contains("recount: 0 users"), "{out}");
    // A benchmark dataset would replace it all: refused without --force.
    let (ok, out) = followgraph(&url, &["seed", "--size", "s"]);
    assert!(!ok && out.contains("--force"), "{out}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, people);
}

#[tokio::test]
async fn seed_refuses_taken_demo_names_unless_forced() {
    let mut app = spawn_app().await;
    app.sign_up("Carol").await;
    app.shut_down().await;
    let url = app.database_url().expect("a database of the test's own");
    let (ok, out) = followgraph(&url, &["seed"]);
    assert!(!ok && out.contains("Carol") && out.contains("--force"), "{out}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1, "nothing written");

    let (ok, out) = followgraph(&url, &["seed", "--force"]);
    assert!(ok, "{out}");
    let people = seed::demo::usernames().len() as i64;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, people);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users WHERE email = 'carol@example.com'").await, 0);
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);
}

/// The demo accounts share a published password: never beside real people.
#[tokio::test]
async fn seed_refuses_a_database_with_other_people() {
    let mut app = spawn_app().await;
    app.sign_up("someone_real").await;
    app.shut_down().await;
    let url = app.database_url().expect("a database of the test's own");
    let (ok, out) = followgraph(&url, &["seed"]);
    assert!(!ok && out.contains("published password") && out.contains("--force"), "{out}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1, "nothing written");
}

#[tokio::test]
async fn seed_size_s_loads_the_benchmark_dataset() {
    let mut app = spawn_app().await;
    app.shut_down().await;
    let url = app.database_url().expect("a database of the test's own");
    let (ok, out) = followgraph(&url, &["seed", "--size", "s"]);
    assert!(ok, "{out}");
    let spec = seed::dataset::Size::S.spec();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, spec.users as i64);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM posts").await, spec.posts as i64);
    assert_eq!(store::counters::count_wrong(&app.db).await.unwrap(), 0);
    let (ok, out) = followgraph(&url, &["seed", "--size", "s"]);
    assert!(!ok && out.contains("--force"), "{out}");
}

/// Every subcommand's `--help` lists the environment variables that set
/// its flags (all of them global: the same list as `followgraph --help`).
#[test]
fn every_subcommand_help_lists_its_environment_variables() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_followgraph")).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let env_vars = |text: &str| -> Vec<String> {
        text.split("[env: ").skip(1).filter_map(|s| s.split_once('=')).map(|(name, _)| name.to_owned()).collect()
    };
    let top = env_vars(&help(&[]));
    assert!(top.contains(&"DATABASE_URL".to_owned()) && top.contains(&"RUST_LOG".to_owned()), "{top:?}");
    for sub in [&["serve"][..], &["print-schema"], &["recount"], &["migrate"], &["migrate", "down"], &["seed"]] {
        assert_eq!(env_vars(&help(sub)), top, "{sub:?}");
    }
    let seed = help(&["seed"]);
    for word in ["--size", "demo", "--force", "already"] {
        assert!(seed.contains(word), "{word}: {seed}");
    }
}

/// `print-schema | head -n 1`: the reader has gone before the schema is
/// written (the pipe's read end is closed before the binary starts, so the
/// write fails every time); the binary exits 0, without a panic.
#[test]
fn print_schema_into_a_closed_pipe_exits_cleanly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_followgraph"))
        .arg("print-schema")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
