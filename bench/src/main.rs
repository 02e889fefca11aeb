//! Followgraph's benchmark suite.
//!
//!     cargo build --release --workspace
//!     target/release/followgraph-bench suite --size m                  # PostgreSQL
//!     target/release/followgraph-bench suite --size m --db sqlite
//!     target/release/followgraph-bench load --size l --database-url postgres://...
//!
//! `suite` creates (or reuses) the dataset's database, loads it when it is
//! missing, starts the release server on it, runs every workload through
//! HTTP and then as raw SQL (the floor), prints EXPLAIN ANALYZE of each
//! workload's main statement, and reports a Markdown table, also written
//! to `target/bench-<size>-<db>.md`. See docs/PERFORMANCE.md.

mod driver;
mod floor;
mod posts;
mod workloads;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use sea_orm::{ConnectionTrait, Statement};
use seed::dataset::{self, Size};
use store::UserId;

use floor::Floor;
use workloads::{Ctx, Workload};

#[derive(Parser)]
#[command(name = "followgraph-bench", about = "Datasets, load driver and raw-SQL floor for Followgraph")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Db {
    Postgres,
    Sqlite,
}

/// Which dataset, and the server to run on it (`suite` and `posts`).
#[derive(Args)]
struct Target {
    #[arg(long, value_enum, default_value = "m")]
    size: Size,
    /// PostgreSQL database to create the bench databases from.
    #[arg(long, env = "BENCH_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// The server binary to start (build it with --release).
    #[arg(long, default_value = "target/release/followgraph")]
    server: String,
    #[arg(long, default_value_t = 18_080)]
    port: u16,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a dataset and load it into DATABASE_URL (dropping what is there).
    Load {
        #[arg(long, value_enum, default_value = "s")]
        size: Size,
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Load if needed, start the server, run the workloads and the floor, report.
    Suite {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum, default_value = "postgres")]
        db: Db,
        /// Seconds each measurement runs (after a warm-up of a fifth of it).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        concurrency: Vec<usize>,
        /// Workloads to run (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        workloads: Vec<Workload>,
        /// Load the dataset again even when it is there.
        #[arg(long)]
        reload: bool,
        /// Skip the raw-SQL floor.
        #[arg(long)]
        no_floor: bool,
        /// Exit non-zero when any request failed (CI's smoke run; speed
        /// never fails anything).
        #[arg(long)]
        fail_on_errors: bool,
    },
    /// createPost and deletePost latency by the author's follower count
    /// (PostgreSQL; gives every account a timeline first).
    Posts {
        #[command(flatten)]
        target: Target,
        /// Posts per author size.
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Cmd::Load { size, database_url } => load(size, &database_url).await,
        Cmd::Posts { target, requests } => posts::run(&target, requests).await,
        Cmd::Suite { target, db, seconds, concurrency, workloads, reload, no_floor, fail_on_errors } => {
            let workloads = if workloads.is_empty() { Workload::ALL.to_vec() } else { workloads };
            match suite(&target, db, seconds, &concurrency, &workloads, reload, !no_floor).await {
                Ok(errors) if errors > 0 && fail_on_errors => Err(format!("{errors} requests failed")),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("followgraph-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn load(size: Size, url: &str) -> Result<(), String> {
    let spec = size.spec();
    let t = Instant::now();
    let data = dataset::generate(&spec);
    let generated = t.elapsed();
    let t = Instant::now();
    if url.starts_with("postgres") {
        dataset::load_postgres(url, &data).await?;
    } else {
        dataset::load_sqlite(url, &data).await?;
    }
    eprintln!(
        "dataset {}: {} users, {} follows, {} posts; generated in {:.1} s, loaded in {:.1} s",
        size.name(),
        spec.users,
        data.follows.len(),
        data.posts.len(),
        generated.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The dataset's database (created, and loaded when it is missing or
/// `reload`): its URL and a small pool on it.
async fn dataset_db(
    size: Size,
    db_kind: Db,
    postgres_url: &str,
    reload: bool,
) -> Result<(String, sea_orm::DatabaseConnection), String> {
    let spec = size.spec();
    let name = format!("fg_bench_{}", size.name());
    let url = match db_kind {
        Db::Postgres => {
            let admin = sea_orm::Database::connect(postgres_url).await.map_err(|e| e.to_string())?;
            let exists = scalar(&admin, &format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'")).await?;
            if exists == 0 {
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.map_err(|e| e.to_string())?;
            }
            format!("{}/{name}", postgres_url.rsplit_once('/').ok_or("bad --postgres-url")?.0)
        }
        Db::Sqlite => format!("sqlite://target/{name}.db?mode=rwc"),
    };
    let db = store::connect(&url, store::PoolOptions::new(2)).await.map_err(|e| e.to_string())?;
    let loaded = async {
        Ok::<bool, String>(
            scalar(&db, "SELECT COUNT(*) FROM users").await? == spec.users as i64
                && scalar(&db, "SELECT COUNT(*) FROM posts").await? == spec.posts as i64,
        )
    }
    .await
    .unwrap_or(false);
    if reload || !loaded {
        load(size, &url).await?;
    } else {
        eprintln!("dataset {} already loaded in {url}", size.name());
    }

    Ok((url, db))
}

/// The feed plan and pool size of the server on `url`: the floor runs the
/// same, set for both here (not left to whatever the environment says).
fn server_settings(url: &str) -> (store::feed::FeedPlan, u32) {
    (store::feed::FeedPlan::default(), store::default_pool_size(url))
}

/// Starts `target`'s server on `url` with [`server_settings`], and waits
/// until it answers.
async fn start_server(target: &Target, url: &str) -> Result<(Server, reqwest::Client, String), String> {
    let (server_bin, port) = (target.server.as_str(), target.port);
    let log =
        std::fs::File::create(format!("target/bench-server-{}.log", target.size.name())).map_err(|e| e.to_string())?;
    let (plan, pool_size) = server_settings(url);
    let child = Command::new(server_bin)
        .env("DATABASE_URL", url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("FEED_BROAD_FOLLOWING", plan.broad_following.to_string())
        .env("FEED_WINDOW", plan.window.to_string())
        .env("FEED_TIMELINES", plan.timelines.to_string())
        .env("FEED_SYNC_FANOUT", store::timeline::DEFAULT_SYNC_LIMIT.to_string())
        .env("FEED_TIMELINE_CAP", store::timeline::DEFAULT_CAP.to_string())
        .env("DB_MAX_CONNECTIONS", pool_size.to_string())
        // The floor trusts a session as long (floor::Sessions::TTL).
        .env("SESSION_CACHE_SECS", floor::Sessions::TTL.as_secs().to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {server_bin}: {e} (build it with `cargo build --release`)"))?;
    let server = Server(child);
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{port}");
    let up = Instant::now();
    while !client.get(format!("{base}/health")).send().await.map(|r| r.status() == 200).unwrap_or(false) {
        if up.elapsed() > Duration::from_secs(60) {
            return Err("the server did not come up in 60 s; see target/bench-server-*.log".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    Ok((server, client, base))
}

/// Kills the server when the suite ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> Result<i64, String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no row")?;
    row.try_get_by_index::<i64>(0).map_err(|e| e.to_string())
}

#[derive(Clone, Copy)]
enum Side {
    Api,
    Floor,
}

/// Runs workload `w` through the API or as its raw statements.
async fn measure(
    ctx: &Arc<Ctx>,
    w: Workload,
    side: Side,
    conc: usize,
    warmup: Duration,
    run_for: Duration,
) -> driver::Stats {
    let c = ctx.clone();
    driver::run(conc, warmup, run_for, move |mut rng| {
        let c = c.clone();
        async move {
            let r = match side {
                Side::Api => c.api(w, &mut rng).await,
                Side::Floor => c.floor(w, &mut rng).await,
            };
            (rng, r)
        }
    })
    .await
}

async fn suite(
    target: &Target,
    db_kind: Db,
    seconds: u64,
    concurrency: &[usize],
    workloads: &[Workload],
    reload: bool,
    with_floor: bool,
) -> Result<u64, String> {
    let size = target.size;
    let spec = size.spec();
    let (url, db) = dataset_db(size, db_kind, &target.postgres_url, reload).await?;
    let (plan, pool_size) = server_settings(&url);
    let (server, client, base) = start_server(target, &url).await?;
    let pid = server.0.id();

    let top_id = scalar(&db, "SELECT id FROM users ORDER BY followers_count DESC, id LIMIT 1").await?;
    let top_followers = scalar(&db, &format!("SELECT followers_count FROM users WHERE id = {top_id}")).await?;
    let max_conc = concurrency.iter().copied().max().unwrap_or(16) as u32;
    let mut ctx = Ctx {
        graphql_url: format!("{base}/graphql"),
        client,
        // As many connections as the server's pool, at most one per client.
        floor: Floor::connect(&url, pool_size.min(max_conc)).await?,
        sessions: Default::default(),
        plan,
        users: spec.users as i64,
        writers: (spec.users - spec.writers + 1) as i64..=spec.users as i64,
        top: (UserId(top_id), dataset::username(top_id)),
        newest: String::new(),
        deep: String::new(),
        poll_etag: String::new(),
    };
    workloads::prime_timelines(&ctx, &db).await?;
    ctx.newest = workloads::newest_cursor(&ctx).await?;
    ctx.poll_etag = ctx.poll_get(None, true).await?;
    let deep_pages = (top_followers as usize / 20).saturating_sub(1).min(49);
    ctx.deep = workloads::deep_cursor(&ctx, deep_pages).await?;
    let ctx = Arc::new(ctx);

    let mut report = String::new();
    let _ = writeln!(
        report,
        "Dataset {} on {}: {} users, {} posts; most-followed account {} ({} followers); W7 reads page {}.\n",
        size.name().to_uppercase(),
        if db_kind == Db::Postgres { "PostgreSQL" } else { "SQLite" },
        spec.users,
        spec.posts,
        ctx.top.1,
        top_followers,
        deep_pages + 1
    );
    let _ = writeln!(report, "| workload | conc | API req/s | p50 ms | p99 ms | errors | floor req/s | floor p50 ms | API/floor | server peak RSS MiB |");
    let _ = writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut errors = 0;
    let run_for = Duration::from_secs(seconds);
    let warmup = Duration::from_millis(seconds * 200);
    for &w in workloads {
        for &conc in concurrency {
            let api = measure(&ctx, w, Side::Api, conc, warmup, run_for).await;
            let rss = driver::peak_rss_kib(pid).map_or(f64::NAN, |k| k as f64 / 1024.0);
            let (floor_rate, floor_p50) = if with_floor {
                let floor = measure(&ctx, w, Side::Floor, conc, warmup, run_for).await;
                if let Some(e) = &floor.first_error {
                    eprintln!("{} floor error: {e}", w.name());
                }
                errors += floor.errors;
                (floor.rate(), floor.ms(0.5))
            } else {
                (f64::NAN, f64::NAN)
            };
            if let Some(e) = &api.first_error {
                eprintln!("{} error: {e}", w.name());
            }
            errors += api.errors;
            let line = format!(
                "| {} | {conc} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.1} |",
                w.name(),
                api.rate(),
                api.ms(0.5),
                api.ms(0.99),
                api.errors,
                floor_rate,
                floor_p50,
                floor_rate / api.rate(),
                rss
            );
            eprintln!("{line}");
            let _ = writeln!(report, "{line}");
        }
    }
    let _ = writeln!(
        report,
        "\nServer peak RSS over the whole run: {:.1} MiB\n",
        driver::peak_rss_kib(pid).unwrap_or(0) as f64 / 1024.0
    );
    if db_kind == Db::Postgres {
        for &w in workloads {
            let stmt = ctx.main_statement(w);
            let plan = ctx.floor.explain(&stmt).await?;
            let _ = writeln!(report, "### {}\n\n```sql\n{}\n```\n\n```\n{plan}\n```\n", w.name(), stmt.sql);
        }
        if workloads.contains(&Workload::W9) {
            let _ = writeln!(report, "## The top account's followers under each filter and order\n");
            for (name, stmt) in ctx.list_statements() {
                let plan = ctx.floor.explain(&stmt).await?;
                let _ = writeln!(report, "### {name}\n\n```sql\n{}\n```\n\n```\n{plan}\n```\n", stmt.sql);
            }
        }
    }
    drop(server);
    let out =
        format!("target/bench-{}-{}.md", size.name(), if db_kind == Db::Postgres { "postgres" } else { "sqlite" });
    std::fs::write(&out, &report).map_err(|e| e.to_string())?;
    println!("{report}");
    eprintln!("written to {out}");
    Ok(errors)
}
