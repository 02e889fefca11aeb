//! The command line: `migrate` up, down, status and fresh against the
//! test's own database (SQLite or PostgreSQL), through the real binary.

use std::process::Command;

use crate::helpers::spawn_app;

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
