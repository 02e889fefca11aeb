//! The Followgraph server.
//!
//!     cargo run --release                  # SQLite file ./followgraph.db
//!     DATABASE_URL=postgres://postgres@127.0.0.1/followgraph cargo run --release
//!     cargo run -- print-schema > schema.graphql
//!     cargo run -- migrate status          # also: up, down [--steps N], fresh
//!     cargo run -- seed                    # demo people; --size s|m|l: bench data
//!
//! Thin on purpose: parse config, start logging, connect, migrate, serve
//! (or run one maintenance command against the store).

use api::config::{LogFormat, MigrateAction, SeedSize};
use api::{Command, Config};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let mut config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into());
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_current_span(true).with_env_filter(filter).init(),
    }
    fit_connections_to_file_limit(&mut config);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.worker_threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    match config.command.clone().unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            use std::io::Write;
            // A reader that stops early (`print-schema | head`) is not an
            // error; print! would panic on the closed pipe.
            let mut out = std::io::stdout().lock();
            match out.write_all(api::schema::sdl().as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Recount => {
            let db = store::connect_and_migrate(&config.database_url, store::PoolOptions::new(config.pool_size()))
                .await
                .map_err(|e| format!("database {}: {e}", redact(&config.database_url)))?;
            let fixed = store::counters::recount(&db).await?;
            println!("recount: {fixed} users had wrong counters; all counters now match the rows");
            Ok(())
        }
        Command::Migrate { action } => {
            // The migrator's own connection: one, as migrations need.
            let db = store::connect(&config.database_url, store::PoolOptions::new(1))
                .await
                .map_err(|e| format!("database {}: {e}", redact(&config.database_url)))?;
            match action {
                MigrateAction::Up => store::migrate(&db).await?,
                MigrateAction::Down { steps } => store::migrate_down(&db, steps).await?,
                MigrateAction::Fresh => store::migrate_fresh(&db).await?,
                MigrateAction::Status => {}
            }
            for (name, applied) in store::migration_status(&db).await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
            Ok(())
        }
        Command::Seed { size, force } => run_seed(&config, size, force).await,
        Command::Serve => {
            let db = api::connect_and_migrate(&config)
                .await
                .map_err(|e| format!("database {}: {e}", redact(&config.database_url)))?;
            let listener =
                tokio::net::TcpListener::bind(config.bind).await.map_err(|e| format!("bind {}: {e}", config.bind))?;
            tracing::info!("GraphiQL on http://{}/graphql", listener.local_addr()?);
            api::serve(listener, api::app(db, &config), &config).await?;
            Ok(())
        }
    }
}

/// `seed`: migrations first, as `serve` applies them, then the demo
/// network or a benchmark dataset (which replaces all data, so it needs an
/// empty database or `--force`).
async fn run_seed(config: &Config, size: SeedSize, force: bool) -> Result<(), Box<dyn std::error::Error>> {
    let url = &config.database_url;
    let started = std::time::Instant::now();
    // One connection: the migrator's, and all the demo's one transaction needs.
    let db = store::connect_and_migrate(url, store::PoolOptions::new(1))
        .await
        .map_err(|e| format!("database {}: {e}", redact(url)))?;
    let dataset = match size {
        SeedSize::Demo => None,
        SeedSize::S => Some(seed::dataset::Size::S),
        SeedSize::M => Some(seed::dataset::Size::M),
        SeedSize::L => Some(seed::dataset::Size::L),
    };
    let Some(dataset) = dataset else {
        if force {
            store::migrate_fresh(&db).await?;
        }
        match seed::demo::seed(&db).await? {
            seed::demo::Outcome::AlreadySeeded => println!(
                "seed: the demo people are already in this database; nothing seeded (--force drops all data and seeds again)"
            ),
            seed::demo::Outcome::Seeded(s) => println!(
                "seed: {} people, {} follows, {} follow requests and {} posts in {:.1} s",
                s.users,
                s.follows,
                s.requests,
                s.posts,
                started.elapsed().as_secs_f64()
            ),
        }
        println!("{}", seed::demo::guide());
        return Ok(());
    };
    let users = seed::user_count(&db).await?;
    db.close().await?;
    if users > 0 && !force {
        return Err(format!(
            "the database holds {users} users, and `seed --size {}` replaces everything in it: \
             use an empty database, or pass --force to drop all data first",
            dataset.name()
        )
        .into());
    }
    let spec = dataset.spec();
    tracing::info!("generating dataset {}: {} users, {} posts", dataset.name(), spec.users, spec.posts);
    let data = seed::dataset::generate(&spec);
    tracing::info!("loading it into {}", redact(url));
    seed::dataset::load(url, &data).await?;
    println!(
        "seed: dataset {}: {} users, {} follows and {} posts in {:.1} s",
        dataset.name(),
        spec.users,
        data.follows.len(),
        data.posts.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "Users {}, {}, {}, then user4 to user{}; every password is `{}`. Each has a session: user N's \
         bearer token is `bench-token-` and N in 8 digits (`{}` for {}).",
        seed::dataset::username(1),
        seed::dataset::username(2),
        seed::dataset::username(3),
        spec.users,
        seed::dataset::PASSWORD,
        seed::dataset::token(1),
        seed::dataset::username(1)
    );
    Ok(())
}

/// Raises the open-file limit to the hard limit (as Go's runtime does), and
/// lowers `--max-connections` to what it leaves after the database pool
/// and the process's own files, so that accepting never starves the pool.
fn fit_connections_to_file_limit(config: &mut Config) {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let headroom = config.pool_size() as u64 + 64;
    let fits = files.saturating_sub(headroom).max(1) as usize;
    if config.max_connections > fits {
        tracing::warn!(
            files,
            "--max-connections {} lowered to {fits} to fit the open-file limit",
            config.max_connections
        );
        config.max_connections = fits;
    }
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
