//! `followgraph-bench posts`: what a post costs its author, by how many
//! followers they have. Every account is given a timeline first (empty,
//! complete from now on: a valid state, the one the trimmer leaves), so a
//! post is copied to every follower, as on a server where everyone reads
//! their feed. For each author size, `requests` createPost one after
//! another, then the time until the background has copied the queued
//! ones, then as many deletePost. The timelines it made go at the end.

use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::{dataset_db, scalar, start_server, workloads, Db, Target};

const CREATE: &str = "mutation($b: String!) { createPost(input: { body: $b }) { id } }";
const DELETE: &str = "mutation($id: ID!) { deletePost(id: $id) }";

pub async fn run(target: &Target, requests: usize) -> Result<(), String> {
    let size = target.size;
    let (url, db) = dataset_db(size, Db::Postgres, &target.postgres_url, false).await?;
    db.execute_unprepared(
        "INSERT INTO timelines (viewer_id, ready, floor_at, read_at) SELECT id, TRUE, now(), now() FROM users ON CONFLICT DO NOTHING",
    )
    .await
    .map_err(|e| e.to_string())?;
    let (server, client, base) = start_server(target, &url).await?;
    let graphql = format!("{base}/graphql");
    let top = scalar(&db, "SELECT MAX(followers_count) FROM users").await?;
    let mut report = String::from(
        "| author's followers | createPost p50 ms | p99 ms | copied in the request | queue drained after | deletePost p50 ms | p99 ms |\n|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for target in [10i64, 1_000, 14_000, 129_000] {
        if target > top * 11 / 10 {
            continue;
        }
        let author =
            scalar(&db, &format!("SELECT id FROM users ORDER BY abs(followers_count - {target}), id LIMIT 1")).await?;
        let followers = scalar(&db, &format!("SELECT followers_count FROM users WHERE id = {author}")).await?;
        let call = |query: &'static str, vars: Value| {
            let (client, graphql) = (&client, &graphql);
            async move {
                let t = Instant::now();
                let data = workloads::graphql(client, graphql, Some(author), query, vars).await?;
                Ok::<(Value, Duration), String>((data, t.elapsed()))
            }
        };
        let (mut created, mut ids) = (Vec::new(), Vec::new());
        for i in 0..requests {
            let (body, took) = call(CREATE, json!({ "b": format!("bench post {i}") })).await?;
            ids.push(body["createPost"]["id"].as_str().unwrap_or_default().to_owned());
            created.push(took);
        }
        let t = Instant::now();
        while scalar(&db, "SELECT COUNT(*) FROM timeline_pending").await? > 0 {
            if t.elapsed() > Duration::from_secs(600) {
                return Err("the delivery queue did not drain in 10 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drained = t.elapsed();
        let mut deleted = Vec::new();
        for id in &ids {
            deleted.push(call(DELETE, json!({ "id": id })).await?.1);
        }
        let ms = |v: &mut Vec<Duration>, q: f64| {
            v.sort();
            v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
        };
        let line = format!(
            "| {followers} | {:.2} | {:.2} | {} | {:.0} ms | {:.2} | {:.2} |",
            ms(&mut created, 0.5),
            ms(&mut created, 0.99),
            if followers < store::timeline::DEFAULT_SYNC_LIMIT { "yes" } else { "no (queued)" },
            drained.as_secs_f64() * 1000.0,
            ms(&mut deleted, 0.5),
            ms(&mut deleted, 0.99),
        );
        eprintln!("{line}");
        report.push_str(&line);
        report.push('\n');
    }
    drop(server);
    let entries = scalar(&db, "SELECT COUNT(*) FROM timeline_entries").await?;
    report.push_str(&format!("\n{requests} posts per author, one at a time; timeline rows afterwards: {entries}.\n"));
    // The timelines made here go again (the suite's writers must not pay
    // for them); the W3 viewers' (ids 1-4) stay.
    db.execute_unprepared("DELETE FROM timelines WHERE viewer_id > 4").await.map_err(|e| e.to_string())?;
    let out = format!("target/bench-posts-{}.md", size.name());
    std::fs::write(&out, &report).map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}
