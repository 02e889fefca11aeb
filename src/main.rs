//! The Followgraph server.
//!
//!     cargo run --release                  # SQLite file ./followgraph.db
//!     DATABASE_URL=postgres://postgres@127.0.0.1/followgraph cargo run --release
//!     cargo run -- print-schema > schema.graphql
//!
//! Thin on purpose: parse config, start logging, connect, migrate, serve.

use api::{Command, Config};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()))
        .init();
    match run(config).await {
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
            print!("{}", api::schema::sdl());
            Ok(())
        }
        Command::Recount => {
            let db = api::connect_and_migrate(&config).await.map_err(|e| format!("database {}: {e}", redact(&config.database_url)))?;
            let fixed = api::db::counters::recount(&db).await.map_err(|e| format!("{e:?}"))?;
            println!("recount: {fixed} users had wrong counters; all counters now match the rows");
            Ok(())
        }
        Command::Serve => {
            let db = api::connect_and_migrate(&config).await.map_err(|e| format!("database {}: {e}", redact(&config.database_url)))?;
            let listener = tokio::net::TcpListener::bind(config.bind).await.map_err(|e| format!("bind {}: {e}", config.bind))?;
            tracing::info!("GraphiQL on http://{}/graphql", listener.local_addr()?);
            api::serve(listener, api::app(db, &config)).await?;
            Ok(())
        }
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
