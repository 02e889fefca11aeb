//! The deterministic datasets (fixed seed: the same rows every run) and
//! their loading into the project's own migrated schema.
//!
//! Shape: out-degree log-normal; followed accounts drawn from a Zipf
//! distribution (s = 0.9) so a few accounts gather most followers; post
//! authors Zipf (s = 0.5); timestamps over three years. Fixed users:
//! - id 1 `heavy` follows exactly `heavy_follows` accounts (2,000 at M);
//! - id 2 `follows10` and id 3 `follows200` follow 10 and 200 (feed growth);
//! - id 4 (`user4`, as every other id: ../shared/bench-peers counts on
//!   `user<id>` from 4) follows the 100 most popular accounts (by rank);
//! - the last `writers` users follow nobody (the write workload's pool).
//!
//! Every user's password is `bench-password`, and user N's bearer token is
//! [`token`]`(N)`, so the driver can act as anyone.
//!
//! Loaded by the benchmark (`followgraph-bench load`, `suite`) and by
//! `followgraph seed --size s|m|l`; both drop what the database held.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Zipf};
use sea_orm::sqlx::{self, Connection};
use store::sessions::TokenHash;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    S,
    M,
    L,
}

pub struct Spec {
    pub users: usize,
    pub mean_out_degree: f64,
    pub posts: usize,
    pub heavy_follows: usize,
    pub writers: usize,
}

impl Size {
    pub fn spec(self) -> Spec {
        match self {
            Size::S => Spec { users: 1_000, mean_out_degree: 20.0, posts: 10_000, heavy_follows: 500, writers: 50 },
            Size::M => {
                Spec { users: 20_000, mean_out_degree: 50.0, posts: 400_000, heavy_follows: 2_000, writers: 500 }
            }
            Size::L => {
                Spec { users: 200_000, mean_out_degree: 50.0, posts: 4_000_000, heavy_follows: 2_000, writers: 2_000 }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::S => "s",
            Size::M => "m",
            Size::L => "l",
        }
    }
}

pub const HEAVY: i64 = 1;
pub const FOLLOWS10: i64 = 2;
pub const FOLLOWS200: i64 = 3;
pub const TOP100: i64 = 4;
pub const PASSWORD: &str = "bench-password";

/// The bearer token of user `id`.
pub fn token(id: i64) -> String {
    format!("bench-token-{id:08}")
}

pub fn username(id: i64) -> String {
    match id {
        HEAVY => "heavy".into(),
        FOLLOWS10 => "follows10".into(),
        FOLLOWS200 => "follows200".into(),
        _ => format!("user{id}"),
    }
}

pub struct Dataset {
    pub users: usize,
    /// (follower, followed, created_at)
    pub follows: Vec<(i64, i64, DateTime<Utc>)>,
    /// (id, author, body, created_at), ids in time order
    pub posts: Vec<(i64, i64, String, DateTime<Utc>)>,
    pub user_created: Vec<DateTime<Utc>>,
}

const WORDS: &[&str] = &[
    "graph", "follow", "rust", "coffee", "morning", "release", "bug", "fixed", "today", "launch", "query", "index",
    "sunny", "tired", "reading", "music", "train", "late", "great", "idea", "shipping", "weekend", "database", "cat",
];

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).unwrap()
}

fn random_time(rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    let span = 3 * 365 * 86_400 * 1_000_000i64;
    epoch() + Duration::microseconds(rng.gen_range(0..span))
}

pub fn generate(spec: &Spec) -> Dataset {
    let n = spec.users as i64;
    let mut rng = ChaCha8Rng::seed_from_u64(20261121);
    let writers = (n - spec.writers as i64 + 1)..=n;

    // Popularity ranks map to a shuffled order of users.
    let mut by_rank: Vec<i64> = (1..=n).collect();
    by_rank.shuffle(&mut rng);
    let followed_rank = Zipf::new(spec.users as u64, 0.9).unwrap();
    let sigma: f64 = 1.1;
    let out_degree = LogNormal::new(spec.mean_out_degree.ln() - sigma * sigma / 2.0, sigma).unwrap();
    let max_degree = (spec.users - 1).min(5_000);

    let mut follows = Vec::with_capacity(spec.users * spec.mean_out_degree as usize);
    let mut chosen = HashSet::new();
    for u in 1..=n {
        let degree = match u {
            HEAVY => spec.heavy_follows,
            FOLLOWS10 => 10,
            FOLLOWS200 => 200,
            _ if writers.contains(&u) => 0,
            _ => (out_degree.sample(&mut rng).round() as usize).min(max_degree),
        }
        .min(spec.users - 1);
        chosen.clear();
        let mut tries = 0;
        while chosen.len() < degree {
            tries += 1;
            let v = if tries < 50 * degree + 100 {
                by_rank[followed_rank.sample(&mut rng) as usize - 1]
            } else {
                rng.gen_range(1..=n) // the popular ones are all taken: fill uniformly
            };
            if v != u {
                chosen.insert(v);
            }
        }
        if u == TOP100 {
            // Drawn as any other user's (the random stream stays as it
            // was), then replaced.
            chosen.clear();
            chosen.extend(by_rank.iter().take(100).copied().filter(|&v| v != u));
        }
        let mut targets: Vec<i64> = chosen.iter().copied().collect();
        targets.sort_unstable();
        for v in targets {
            follows.push((u, v, random_time(&mut rng)));
        }
    }

    let mut author_rank: Vec<i64> = (1..=n).collect();
    author_rank.shuffle(&mut rng);
    let author = Zipf::new(spec.users as u64, 0.5).unwrap();
    let mut times: Vec<DateTime<Utc>> = (0..spec.posts).map(|_| random_time(&mut rng)).collect();
    times.sort_unstable();
    let posts = times
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let words: Vec<&str> = (0..rng.gen_range(4..16)).map(|_| WORDS[rng.gen_range(0..WORDS.len())]).collect();
            let by = author_rank[author.sample(&mut rng) as usize - 1];
            (i as i64 + 1, by, format!("post {} {}", i + 1, words.join(" ")), at)
        })
        .collect();

    // Accounts were opened over the year before the first post, in id order.
    let year = 365 * 86_400 * 1_000_000i64;
    let user_created =
        (1..=n).map(|u| epoch() - Duration::microseconds(year) + Duration::microseconds(year * u / (n + 1))).collect();
    Dataset { users: spec.users, follows, posts, user_created }
}

/// (followers, following, posts) of every user, index = id - 1.
fn counters(data: &Dataset) -> Vec<(i64, i64, i64)> {
    let mut c = vec![(0i64, 0i64, 0i64); data.users];
    for (a, b, _) in &data.follows {
        c[*b as usize - 1].0 += 1;
        c[*a as usize - 1].1 += 1;
    }
    for (_, by, _, _) in &data.posts {
        c[*by as usize - 1].2 += 1;
    }
    c
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Drops and re-creates the schema through the real migrations.
async fn fresh_schema(url: &str) -> Result<(), String> {
    use migration::MigratorTrait;
    let db = store::connect(url, store::PoolOptions::new(2)).await.map_err(|e| e.to_string())?;
    migration::Migrator::fresh(&db).await.map_err(|e| e.to_string())?;
    db.close().await.map_err(|e| e.to_string())
}

/// Every bench user's password, hashed as the server hashes, once.
async fn password_hash() -> Result<String, String> {
    tokio::task::spawn_blocking(|| crate::hash_password(PASSWORD)).await.map_err(|e| e.to_string())?
}

/// [`load_postgres`] or [`load_sqlite`], by the URL's scheme.
pub async fn load(url: &str, data: &Dataset) -> Result<(), String> {
    if url.starts_with("postgres") {
        load_postgres(url, data).await
    } else {
        load_sqlite(url, data).await
    }
}

/// PostgreSQL: COPY, the four tables in parallel where they do not depend
/// on each other, then sequences, VACUUM and ANALYZE.
pub async fn load_postgres(url: &str, data: &Dataset) -> Result<(), String> {
    fresh_schema(url).await?;
    let hash = password_hash().await?;
    let counts = counters(data);
    let mut users = String::with_capacity(data.users * 200);
    for id in 1..=data.users as i64 {
        let (fers, fing, posts) = counts[id as usize - 1];
        let name = username(id);
        users.push_str(&format!(
            "{id}\t{name}\t{name}@bench.example\t{}\t{hash}\t{name}\t\t{}\t{fers}\t{fing}\t{posts}\n",
            store::user::email_key(&format!("{name}@bench.example")),
            ts(&data.user_created[id as usize - 1])
        ));
    }
    copy(url, "COPY users (id, username, email, email_key, password_hash, display_name, bio, created_at, followers_count, following_count, posts_count) FROM STDIN", users).await?;

    let sessions: String = (1..=data.users as i64)
        .map(|id| format!("{}\t{id}\t{}\n", TokenHash::of(&token(id)).0, ts(&data.user_created[id as usize - 1])))
        .collect();
    let mut follows = String::with_capacity(data.follows.len() * 48);
    for (a, b, t) in &data.follows {
        follows.push_str(&format!("{a}\t{b}\t{}\n", ts(t)));
    }
    let mut posts = String::with_capacity(data.posts.len() * 100);
    for (id, by, body, t) in &data.posts {
        posts.push_str(&format!("{id}\t{by}\t{body}\t{}\n", ts(t)));
    }
    let (a, b, c) = tokio::join!(
        copy(url, "COPY sessions (token_hash, user_id, created_at) FROM STDIN", sessions),
        copy(url, "COPY follows (follower_id, followed_id, created_at) FROM STDIN", follows),
        copy(url, "COPY posts (id, user_id, body, created_at) FROM STDIN", posts),
    );
    a?;
    b?;
    c?;
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
    for sql in [
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        "SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT MAX(id) FROM posts))",
        "VACUUM ANALYZE",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.map_err(|e| format!("{sql}: {e}"))?;
    }
    Ok(())
}

async fn copy(url: &str, statement: &str, rows: String) -> Result<(), String> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
    let mut sink = conn.copy_in_raw(statement).await.map_err(|e| format!("{statement}: {e}"))?;
    for chunk in rows.as_bytes().chunks(1 << 20) {
        sink.send(chunk).await.map_err(|e| format!("{statement}: {e}"))?;
    }
    sink.finish().await.map_err(|e| format!("{statement}: {e}"))?;
    Ok(())
}

/// SQLite: one transaction of prepared multi-row inserts, then ANALYZE.
pub async fn load_sqlite(url: &str, data: &Dataset) -> Result<(), String> {
    fresh_schema(url).await?;
    let hash = password_hash().await?;
    let counts = counters(data);
    let mut conn = sqlx::SqliteConnection::connect(url).await.map_err(|e| e.to_string())?;
    let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
    const BATCH: usize = 500;
    let ids: Vec<i64> = (1..=data.users as i64).collect();
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO users (id, username, email, email_key, password_hash, display_name, bio, created_at, followers_count, following_count, posts_count) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &id in chunk {
            let (fers, fing, posts) = counts[id as usize - 1];
            let name = username(id);
            let email = format!("{name}@bench.example");
            let key = store::user::email_key(&email);
            q = q.bind(id).bind(name.clone()).bind(email).bind(key).bind(hash.clone()).bind(name);
            q = q.bind(data.user_created[id as usize - 1]).bind(fers).bind(fing).bind(posts);
        }
        q.execute(&mut *tx).await.map_err(|e| e.to_string())?;
        let sql = format!(
            "INSERT INTO sessions (token_hash, user_id, created_at) VALUES {}",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &id in chunk {
            q = q.bind(TokenHash::of(&token(id)).0).bind(id).bind(data.user_created[id as usize - 1]);
        }
        q.execute(&mut *tx).await.map_err(|e| e.to_string())?;
    }
    for chunk in data.follows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO follows (follower_id, followed_id, created_at) VALUES {}",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (a, b, t) in chunk {
            q = q.bind(*a).bind(*b).bind(*t);
        }
        q.execute(&mut *tx).await.map_err(|e| e.to_string())?;
    }
    for chunk in data.posts.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO posts (id, user_id, body, created_at) VALUES {}",
            vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, by, body, t) in chunk {
            q = q.bind(*id).bind(*by).bind(body.as_str()).bind(*t);
        }
        q.execute(&mut *tx).await.map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.map_err(|e| e.to_string())?;
    Ok(())
}
